"""DynamoDB: the incidents table.

| pk            | sk                    | what                                                 |
|---------------|-----------------------|------------------------------------------------------|
| `INCIDENT`    | `<id>` (time-ordered) | an incident, its counters updated atomically         |
| `OPEN`        | `<key>`               | the id of the key's open incident: one at a time     |
| `HITS#<key>`  | `<end time>#<run id>` | a candidate hit, kept a day                          |
| `RUNS#<id>`   | `<run id>#hit|clean`  | a run counted into an incident (once each)           |

Opening writes the `OPEN` item and the incident in one transaction, conditional on neither
existing, with the markers of its first runs: of ten analyses racing to open one outage, one
wins and the others join its incident.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from citriage.adapters.aws.dynamodb import _is_conditional_failure, _query_all
from citriage.models.incident import (
    MAX_INCIDENT_EVIDENCE,
    MAX_INCIDENT_RUNS,
    Incident,
    IncidentHit,
    IncidentState,
)
from citriage.notify.history import sort_stamp

HIT_TTL_SECONDS = 86400
# A transaction holds at most 100 items: the OPEN item, the incident, and this many run markers.
MAX_FIRST_MARKERS = 98


def _cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


class IncidentStore:
    """Incidents in their table."""

    def __init__(self, table: Any, client: Any) -> None:
        self._table = table
        self._client = client

    # ---- reads

    def get(self, incident_id: str) -> Incident | None:
        """One incident, or None."""
        item = self._table.get_item(Key={"pk": "INCIDENT", "sk": incident_id}, ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _decode(item)

    def open_for(self, key: str) -> Incident | None:
        """The open incident of a key, or None."""
        pointer = self._table.get_item(Key={"pk": "OPEN", "sk": key}, ConsistentRead=True).get("Item")
        return None if pointer is None else self.get(str(pointer["id"]))

    def open_incidents(self) -> list[Incident]:
        """Every open incident (a query of the few OPEN items)."""
        pointers = self._query(Key("pk").eq("OPEN"), consistent=True)
        found = [self.get(str(item["id"])) for item in pointers]
        return [
            incident for incident in found if incident is not None and incident.state is IncidentState.OPEN
        ]

    def between(self, since: datetime, until: datetime) -> list[Incident]:
        """The incidents opened in [since, until), oldest first."""
        items = self._query(
            Key("pk").eq("INCIDENT") & Key("sk").between(f"{since:%Y%m%d-%H%M%S}", f"{until:%Y%m%d-%H%M%S}~")
        )
        return [i for i in map(_decode, items) if since <= i.opened_at < until]

    def _query(self, condition: Any, consistent: bool = False) -> list[dict[str, Any]]:
        return list(_query_all(self._table, KeyConditionExpression=condition, ConsistentRead=consistent))

    # ---- writes

    def record_hit(self, key: str, hit: IncidentHit, since: datetime) -> list[IncidentHit]:
        """Keep a candidate hit of a key; its candidates that ended at or after `since`."""
        self._table.put_item(
            Item={
                "pk": f"HITS#{key}",
                "sk": f"{sort_stamp(hit.when)}#{hit.run_id}",
                "hit": hit.model_dump_json(),
                "expires_at": int(time.time()) + HIT_TTL_SECONDS,
            }
        )
        items = self._query(Key("pk").eq(f"HITS#{key}") & Key("sk").gte(sort_stamp(since)), consistent=True)
        return [IncidentHit.model_validate_json(item["hit"]) for item in items]

    def open(self, incident: Incident, hits: Sequence[IncidentHit]) -> tuple[Incident, bool]:
        """Open `incident` with its first hits, unless its key has an open one; the open
        incident, and whether this call opened it."""
        markers = [
            {"Put": {"TableName": self._table.name, "Item": _marker(incident.id, h.run_id, "hit")}}
            for h in list({h.run_id: h for h in hits}.values())[:MAX_FIRST_MARKERS]
        ]
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {
                                "pk": {"S": "OPEN"},
                                "sk": {"S": incident.key},
                                "id": {"S": incident.id},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": _encode(incident),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    *markers,
                ]
            )
        except ClientError as exc:
            if not _cancelled(exc):
                raise
            winner = self.open_for(incident.key)
            if winner is None:
                raise  # cancelled for another reason than a race: say so
            return winner, False
        return incident, True

    def add_hit(self, incident_id: str, hit: IncidentHit) -> bool:
        """Count a run into an open incident, once; False when it was counted already."""
        if not self._mark(incident_id, hit.run_id, "hit"):
            return False
        names = {"#s": "state"}
        self._table.update_item(
            Key={"pk": "INCIDENT", "sk": incident_id},
            UpdateExpression="ADD run_count :one, ci_seconds_lost :lost, job_set :job SET clean_runs = :zero",
            ExpressionAttributeValues={
                ":one": 1,
                ":lost": Decimal(str(round(hit.duration_seconds or 0.0, 3))),
                ":job": {hit.job},
                ":zero": 0,
            },
        )
        stamp = sort_stamp(hit.when)
        self._try_update(
            incident_id,
            "SET last_hit_at = :when",
            "last_hit_at < :when",
            {":when": stamp},
        )
        self._try_update(
            incident_id,
            "SET runs = list_append(runs, :run)",
            "size(runs) < :max AND #s = :open",
            {":run": [hit.run_id], ":max": MAX_INCIDENT_RUNS, ":open": "open"},
            names,
        )
        if hit.excerpt:
            self._try_update(
                incident_id,
                "SET evidence = list_append(evidence, :excerpt) ADD rule_set :rule",
                "size(evidence) < :max AND NOT contains(evidence, :text)",
                {
                    ":excerpt": [hit.excerpt],
                    ":max": MAX_INCIDENT_EVIDENCE,
                    ":text": hit.excerpt,
                    ":rule": {hit.rule},
                },
            )
        return True

    def add_clean(self, incident_id: str, run_id: str) -> int | None:
        """Count a clean run, once; the incident's clean runs, None when counted already."""
        if not self._mark(incident_id, run_id, "clean"):
            return None
        answer = self._table.update_item(
            Key={"pk": "INCIDENT", "sk": incident_id},
            UpdateExpression="ADD clean_runs :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["clean_runs"])

    def close(self, incident_id: str, at: datetime, by: str) -> Incident | None:
        """Close an open incident (and free its key); the closed one, None when it was not open."""
        try:
            answer = self._table.update_item(
                Key={"pk": "INCIDENT", "sk": incident_id},
                UpdateExpression="SET #s = :closed, closed_at = :at, closed_by = :by",
                ConditionExpression="#s = :open",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":closed": "closed",
                    ":open": "open",
                    ":at": sort_stamp(at),
                    ":by": by,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return None
            raise
        closed = _decode(answer["Attributes"])
        try:
            self._table.delete_item(
                Key={"pk": "OPEN", "sk": closed.key},
                ConditionExpression="id = :id",
                ExpressionAttributeValues={":id": incident_id},
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
        return closed

    def mark_announced(self, incident_id: str, change: IncidentState) -> bool:
        """Note that a change's event went out; False when it had been noted already."""
        try:
            self._table.update_item(
                Key={"pk": "INCIDENT", "sk": incident_id},
                UpdateExpression="SET announced = list_append(if_not_exists(announced, :none), :change)",
                ConditionExpression="NOT contains(announced, :word)",
                ExpressionAttributeValues={":none": [], ":change": [change.value], ":word": change.value},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _mark(self, incident_id: str, run_id: str, kind: str) -> bool:
        try:
            self._table.put_item(
                Item=_plain(_marker(incident_id, run_id, kind)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def _try_update(
        self,
        incident_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> None:
        """An update that only applies while `condition` holds (a bound, a newer time)."""
        request: dict[str, Any] = {
            "Key": {"pk": "INCIDENT", "sk": incident_id},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            self._table.update_item(**request)
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise


def _marker(incident_id: str, run_id: str, kind: str) -> dict[str, Any]:
    return {"pk": {"S": f"RUNS#{incident_id}"}, "sk": {"S": f"{run_id}#{kind}"}}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value["S"] for name, value in item.items()}


def _encode(incident: Incident) -> dict[str, Any]:
    """An incident as a low-level (transaction) item: counters as numbers, jobs and rules as sets."""
    data = incident.model_dump(mode="json")
    # Times in one fixed-width form, so that conditions compare them as text (last_hit_at < :when).
    for name in ("opened_at", "closed_at", "last_hit_at"):
        stamp = getattr(incident, name)
        data[name] = None if stamp is None else sort_stamp(stamp)
    item: dict[str, Any] = {"pk": {"S": "INCIDENT"}, "sk": {"S": incident.id}}
    for name, value in data.items():
        if name in ("jobs", "rules"):
            if value:  # an empty set cannot be stored; ADD makes it on the first value
                item[f"{name[:-1]}_set"] = {"SS": value}
        elif isinstance(value, bool) or value is None:
            item[name] = {"NULL": True} if value is None else {"BOOL": value}
        elif isinstance(value, int | float):
            item[name] = {"N": str(value)}
        elif isinstance(value, list):
            item[name] = {"L": [{"S": str(v)} for v in value]}
        else:
            item[name] = {"S": str(value)}
    return item


def _decode(item: dict[str, Any]) -> Incident:
    data = {k: v for k, v in item.items() if k not in ("pk", "sk", "job_set", "rule_set")}
    data = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in data.items()}
    data["run_count"] = int(data.get("run_count", 0))
    data["clean_runs"] = int(data.get("clean_runs", 0))
    data["jobs"] = sorted(item.get("job_set") or [])
    data["rules"] = sorted(item.get("rule_set") or [])
    return Incident.model_validate(data)
