"""DynamoDB: buildsets while their runs are analysed, in the buildsets table (docs/feedback.md).

| pk          | sk                       | what                                                   |
|-------------|--------------------------|--------------------------------------------------------|
| `BS#<id>`   | `HEAD`                   | the buildset: its change, expected runs, deadline, and |
|             |                          | its event once one was claimed                         |
| `BS#<id>`   | `RUN#<run id>`           | one analysed run (a reanalysis overwrites it)          |
| `OPEN`      | `<deadline>#<id>`        | a buildset not yet settled, found by the round         |

A buildset's event is claimed with a conditional write, so of two workers (the last run's and
the deadline round) one publishes, once.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from citriage.adapters.aws.dynamodb import _is_conditional_failure, _query_all
from citriage.models.buildset import Buildset, BuildsetAnalyzed, BuildsetKey, BuildsetMember

# A buildset's items are kept this long (its event is on the bus; the runs stay in the runs table).
BUILDSET_TTL_SECONDS = 30 * 86400
OPEN_PK = "OPEN"


class BuildsetStore:
    """Buildsets in their table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def record(self, key: BuildsetKey, member: BuildsetMember, now: datetime, deadline: datetime) -> Buildset:
        """Add an analysed run to its buildset (made on its first run, with that deadline) and
        return the buildset as it stands, read consistently after the write."""
        expires = int(time.time()) + BUILDSET_TTL_SECONDS
        head = self._table.update_item(
            Key={"pk": _pk(key.id), "sk": "HEAD"},
            UpdateExpression=(
                "SET #k = if_not_exists(#k, :key), started_at = if_not_exists(started_at, :now), "
                "deadline = if_not_exists(deadline, :deadline), expires_at = :expires"
            ),
            ExpressionAttributeNames={"#k": "key"},
            ExpressionAttributeValues={
                ":key": key.model_dump_json(),
                ":now": now.isoformat(),
                ":deadline": deadline.isoformat(),
                ":expires": expires,
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        # Put again by every run (the same item): a worker that died after the head still leaves
        # the buildset where the round finds it.
        if "event" not in head:
            marker = {"pk": OPEN_PK, "sk": f"{head['deadline']}#{key.id}", "id": key.id}
            self._table.put_item(Item=marker | {"expires_at": expires})
        self._table.put_item(
            Item={
                "pk": _pk(key.id),
                "sk": f"RUN#{member.run_id}",
                "member": member.model_dump_json(),
                "expires_at": expires,
            }
        )
        found = self.get(key.id)
        if found is None:  # pragma: no cover - written just above, read consistently
            raise RuntimeError(f"buildset {key.id} vanished after it was written")
        return found

    def get(self, buildset_id: str) -> Buildset | None:
        """A buildset with its analysed runs, or None."""
        condition = Key("pk").eq(_pk(buildset_id))
        items = list(_query_all(self._table, KeyConditionExpression=condition, ConsistentRead=True))
        head = next((item for item in items if item["sk"] == "HEAD"), None)
        if head is None:
            return None
        return Buildset(
            **BuildsetKey.model_validate_json(head["key"]).model_dump(),
            started_at=head["started_at"],
            deadline=head["deadline"],
            members=[BuildsetMember.model_validate_json(i["member"]) for i in items if i["sk"] != "HEAD"],
            published=BuildsetAnalyzed.model_validate_json(head["event"]) if head.get("event") else None,
        )

    def claim(self, event: BuildsetAnalyzed) -> bool:
        """Keep the buildset's event unless one is kept already; False then (another has it)."""
        try:
            self._table.update_item(
                Key={"pk": _pk(event.id), "sk": "HEAD"},
                UpdateExpression="SET event = :event",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(event)",
                ExpressionAttributeValues={":event": event.model_dump_json()},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def unclaim(self, buildset_id: str) -> None:
        """Drop a claimed event that could not be published, so it is tried again."""
        self._table.update_item(Key={"pk": _pk(buildset_id), "sk": "HEAD"}, UpdateExpression="REMOVE event")

    def settle(self, buildset: Buildset) -> None:
        """The buildset's event is on the bus: the round need not look at it again."""
        self._table.delete_item(Key={"pk": OPEN_PK, "sk": f"{buildset.deadline.isoformat()}#{buildset.id}"})

    def overdue(self, now: datetime, limit: int = 100) -> list[Buildset]:
        """Buildsets not settled whose deadline has passed, oldest first."""
        found = []
        for item in _query_all(
            self._table,
            KeyConditionExpression=Key("pk").eq(OPEN_PK) & Key("sk").lte(f"{now.isoformat()}~"),
            ConsistentRead=True,
        ):
            buildset = self.get(str(item["id"]))
            if buildset is None:
                self._table.delete_item(Key={"pk": OPEN_PK, "sk": item["sk"]})
                continue
            found.append(buildset)
            if len(found) >= limit:
                break
        return found


def _pk(buildset_id: str) -> str:
    return f"BS#{buildset_id}"
