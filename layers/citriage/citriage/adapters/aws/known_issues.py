"""DynamoDB: the known-issues table (signatures, their hit statistics, and its version item)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from citriage.adapters.aws.dynamodb import (
    _from_dynamo,
    _is_conditional_failure,
    _query_all,
    _scan,
    _to_dynamo,
)
from citriage.errors import InvalidSignature
from citriage.known_issues.signatures import check_signature
from citriage.models import KnownIssue, RunReport, SignatureStats, Verdict

# Attributes of a known-issue item that are statistics, not part of the signature.
_STATS_FIELDS = frozenset(SignatureStats.model_fields)


# The known-issues table's own item: a counter every change of the signatures through citriage
# increments, so analyses read the whole table only when it moved.
VERSION_ID = "#version"
# Every signature item carries `kind`, so the index `by-kind` lists them without a Scan.
KIND = "signature"
KIND_INDEX = "by-kind"


def _decode(item: dict[str, Any]) -> tuple[KnownIssue, SignatureStats]:
    """A signature item as the signature and its statistics (ValueError: malformed)."""
    data = {k: v for k, v in _from_dynamo(item).items() if k != "kind"}
    stats = SignatureStats.model_validate({k: v for k, v in data.items() if k in _STATS_FIELDS})
    return KnownIssue.model_validate({k: v for k, v in data.items() if k not in _STATS_FIELDS}), stats


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
            try:
                issues.append(_decode(item))
            except ValueError as exc:
                problem = f"stored signature {item.get('id')!r} is malformed and was skipped: {exc}"
                if problems is None:
                    raise InvalidSignature(problem) from exc
                problems.append(problem)
        return issues

    def listed(self) -> list[tuple[KnownIssue, SignatureStats]]:
        """Every signature with its statistics, by id: a query of the `by-kind` index (the read
        side never scans). A malformed item is left out."""
        issues = []
        for item in _query_all(
            self._table, IndexName=KIND_INDEX, KeyConditionExpression=Key("kind").eq(KIND)
        ):
            with suppress(ValueError):
                issues.append(_decode(item))
        return issues

    def get_with_stats(self, issue_id: str) -> tuple[KnownIssue, SignatureStats] | None:
        """One signature with its statistics, or None."""
        item = self._table.get_item(Key={"id": issue_id}).get("Item")
        return None if item is None or issue_id == VERSION_ID else _decode(item)

    def list(self, problems: list[str] | None = None) -> list[KnownIssue]:
        """Every stored signature; a malformed item raises InvalidSignature naming it, or,
        with `problems` given, is skipped and described there."""
        return [issue for issue, _ in self.list_with_stats(problems)]

    def get(self, issue_id: str) -> KnownIssue | None:
        """One signature, or None."""
        item = self._table.get_item(Key={"id": issue_id}).get("Item")
        if item is None:
            return None
        return _decode(item)[0]

    def put(self, issue: KnownIssue) -> None:
        """Store a signature after checking it (RE2 pattern, message groups); keeps its statistics."""
        self._put_one(issue)
        self._changed()

    def _put_one(self, issue: KnownIssue) -> None:
        check_signature(issue)
        data = _to_dynamo(issue.model_dump(mode="json", exclude_none=True)) | {"kind": KIND}
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
        if report.verdict is Verdict.PASSED:
            # A signature that matches a passing run's logs is too broad (docs/clusters.md).
            for issue_id in sorted({hit.issue.id for hit in report.log_hits}):
                self._count(
                    issue_id,
                    "ADD passing_hits :one SET last_passing_hit_at = :when, last_passing_run_id = :run",
                    {":one": 1, ":when": when, ":run": report.run_id},
                )
        for issue_id, hits in sorted(counts.items()):
            self._count(
                issue_id,
                "ADD hits :hits, runs_hit :one SET last_hit_at = :when, last_run_id = :run",
                {":hits": hits, ":one": 1, ":when": when, ":run": report.run_id},
            )
        return dict(counts)

    def _count(self, issue_id: str, update: str, values: dict[str, Any]) -> None:
        """One atomic counter update of a signature that still exists (never recreated)."""
        try:
            self._table.update_item(
                Key={"id": issue_id},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(#id)",
                ExpressionAttributeNames={"#id": "id"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
