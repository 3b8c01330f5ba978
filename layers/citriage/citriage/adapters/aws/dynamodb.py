"""DynamoDB: one store per table (or per kind of item in a shared table).

Clients are created by the caller (boto3 honours AWS_ENDPOINT_URL, so the embedded local
endpoint needs no special code here).
"""

from __future__ import annotations

import base64
import gzip
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from citriage import keys
from citriage.errors import CitriageError, InvalidSignature
from citriage.known_issues.signatures import check_signature
from citriage.models import KnownIssue, RunReport, SignatureStats, Subscription, SweepCursor
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


# Attributes of a known-issue item that are statistics, not part of the signature.
_STATS_FIELDS = frozenset(SignatureStats.model_fields)


# The known-issues table's own item: a counter every change of the signatures through citriage
# increments, so analyses read the whole table only when it moved.
VERSION_ID = "#version"


class KnownIssueStore:
    """Known-issue signatures, one item per signature id, with their hit statistics, and a
    version item that every put and delete bumps."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def version(self) -> str | None:
        """The signatures' version (None before any change through citriage): one GetItem."""
        item = self._table.get_item(Key={"id": VERSION_ID}).get("Item")
        return None if item is None else str(item.get("version"))

    def _changed(self) -> None:
        self._table.update_item(
            Key={"id": VERSION_ID},
            UpdateExpression="ADD version :one SET changed_at = :now",
            ExpressionAttributeValues={":one": 1, ":now": datetime.now(UTC).isoformat()},
        )

    def list_with_stats(self, problems: list[str] | None = None) -> list[tuple[KnownIssue, SignatureStats]]:
        """Every stored signature with its hit statistics.

        A malformed item (edited by hand outside the CLI) raises InvalidSignature naming it;
        with `problems` given, it is skipped and described there instead.
        """
        issues = []
        for item in _scan(self._table):
            if item.get("id") == VERSION_ID:
                continue
            data = _from_dynamo(item)
            try:
                stats = SignatureStats.model_validate({k: v for k, v in data.items() if k in _STATS_FIELDS})
                issue = KnownIssue.model_validate({k: v for k, v in data.items() if k not in _STATS_FIELDS})
            except ValueError as exc:
                problem = f"stored signature {item.get('id')!r} is malformed and was skipped: {exc}"
                if problems is None:
                    raise InvalidSignature(problem) from exc
                problems.append(problem)
                continue
            issues.append((issue, stats))
        return issues

    def list(self, problems: list[str] | None = None) -> list[KnownIssue]:
        """Every stored signature; a malformed item raises InvalidSignature naming it, or,
        with `problems` given, is skipped and described there."""
        return [issue for issue, _ in self.list_with_stats(problems)]

    def get(self, issue_id: str) -> KnownIssue | None:
        """One signature, or None."""
        item = self._table.get_item(Key={"id": issue_id}).get("Item")
        if item is None:
            return None
        data = _from_dynamo(item)
        return KnownIssue.model_validate({k: v for k, v in data.items() if k not in _STATS_FIELDS})

    def put(self, issue: KnownIssue) -> None:
        """Store a signature after checking it (RE2 pattern, message groups); keeps its statistics."""
        self._put_one(issue)
        self._changed()

    def _put_one(self, issue: KnownIssue) -> None:
        check_signature(issue)
        data = _to_dynamo(issue.model_dump(mode="json", exclude_none=True))
        keys = [k for k in data if k != "id"]
        names = {f"#a{i}": k for i, k in enumerate(keys)}
        values = {f":v{i}": data[k] for i, k in enumerate(keys)}
        update = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(keys)))
        dropped = [k for k in KnownIssue.model_fields if k != "id" and k not in data]
        if dropped:
            names.update({f"#r{i}": k for i, k in enumerate(dropped)})
            update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(dropped)))
        # UpdateItem rather than PutItem: replacing a signature keeps its hit statistics.
        self._table.update_item(
            Key={"id": issue.id},
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def put_many(self, issues: Sequence[KnownIssue]) -> None:
        """Add or replace signatures (each an UpdateItem: it keeps its hit statistics)."""
        for issue in issues:
            self._put_one(issue)
        if issues:
            self._changed()

    def delete(self, issue_id: str) -> None:
        """Remove a signature."""
        self._table.delete_item(Key={"id": issue_id})
        self._changed()

    def record_hits(self, report: RunReport) -> dict[str, int]:
        """Count the failures each known issue explained in one analysed run, atomically
        (UpdateItem ADD/SET); returns the counts. A signature deleted meanwhile is not recreated."""
        counts = Counter(f.known_issue.id for f in report.failures if f.known_issue is not None)
        # The failures a report groups instead of listing were explained too.
        for group in report.unlisted:
            if group.known_issue is not None:
                counts[group.known_issue.id] += group.count
        when = report.analyzed_at.isoformat()
        for issue_id, hits in sorted(counts.items()):
            try:
                self._table.update_item(
                    Key={"id": issue_id},
                    UpdateExpression=(
                        "ADD hits :hits, runs_hit :one SET last_hit_at = :when, last_run_id = :run"
                    ),
                    ConditionExpression="attribute_exists(#id)",
                    ExpressionAttributeNames={"#id": "id"},
                    ExpressionAttributeValues={
                        ":hits": hits,
                        ":one": 1,
                        ":when": when,
                        ":run": report.run_id,
                    },
                )
            except ClientError as exc:
                if not _is_conditional_failure(exc):
                    raise
        return dict(counts)


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
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": Key("pk").eq(f"DAY#{day.isoformat()}")
                & Key("sk").between(sort_stamp(start), sort_stamp(end))
            }
            while True:
                page = self._table.query(**kwargs)
                for item in page.get("Items", []):
                    record = RunRecord.model_validate_json(item["record"])
                    if start <= record.when < end:
                        yield record
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
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
