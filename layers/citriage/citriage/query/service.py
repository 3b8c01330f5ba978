"""The read side's answers, from the runs table's keys and indexes (docs/api.md).

Every answer is bounded: a page holds at most MAX_LIMIT items and reads a bounded number of
items to fill it; when it stops early it still returns a cursor, so a client walks on.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citriage.errors import BadRequest, NotFound
from citriage.incidents.ledger import IncidentLedger
from citriage.models import RunEvent, RunReport, Verdict
from citriage.models.cluster import Cluster
from citriage.models.incident import IncidentState
from citriage.models.query import (
    GridStatus,
    JobSummary,
    KnownIssueStatus,
    Page,
    RunSummary,
    TestHistory,
    TestInJob,
)
from citriage.notify.history import FAILED_VERDICTS, RunRecord, sort_stamp
from citriage.ports import KnownIssueReads, Queue, QueueStats, ReportReader, RunReads

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# How far back a search looks when `since` is not given (with a job: MAX_SPAN), and at most
# (the history's TTL).
DEFAULT_SPAN = timedelta(days=7)
MAX_SPAN = timedelta(days=90)
# The most run records one page reads (filters may leave few of them).
READ_BOUND = 2000
# How many of a job's recent runs its pass rate counts.
RECENT_RUNS = 20
_SORT_KEY = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#[^\x00-\x1f]{1,300}")


def encode_cursor(sort_key: str) -> str:
    """An opaque cursor for the item after which the next page starts."""
    return base64.urlsafe_b64encode(sort_key.encode("utf-8")).decode("ascii").rstrip("=")


def _unwrap(cursor: str, valid: Callable[[str], bool]) -> str:
    """What a cursor stands for; BadRequest when it is not one this API gave."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not valid(text):
        raise BadRequest("cursor: not a cursor this API gave")
    return text


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key a run or test cursor stands for (None: the first page)."""
    return _unwrap(cursor, lambda key: _SORT_KEY.fullmatch(key) is not None) if cursor else None


class RunFilters(BaseModel):
    """`GET /runs` query parameters (each optional; all given must hold)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: str | None = Field(default=None, max_length=300)
    project: str | None = Field(default=None, max_length=300)
    source: str | None = Field(default=None, max_length=40)
    verdict: Verdict | None = None
    change: str | None = Field(default=None, max_length=100)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=600)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """[since, until), defaulted and bounded."""
        until = self.until or now + timedelta(seconds=1)
        # A job's own history is cheap to read whole; every job's, a day at a time, is not.
        since = self.since or until - (MAX_SPAN if self.job else DEFAULT_SPAN)
        if since >= until:
            raise BadRequest("since must be before until")
        if until - since > MAX_SPAN:
            raise BadRequest(f"since..until spans at most {MAX_SPAN.days} days (the history kept)")
        return since, until

    def keeps(self, record: RunRecord) -> bool:
        """Whether a record passes the filters other than time."""
        return (
            (self.job is None or record.job == self.job)
            and (self.project is None or record.project == self.project)
            and (self.source is None or record.source == self.source)
            and (self.verdict is None or record.verdict == self.verdict)
            and (self.change is None or record.change == self.change)
        )


class QueryService:
    """Answers the read side's questions from key and index queries."""

    def __init__(
        self,
        runs: RunReads,
        reports: ReportReader,
        known_issues: KnownIssueReads,
        queues: QueueStats,
        analyze_queue: Queue,
        incidents: IncidentLedger | None = None,
    ) -> None:
        # The downtime ledger, when the stack keeps incidents.
        self.incidents = incidents
        self._runs = runs
        self._reports = reports
        self._known_issues = known_issues
        self._queues = queues
        self._analyze_queue = analyze_queue

    # ---- runs

    def search_runs(self, filters: RunFilters, now: datetime | None = None) -> Page[RunSummary]:
        """Runs newest first, filtered; a job given reads that job's history only."""
        records, cursor = self._search(filters, now)
        return Page(items=[r.summary() for r in records], cursor=cursor)

    def _search(self, filters: RunFilters, now: datetime | None = None) -> tuple[list[RunRecord], str | None]:
        """The records of a page and the next page's cursor. At most READ_BOUND records are read
        for one page: a page cut short by it still has a cursor."""
        since, until = filters.window(now or datetime.now(UTC))
        before = decode_cursor(filters.cursor)
        if filters.job is not None:
            records: Iterable[RunRecord] = self._job_runs(filters.job, filters.source, before, since, until)
        else:
            records = self._runs.records_by_day(until, since, before, READ_BOUND)
        found: list[RunRecord] = []
        read = 0
        last_seen = ""
        for record in records:
            read += 1
            last_seen = record.sort_key
            if filters.keeps(record):
                found.append(record)
                if len(found) > filters.limit:
                    page = found[: filters.limit]
                    return page, encode_cursor(page[-1].sort_key)
        # Fewer than asked: the window is done, unless the read bound stopped the walk.
        return found, encode_cursor(last_seen) if read >= READ_BOUND else None

    def _job_runs(
        self, job: str, source: str | None, before: str | None, since: datetime, until: datetime
    ) -> list[RunRecord]:
        sources = [source] if source else self._runs.job_sources(job)
        upper = min(before, sort_stamp(until)) if before else sort_stamp(until)
        merged = [
            record
            for src in sources
            for record in self._runs.job_records(src, job, upper, sort_stamp(since), READ_BOUND)
        ]
        return sorted(merged, key=lambda r: r.sort_key, reverse=True)[:READ_BOUND]

    def run(self, run_id: str) -> RunReport:
        """A run's report."""
        report = self._reports.get_report(run_id)
        if report is None:
            raise NotFound(f"no run {run_id!r}")
        return report

    def reanalyze(self, run_id: str) -> RunEvent:
        """Queue a run for a new analysis (its report, history and verdict event are replaced;
        its subscribers are not mailed again)."""
        run = self.run(run_id).run.model_copy(update={"reanalysis": uuid.uuid4().hex})
        self._analyze_queue.send(run)
        return run

    # ---- jobs

    def jobs(self, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page[JobSummary]:
        """Jobs by name, each with its last run and its recent runs' rates."""
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit: 1 to {MAX_LIMIT}")
        start = _decode_job_cursor(cursor)
        summaries, more = self._runs.jobs(start, limit)
        items = [self._job(summary) for summary in summaries]
        return Page(items=items, cursor=_encode_job_cursor(more) if more else None)

    def job(self, job: str) -> Page[JobSummary]:
        """One job by name: its last run and recent rates in each source it ran in."""
        lasts = [self._runs.job_records(source, job, None, None, 1) for source in self._runs.job_sources(job)]
        items = [self._job(records[0].summary()) for records in lasts if records]
        if not items:
            raise NotFound(f"no job {job!r}")
        return Page(items=items)

    def _job(self, last: RunSummary) -> JobSummary:
        recent = self._runs.job_records(last.source, last.job, None, None, RECENT_RUNS)
        counts = Counter(_outcome(r.verdict) for r in recent)
        judged = counts["passed"] + counts["failed"]
        return JobSummary(
            job=last.job,
            source=last.source,
            last_run=last,
            recent_runs=len(recent),
            passed=counts["passed"],
            failed=counts["failed"],
            infra=counts["infra"],
            pass_rate=round(counts["passed"] / judged, 3) if judged else None,
        )

    def job_history(
        self, job: str, source: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[RunRecord]:
        """A job's runs, newest first, each with the tests that failed in it (a history record)."""
        records, next_cursor = self._search(RunFilters(job=job, source=source, limit=limit, cursor=cursor))
        if not records and cursor is None and not self._runs.job_sources(job):
            raise NotFound(f"no job {job!r}")
        return Page(items=records, cursor=next_cursor)

    # ---- tests

    def test_history(
        self, test_id: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> TestHistory:
        """The runs a test failed in, newest first, and its failure rate in each of those jobs."""
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit: 1 to {MAX_LIMIT}")
        failures = self._runs.test_failures(test_id, decode_cursor(cursor), limit + 1)
        page, more = failures[:limit], len(failures) > limit
        jobs = []
        for source, job in sorted({(f.source, f.job) for f in page}):
            recent = [
                r for r in self._runs.job_records(source, job, None, None, RECENT_RUNS) if r.has_results
            ]
            failed = sum(1 for r in recent if test_id in r.failed)
            judged = [r for r in recent if test_id in r.failed or r.passed_test(test_id)]
            jobs.append(
                TestInJob(
                    job=job,
                    source=source,
                    runs=len(judged),
                    failed=failed,
                    failure_rate=round(failed / len(judged), 3) if judged else None,
                )
            )
        next_cursor = encode_cursor(f"{sort_stamp(page[-1].when)}#{page[-1].run_id}") if more else None
        return TestHistory(test_id=test_id, failures=page, jobs=jobs, cursor=next_cursor)

    # ---- known issues

    def known_issues(self) -> list[KnownIssueStatus]:
        """Every signature with its hit statistics."""
        return [KnownIssueStatus(issue=issue, stats=stats) for issue, stats in self._known_issues.listed()]

    def known_issue(self, issue_id: str, limit: int = 20) -> KnownIssueStatus:
        """A signature, its statistics and the runs it explained lately."""
        found = self._known_issues.get_with_stats(issue_id)
        if found is None:
            raise NotFound(f"no known issue {issue_id!r}")
        issue, stats = found
        return KnownIssueStatus(issue=issue, stats=stats, recent_hits=self._runs.issue_hits(issue_id, limit))

    def clusters(self, since: datetime, until: datetime, limit: int = 20) -> list[Cluster]:
        """The clusters of new failures seen in a period, biggest first; each with its counts and
        its 10 newest members (`GET /clusters/{id}` has them all)."""
        found = self._runs.clusters(since, until, limit)
        return [c.model_copy(update={"members": c.members[:10]}) for c in found]

    def cluster(self, cluster_id: str, limit: int = 100) -> Cluster:
        """A cluster of new failures, from the newest `limit` of them kept (docs/clusters.md)."""
        found = self._runs.cluster(cluster_id, limit)
        if found is None:
            raise NotFound(f"no cluster {cluster_id!r}: no new failure of it is kept")
        return found

    # ---- status

    def status(self, now: datetime | None = None) -> GridStatus:
        """Queue depths, each source's last run, and the last hour's analyses by verdict."""
        until = now or datetime.now(UTC)
        verdicts = Counter(
            r.verdict.value
            for r in self._runs.records_by_day(until, until - timedelta(hours=1), None, 100_000)
        )
        return GridStatus(
            queues=self._queues.depths(),
            last_run_by_source=self._runs.last_runs_by_source(),
            analyses_last_hour=sum(verdicts.values()),
            verdicts_last_hour=dict(sorted(verdicts.items())),
            open_incidents=[] if self.incidents is None else self.incidents.search(state=IncidentState.OPEN),
        )


def _outcome(verdict: Verdict) -> str:
    if verdict == Verdict.PASSED:
        return "passed"
    if verdict in FAILED_VERDICTS:
        return "failed"
    return "infra" if verdict == Verdict.INFRA else "other"


def _encode_job_cursor(job_key: str) -> str:
    return encode_cursor(f"job:{job_key}")


def _decode_job_cursor(cursor: str | None) -> str | None:
    """The job key a job-list cursor stands for (None: the first page)."""
    if not cursor:
        return None
    return _unwrap(cursor, lambda text: text.startswith("job:") and "#" in text and len(text) < 700)[4:]
