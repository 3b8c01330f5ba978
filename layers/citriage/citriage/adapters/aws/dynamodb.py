"""DynamoDB: one store per table (or per kind of item in a shared table).

Clients are created by the caller (boto3 honours AWS_ENDPOINT_URL, so the embedded local
endpoint needs no special code here).
"""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from citriage import keys
from citriage.errors import CitriageError
from citriage.models import RunReport, Subscription, SweepCursor
from citriage.notify.history import MAX_RECORD_BYTES, RunRecord, sort_stamp
from citriage.notify.ses_events import Suppression

# DynamoDB items are capped at 400 KB; reports are stored gzipped and kept well under.
MAX_REPORT_BYTES = 300_000


def _scan(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a table scan, following pagination."""
    while True:
        page = table.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _query_all(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a query (of a key or an index), following pagination."""
    while True:
        page = table.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _is_conditional_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DedupeStore:
    """Claims on keys, so a redelivered webhook, message or mail is acted on once.

    A plain claim is final. A claim with a lease is `pending` until `complete(key)`: if the
    worker dies between claiming and completing (a Lambda timeout mid-send), the claim can
    be taken again once its lease has run out, so the retry does the work instead of
    skipping it.
    """

    def __init__(self, table: Any, ttl_days: int = 30, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._ttl = ttl_days * 86400
        self._clock = clock

    def claim(self, key: str, lease_seconds: int | None = None) -> bool:
        """True when this call took the key; False when someone holds it (or finished)."""
        now = int(self._clock())
        item: dict[str, Any] = {"key": key, "expires_at": now + self._ttl}
        names = {"#k": "key"}
        values: dict[str, Any] = {}
        condition = "attribute_not_exists(#k)"
        if lease_seconds is not None:
            item |= {"state": "pending", "lease_until": now + lease_seconds}
            condition += " OR (#s = :pending AND #l < :now)"
            names |= {"#s": "state", "#l": "lease_until"}
            values = {":pending": "pending", ":now": now}
        request: dict[str, Any] = {
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._table.put_item(**request)
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def is_pending(self, key: str) -> bool:
        """True while a leased claim on the key is taken and not completed."""
        item = self._table.get_item(Key={"key": key}, ConsistentRead=True).get("Item")
        return bool(item and item.get("state") == "pending")

    def complete(self, key: str) -> None:
        """Mark a leased claim done: it will never be taken again."""
        self._table.update_item(
            Key={"key": key},
            UpdateExpression="SET #s = :done REMOVE #l",
            ExpressionAttributeNames={"#s": "state", "#l": "lease_until"},
            ExpressionAttributeValues={":done": "done"},
        )

    def release(self, key: str) -> None:
        """Give a claim back (the work it guarded failed and must be retried)."""
        self._table.delete_item(Key={"key": key})

    def end_pending_leases(self) -> int:
        """End every pending lease now, so a retry takes its claim at once; returns how many. Only
        for local mode's restart, when the one process that held them is gone (a Scan)."""
        ended = 0
        request: dict[str, Any] = {
            "FilterExpression": "#s = :pending",
            "ProjectionExpression": "#k",
            "ExpressionAttributeNames": {"#s": "state", "#k": "key"},
            "ExpressionAttributeValues": {":pending": "pending"},
        }
        while True:
            page = self._table.scan(**request)
            for item in page.get("Items", []):
                self._table.update_item(
                    Key={"key": item["key"]},
                    UpdateExpression="SET #l = :zero",
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "state", "#l": "lease_until"},
                    ExpressionAttributeValues={":pending": "pending", ":zero": 0},
                )
                ended += 1
            if "LastEvaluatedKey" not in page:
                return ended
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class RunStore:
    """Analysed runs: one item per run holding its report, indexed by job and time.

    Items expire (DynamoDB TTL on `expires_at`) `retention_days` after they are written.
    """

    def __init__(self, table: Any, retention_days: int = 400) -> None:
        self._table = table
        self._retention = retention_days * 86400

    def put_report(self, report: RunReport) -> None:
        """Store (or overwrite) a run's report."""
        payload = gzip.compress(report.model_dump_json().encode("utf-8"), mtime=0)
        level = 0
        while len(payload) > MAX_REPORT_BYTES:
            # A DynamoDB item stops at 400 KB: a report that would not fit is shortened, with a note,
            # rather than failing every attempt to store it.
            level += 1
            payload = gzip.compress(report.shortened(level).model_dump_json().encode("utf-8"), mtime=0)
            if level >= 4 and len(payload) > MAX_REPORT_BYTES:
                raise CitriageError(
                    f"the report of {report.run_id} does not fit the run store even shortened"
                )
        when = (report.run.end_time or report.analyzed_at).isoformat()
        self._table.put_item(
            Item={
                "pk": f"RUN#{report.run_id}",
                "sk": "REPORT",
                "gsi1pk": f"JOB#{report.run.source}#{report.run.job}",
                "gsi1sk": f"{when}#{report.run_id}",
                "verdict": report.verdict.value,
                "report_gz": base64.b64encode(payload).decode("ascii"),
                "expires_at": int(time.time()) + self._retention,
            }
        )

    def get_report(self, run_id: str) -> RunReport | None:
        """A stored report, or None."""
        item = self._table.get_item(Key={"pk": f"RUN#{run_id}", "sk": "REPORT"}).get("Item")
        if item is None:
            return None
        return _decode_report(item)

    def scan_reports(self) -> Iterator[RunReport]:
        """Every stored report (a full table scan: for replaying signatures, not for serving)."""
        for item in _scan(self._table):
            if item.get("sk") == "REPORT" and "report_gz" in item:
                yield _decode_report(item)


def _decode_report(item: dict[str, Any]) -> RunReport:
    data = gzip.decompress(base64.b64decode(item["report_gz"]))
    return RunReport.model_validate_json(data)


class SubscriptionStore:
    """Subscriptions, one item per address."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def list(self) -> list[Subscription]:
        """Every subscription."""
        return [Subscription.model_validate(_from_dynamo(item)) for item in _scan(self._table)]

    def get(self, email: str) -> Subscription | None:
        """One address's subscription, or None."""
        item = self._table.get_item(Key={"email": email}).get("Item")
        return Subscription.model_validate(_from_dynamo(item)) if item else None

    def put(self, subscription: Subscription) -> None:
        """Store (or replace) one address's subscription."""
        self._table.put_item(Item=_to_dynamo(subscription.model_dump(mode="json")))

    def delete(self, email: str) -> None:
        """Remove an address."""
        self._table.delete_item(Key={"email": email})


def _to_dynamo(data: dict[str, Any]) -> dict[str, Any]:
    # DynamoDB refuses empty lists in some SDK paths and empty strings in keys: drop empties.
    return {k: v for k, v in data.items() if v not in ([], "", None)}


def _from_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (int(v) if isinstance(v, Decimal) else v) for k, v in item.items()}


class CursorStore:
    """Where each periodic job's sweep got to: one item per job in the dedupe table, with no TTL."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, job_key: str) -> SweepCursor:
        """The job's cursor (empty when the job was never swept)."""
        item = self._table.get_item(Key={"key": keys.cursor(job_key)}, ConsistentRead=True).get("Item")
        return (
            SweepCursor.model_validate(_from_dynamo(dict(item.get("cursor", {})))) if item else SweepCursor()
        )

    def put(self, job_key: str, cursor: SweepCursor) -> None:
        """Save the job's cursor (replacing the previous one)."""
        self._table.put_item(
            Item={"key": keys.cursor(job_key), "cursor": cursor.model_dump(mode="json", exclude_none=True)}
        )


class HistoryStore:
    """Run records as items of the runs table: per job (`HIST#`) and per day (`DAY#`), with TTL."""

    def __init__(self, table: Any, ttl_days: int = 90) -> None:
        self._table = table
        self._ttl = ttl_days * 86400

    def record(self, report: RunReport) -> RunRecord:
        """Store a report's record (overwriting it on a redelivery) and return it."""
        record = RunRecord.from_report(report)
        body = record.model_dump_json()
        # DynamoDB items stop at 400 KB: a run failing thousands of long test ids keeps fewer.
        while len(body.encode("utf-8")) > MAX_RECORD_BYTES and record.failed:
            kept = dict(list(record.failed.items())[: len(record.failed) // 2])
            record = record.model_copy(update={"failed": kept, "failed_truncated": True})
            body = record.model_dump_json()
        expires = int(time.time()) + self._ttl
        with self._table.batch_writer() as batch:
            for pk in (_job_key(record.source, record.job), _day_key(record.when)):
                batch.put_item(Item={"pk": pk, "sk": record.sort_key, "record": body, "expires_at": expires})
        return record

    def recent(self, source: str, job: str, up_to: RunRecord | None, limit: int) -> list[RunRecord]:
        """A job's records, newest first, ending at `up_to` (inclusive) when given."""
        pk = Key("pk").eq(_job_key(source, job))
        condition = pk & Key("sk").lte(up_to.sort_key) if up_to is not None else pk
        response = self._table.query(KeyConditionExpression=condition, ScanIndexForward=False, Limit=limit)
        return [RunRecord.model_validate_json(item["record"]) for item in response.get("Items", [])]

    def between(self, start: datetime, end: datetime) -> Iterator[RunRecord]:
        """Every job's records that ended in [start, end), day by day."""
        day = start.astimezone(UTC).date()
        while day <= end.astimezone(UTC).date():
            condition = Key("pk").eq(f"DAY#{day.isoformat()}") & Key("sk").between(
                sort_stamp(start), sort_stamp(end)
            )
            for item in _query_all(self._table, KeyConditionExpression=condition):
                record = RunRecord.model_validate_json(item["record"])
                if start <= record.when < end:
                    yield record
            day += timedelta(days=1)


def _job_key(source: str, job: str) -> str:
    return f"HIST#{source}#{job}"


def _day_key(when: datetime) -> str:
    return f"DAY#{when.astimezone(UTC).date().isoformat()}"


class SuppressionStore:
    """Suppressed addresses, one item per (lower-cased) address."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def add(self, suppression: Suppression) -> None:
        """Suppress an address (a later event for it overwrites the earlier one)."""
        item = suppression.model_dump(mode="json", exclude_none=True)
        item["email"] = suppression.email.lower()
        self._table.put_item(Item=item)

    def get(self, email: str) -> Suppression | None:
        """Why an address is suppressed, or None when it is not."""
        item = self._table.get_item(Key={"email": email.lower()}).get("Item")
        return Suppression.model_validate(item) if item else None

    def is_suppressed(self, email: str) -> bool:
        """True when the address must get no more mail."""
        return self.get(email) is not None

    def remove(self, email: str) -> None:
        """Lift a suppression (after the address was fixed)."""
        self._table.delete_item(Key={"email": email.lower()})
