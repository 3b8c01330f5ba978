"""DynamoDB: the read side's items in the runs table, and every query the API makes of them.

Written with each run's history record (`HistoryStore.record`), idempotently:

| pk               | sk                     | what                                            |
|------------------|------------------------|-------------------------------------------------|
| `JOBS`           | `<job>#<source>`       | each job's last run (the job list)              |
| `SOURCES`        | `<source>`             | each source's last run (the status page)        |
| `TEST#<test id>` | `<when>#<run id>`      | a run the test failed in                        |
| `ISSUE#<id>`     | `<when>#<run id>`      | a run the known issue explained                 |
| `CLUSTER#<id>`   | `<when>#<run id>#<test>` | a new failure of the cluster (docs/clusters.md) |
| `CLUSTERS#<day>` | `<cluster id>`         | a cluster with a new failure that day           |

with the history's own `HIST#<source>#<job>` and `DAY#<date>` records. Every read here is a
GetItem or a Query on a key: never a Scan (tests/contract/test_queries.py proves it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from citriage.adapters.aws.dynamodb import HistoryStore, _is_conditional_failure, _query_all
from citriage.clusters.grouping import cluster_members, cluster_of
from citriage.clusters.normalize import cluster_id
from citriage.models import RunReport
from citriage.models.cluster import Cluster, ClusterMember
from citriage.models.query import IssueHit, QueueDepth, RunSummary, TestFailure
from citriage.notify.history import RunRecord, sort_stamp


class IndexedHistoryStore(HistoryStore):
    """The history store that also writes the read side's items of each run."""

    def __init__(self, table: Any, ttl_days: int = 90) -> None:
        super().__init__(table, ttl_days)
        self._index_table = table
        self._ttl_days = ttl_days

    def record(self, report: RunReport) -> RunRecord:
        """Store a report's record and its read-side items; return the record."""
        record = super().record(report)
        write_index(self._index_table, record, report, expiry(self._ttl_days))
        return record


def write_index(table: Any, record: RunRecord, report: RunReport, expires_at: int) -> None:
    """The read side's items of one run (overwrites on a redelivery)."""
    summary = record.summary().model_dump_json()
    for pk, sk in (("JOBS", f"{record.job}#{record.source}"), ("SOURCES", record.source)):
        _put_if_newer(table, pk, sk, record.sort_key, summary, expires_at)
    hits: dict[str, IssueHit] = {}
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for test_id, failed in record.failed.items():
            failure = TestFailure(
                run_id=record.run_id,
                source=record.source,
                job=record.job,
                when=record.when,
                classification=failed.classification,
                known_issue=failed.known_issue,
                log_url=record.log_url,
            )
            batch.put_item(
                Item={
                    "pk": f"TEST#{test_id}",
                    "sk": record.sort_key,
                    "failure": failure.model_dump_json(),
                    "expires_at": expires_at,
                }
            )
            if failed.known_issue:
                hit = hits.setdefault(failed.known_issue, _hit(record, test_id))
                hit.tests += 1
        for log_hit in report.log_hits:
            hits.setdefault(log_hit.issue.id, _hit(record, None))
        for issue_id, hit in hits.items():
            batch.put_item(
                Item={
                    "pk": f"ISSUE#{issue_id}",
                    "sk": record.sort_key,
                    "hit": hit.model_dump_json(),
                    "expires_at": expires_at,
                }
            )
        for normalised, member in cluster_members([report]):
            day = f"CLUSTERS#{record.when.astimezone(UTC).date().isoformat()}"
            batch.put_item(Item={"pk": day, "sk": cluster_id(normalised), "expires_at": expires_at})
            batch.put_item(
                Item={
                    "pk": f"CLUSTER#{cluster_id(normalised)}",
                    "sk": f"{record.sort_key}#{member.test_id[:300]}",
                    "normalised": normalised,
                    "member": member.model_dump_json(),
                    "expires_at": expires_at,
                }
            )


def _hit(record: RunRecord, test_id: str | None) -> IssueHit:
    return IssueHit(
        run_id=record.run_id,
        source=record.source,
        job=record.job,
        when=record.when,
        test_id=test_id,
        log_url=record.log_url,
    )


def _put_if_newer(table: Any, pk: str, sk: str, sort_key: str, summary: str, expires_at: int) -> None:
    """Keep the newest run: an older run analysed late (a redelivery, a sweep) does not replace it."""
    try:
        table.put_item(
            Item={"pk": pk, "sk": sk, "last": sort_key, "summary": summary, "expires_at": expires_at},
            ConditionExpression="attribute_not_exists(#last) OR #last <= :last",
            ExpressionAttributeNames={"#last": "last"},
            ExpressionAttributeValues={":last": sort_key},
        )
    except ClientError as exc:
        if not _is_conditional_failure(exc):
            raise


# A cluster is rebuilt from at most this many of its newest kept failures.
CLUSTER_MEMBERS = 200


class RunQueries:
    """The read side's queries over the runs table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def _query(self, pk: str, before: str | None, after: str | None, limit: int) -> Iterator[dict[str, Any]]:
        """A partition's items with sort keys in (after, before), newest first, `limit` at most."""
        condition: Any = Key("pk").eq(pk)
        if before is not None and after is not None:
            # between is inclusive; the exclusive bounds are checked below.
            condition &= Key("sk").between(after, before)
        elif before is not None:
            condition &= Key("sk").lt(before)
        elif after is not None:
            condition &= Key("sk").gt(after)
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": False}
        given = 0
        while given < limit:
            page = self._table.query(**kwargs, Limit=min(limit - given, 500))
            for item in page.get("Items", []):
                if item["sk"] == before or item["sk"] == after:
                    continue
                given += 1
                yield item
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def records_by_day(
        self, until: datetime, since: datetime, before: str | None, limit: int
    ) -> Iterator[RunRecord]:
        """Every job's records that ended in [since, until), newest first, from the sort key
        `before` (exclusive) on; `limit` of them at most."""
        upper = min(before, sort_stamp(until)) if before else sort_stamp(until)
        lower = sort_stamp(since)
        day = datetime.fromisoformat(upper[:10]).replace(tzinfo=UTC)
        read = 0
        while day.date() >= since.astimezone(UTC).date() and read < limit:
            for item in self._query(f"DAY#{day.date().isoformat()}", upper, lower, limit - read):
                read += 1
                yield RunRecord.model_validate_json(item["record"])
            day -= timedelta(days=1)

    def job_records(
        self, source: str, job: str, before: str | None, after: str | None, limit: int
    ) -> list[RunRecord]:
        """A job's records, newest first, with sort keys in (after, before)."""
        return [
            RunRecord.model_validate_json(item["record"])
            for item in self._query(f"HIST#{source}#{job}", before, after, limit)
        ]

    def jobs(self, start_after: str | None, limit: int) -> tuple[list[RunSummary], str | None]:
        """Jobs by name (their last runs), from the job key `start_after` on; and the key to
        go on from when there are more."""
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq("JOBS"), "Limit": limit}
        if start_after:
            kwargs["ExclusiveStartKey"] = {"pk": "JOBS", "sk": start_after}
        page = self._table.query(**kwargs)
        items = page.get("Items", [])
        more = "LastEvaluatedKey" in page and bool(items)
        return [RunSummary.model_validate_json(i["summary"]) for i in items], (
            str(items[-1]["sk"]) if more else None
        )

    def job_sources(self, job: str) -> list[str]:
        """The sources a job of this name ran in."""
        items = _query_all(
            self._table, KeyConditionExpression=Key("pk").eq("JOBS") & Key("sk").begins_with(f"{job}#")
        )
        found = [str(item["sk"]).rsplit("#", 1) for item in items]
        return sorted(source for name, source in found if name == job)

    def last_runs_by_source(self) -> dict[str, RunSummary]:
        """Each source's last analysed run."""
        return {
            str(item["sk"]): RunSummary.model_validate_json(item["summary"])
            for item in _query_all(self._table, KeyConditionExpression=Key("pk").eq("SOURCES"))
        }

    def test_failures(self, test_id: str, before: str | None, limit: int) -> list[TestFailure]:
        """The runs a test failed in, newest first."""
        return [
            TestFailure.model_validate_json(item["failure"])
            for item in self._query(f"TEST#{test_id}", before, None, limit)
        ]

    def cluster(self, cluster_id: str, limit: int) -> Cluster | None:
        """A cluster as its stored new failures make it (the newest `limit` of them), or None."""
        items = list(self._query(f"CLUSTER#{cluster_id}", None, None, limit))
        if not items:
            return None
        members = [ClusterMember.model_validate_json(item["member"]) for item in items]
        return cluster_of(str(items[0]["normalised"]), members)

    def clusters(self, since: datetime, until: datetime, limit: int) -> list[Cluster]:
        """The clusters with a new failure in [since, until), biggest first (each from its newest
        kept failures); at most `limit` of them, the most recently seen first considered."""
        ids: list[str] = []
        day = until.astimezone(UTC).date()
        while day >= since.astimezone(UTC).date() and len(ids) < limit:
            for item in _query_all(
                self._table, KeyConditionExpression=Key("pk").eq(f"CLUSTERS#{day.isoformat()}")
            ):
                if item["sk"] not in ids and len(ids) < limit:
                    ids.append(str(item["sk"]))
            day -= timedelta(days=1)
        found = [c for c in (self.cluster(cid, CLUSTER_MEMBERS) for cid in ids) if c is not None]
        return sorted(found, key=lambda c: (-len(c.members), c.id))

    def issue_hits(self, issue_id: str, limit: int) -> list[IssueHit]:
        """The runs a known issue explained, newest first."""
        return [
            IssueHit.model_validate_json(item["hit"])
            for item in self._query(f"ISSUE#{issue_id}", None, None, limit)
        ]


class QueueDepths:
    """How many messages the queues hold (the status page)."""

    def __init__(self, sqs: Any, queues: dict[str, str]) -> None:
        self._sqs = sqs
        self._queues = queues

    def depths(self) -> list[QueueDepth]:
        """Each named queue's waiting and in-flight messages."""
        out = []
        for name, url in self._queues.items():
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            out.append(
                QueueDepth(
                    name=name,
                    waiting=int(attributes.get("ApproximateNumberOfMessages", 0)),
                    in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                )
            )
        return out


def expiry(ttl_days: int) -> int:
    """The TTL stamp of an item written now."""
    return int(time.time()) + ttl_days * 86400
