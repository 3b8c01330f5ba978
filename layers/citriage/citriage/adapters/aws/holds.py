"""DynamoDB: the runs incidents held, in the incidents table (docs/incidents.md).

| pk              | sk         | what                                                   |
|-----------------|------------|--------------------------------------------------------|
| `HELD#<id>`     | `<run id>` | a run incident `<id>` held: its state, its recheck     |

Every change is conditional on the state, so a redelivered event or a second round finds the run
taken or settled and leaves it: each held run is rechecked (or released) once.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from citriage.adapters.aws.dynamodb import _is_conditional_failure, _query_all
from citriage.models.incident import HeldRun, HoldState, Recheck

# A held run is kept this long after it was held (its incident's record stays).
HELD_TTL_SECONDS = 90 * 86400


class HeldRunStore:
    """Held runs in the incidents table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def hold(self, held: HeldRun) -> bool:
        """Keep a held run unless it is kept already; False then (a redelivered event)."""
        try:
            self._table.put_item(
                Item={
                    "pk": f"HELD#{held.incident}",
                    "sk": held.run_id,
                    "state": held.state.value,
                    "lease_until": 0,
                    "held": held.model_dump_json(),
                    "expires_at": int(time.time()) + HELD_TTL_SECONDS,
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def held_of(self, incident_id: str) -> list[HeldRun]:
        """The runs an incident held, by run id."""
        items = _query_all(
            self._table, KeyConditionExpression=Key("pk").eq(f"HELD#{incident_id}"), ConsistentRead=True
        )
        return [HeldRun.model_validate_json(item["held"]) for item in items]

    def claim_hold(self, incident_id: str, run_id: str, now: datetime, lease_seconds: int) -> HeldRun | None:
        """Take a held run for one recheck or release: one that waits, or whose last taker's lease
        ran out (it died mid-way). None when another has it or it is settled."""
        stamp = now.timestamp()
        try:
            answer = self._table.update_item(
                Key={"pk": f"HELD#{incident_id}", "sk": run_id},
                UpdateExpression="SET #s = :taken, lease_until = :until",
                ConditionExpression="#s = :held OR (#s = :taken AND lease_until < :now)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":taken": HoldState.RECHECKING.value,
                    ":held": HoldState.HELD.value,
                    ":now": int(stamp),
                    ":until": int(stamp) + lease_seconds,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return None
            raise
        held = HeldRun.model_validate_json(answer["Attributes"]["held"])
        return held.model_copy(update={"state": HoldState.RECHECKING})

    def settle_hold(
        self,
        held: HeldRun,
        state: HoldState,
        at: datetime,
        *,
        recheck: Recheck | None = None,
        because: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Settle a taken run: rechecked, released, or (with `error`) back to waiting for another
        try. False when it was not taken (another settled it)."""
        update: dict[str, Any] = {"state": state, "attempts": held.attempts + 1}
        if state is HoldState.RECHECKED:
            update["recheck"] = recheck
        if state is HoldState.RELEASED:
            update.update(released_at=at, released_because=because)
        if error is not None:
            update["last_error"] = error
        settled = held.model_copy(update=update)
        try:
            self._table.update_item(
                Key={"pk": f"HELD#{held.incident}", "sk": held.run_id},
                UpdateExpression="SET #s = :state, held = :held, lease_until = :zero",
                ConditionExpression="#s = :taken",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":state": state.value,
                    ":held": settled.model_dump_json(),
                    ":zero": 0,
                    ":taken": HoldState.RECHECKING.value,
                },
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True
