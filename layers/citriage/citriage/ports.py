"""Every port, once: what the domain code needs from the outside world. The adapters live in
`citriage.adapters.aws` (DynamoDB, SQS, EventBridge, Secrets Manager, SES), `citriage.analyze.logs.fetch`
(log trees over HTTP or a directory) and `citriage.notify.transports` (mail as files). Tests use
in-memory fakes (tests/unit/fakes.py); `tests/contract/` runs each fake and its real adapter through
the same cases, so neither can drift from what the port promises."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar

if TYPE_CHECKING:
    from citriage.analyze.logs.layouts import Discovery
    from citriage.analyze.logs.streams import FetchBudget
    from citriage.config import LayoutSettings
    from citriage.models import HeldRun, HoldState, Incident
    from citriage.models.buildset import Buildset, BuildsetAnalyzed, BuildsetKey, BuildsetMember
    from citriage.models.cluster import Cluster
    from citriage.models.incident import IncidentHit, IncidentState, Recheck, RunReleased
    from citriage.models.known_issue import KnownIssue, SignatureStats
    from citriage.models.mail import MailMessage, Subscription
    from citriage.models.query import ApiToken, IssueHit, QueueDepth, RunSummary, TestFailure, TokenScope
    from citriage.models.report import RunReport
    from citriage.models.run import RunEvent, SourceName, SweepCursor
    from citriage.notify.history import RunRecord


class Dedupe(Protocol):
    """Claims on keys, so redelivered work is done once (a leased claim is pending until `complete`)."""

    def claim(self, key: str, lease_seconds: int | None = None) -> bool:
        """True when the key was free (or its lease ran out) and is now taken."""

    def complete(self, key: str) -> None:
        """Mark a leased claim done: final from now on."""

    def release(self, key: str) -> None:
        """Free a key again (the work it guarded failed and must be retried)."""

    def is_pending(self, key: str) -> bool:
        """True while a leased claim on the key is taken and not completed."""


class KeySource(Protocol):
    """Where the per-source HMAC keys and tokens come from (Secrets Manager in AWS)."""

    def key_for(self, source: str) -> str | None:
        """The key for a source, or None."""


class TokenSource(Protocol):
    """CI API credentials per source (Secrets Manager in AWS), bound to hosts (ci_api/credentials.py)."""

    def entry_for(self, source: str) -> object:
        """A source's raw entry (a host -> credential mapping, a string), or None."""


class Queue(Protocol):
    """Where runs go to be analysed (the analyze queue)."""

    def send(self, run: RunEvent) -> None:
        """Enqueue one run."""


class Cursors(Protocol):
    """Where each periodic job's sweep got to (the dedupe table in AWS)."""

    def get(self, job_key: str) -> SweepCursor:
        """The job's cursor (empty when the job was never swept)."""

    def put(self, job_key: str, cursor: SweepCursor) -> None:
        """Save the job's cursor."""


class WebhookSource(Protocol):
    """What every CI source provides to the webhook."""

    name: SourceName

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Raise Unauthorized unless the request is signed with `key` (or carries it as a token)."""

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """The CI's id of this delivery, the same on a redelivery (GitHub's X-GitHub-Delivery), if any."""

    def normalize(self, payload: Any) -> list[RunEvent]:
        """The finished builds to analyze (raise BadRequest for a malformed payload)."""


class Uploads(Protocol):
    """Where jobs' own archives are put (`citriage submit`), and the runs they belong to."""

    def location(self, upload_id: str) -> str:
        """The archive's URL (the run's log URL)."""

    def presign_archive(self, upload_id: str, size: int, expires_in: int) -> tuple[str, dict[str, str]]:
        """A PUT URL for exactly `size` bytes, and the headers the PUT must send."""

    def put_run(self, upload_id: str, run: RunEvent) -> None:
        """Keep the run a manifest described."""

    def get_run(self, upload_id: str) -> RunEvent | None:
        """The run of an upload, or None."""

    def archive_size(self, upload_id: str) -> int | None:
        """The archive's size, or None before it is put."""

    def open_archive(self, upload_id: str, max_bytes: int) -> BinaryIO:
        """The archive's bytes (FetchFailed when it is missing or over `max_bytes`)."""


class LogTree(Protocol):
    """A job's log tree: files by relative path, read as capped, decompressed streams."""

    budget: FetchBudget

    def open(self, path: str, tail_bytes: int = 0) -> BinaryIO | None:
        """The file's bytes, or None; with `tail_bytes`, one over the cap: head, marker, then tail."""

    def url_for(self, path: str) -> str:
        """Where a person can read the file."""

    def listing(self, notes: list[str]) -> list[str] | None:
        """Every file (relative paths, bounded) when the tree can list itself; None when it cannot."""

    @property
    def root(self) -> str:
        """The tree's location, for messages."""


class Layout(Protocol):
    """Where one CI keeps a run's results."""

    def tree_location(self, run: RunEvent) -> str:
        """The URL (or directory) the run's LogTree is rooted at."""

    def discover(self, run: RunEvent, tree: LogTree, settings: LayoutSettings, notes: list[str]) -> Discovery:
        """The files to read, found with as few requests as the layout allows."""


class ReportReader(Protocol):
    """Where analysed runs' reports are read from (the runs table)."""

    def get_report(self, run_id: str) -> RunReport | None:
        """A stored report, or None."""


class Reports(ReportReader, Protocol):
    """Where reports are kept (the runs table)."""

    def put_report(self, report: RunReport) -> None:
        """Store (or overwrite) a report."""


class KnownIssues(Protocol):
    """Where signatures come from (the known-issues table, or a YAML file)."""

    def list(self, problems: list[str] | None = None) -> list[KnownIssue]:
        """Every signature; with `problems`, malformed ones are skipped and described there."""


class VersionedKnownIssues(KnownIssues, Protocol):
    """A signature source that says when its signatures changed (the known-issues table)."""

    def version(self) -> str | None:
        """A value that changes whenever the signatures do (None: never changed)."""


class HitStats(Protocol):
    """Where per-signature hit statistics are kept (the known-issues table)."""

    def record_hits(self, report: RunReport) -> dict[str, int]:
        """Count the hits of each known issue that explained a failure of the report."""


class KnownIssueRepository(Protocol):
    """Where signatures are managed: the known-issues table or a YAML file."""

    def list_with_stats(self) -> list[tuple[KnownIssue, SignatureStats]]:
        """Every signature, with its hit statistics (zero for a file)."""

    def get(self, issue_id: str) -> KnownIssue | None:
        """One signature, or None."""

    def put(self, issue: KnownIssue) -> None:
        """Add or replace a signature (checked first)."""

    def put_many(self, issues: Sequence[KnownIssue]) -> None:
        """Add or replace many signatures at once (an import)."""

    def delete(self, issue_id: str) -> None:
        """Remove a signature."""


class ClusterReads(Protocol):
    """The clusters of new failures kept across runs."""

    def cluster(self, cluster_id: str, limit: int) -> Cluster | None:
        """A cluster as its newest `limit` stored new failures make it, or None."""

    def clusters(self, since: datetime, until: datetime, limit: int) -> list[Cluster]:
        """The clusters with a new failure in [since, until), biggest first; `limit` at most."""


class Publisher(Protocol):
    """Where verdict events go (the bus)."""

    def run_analyzed(self, report: RunReport) -> None:
        """Publish the RunAnalyzed event of a report."""

    def incident_changed(self, incident: Incident, change: IncidentState) -> None:
        """Publish an incident's IncidentOpened or IncidentClosed event."""

    def run_released(self, released: RunReleased) -> None:
        """Publish the RunReleased event of a held run that will not run again."""

    def buildset_analyzed(self, event: BuildsetAnalyzed) -> None:
        """Publish a buildset's BuildsetAnalyzed event."""


class HistoryRecorder(Protocol):
    """Where each analysed run's per-test results are kept for flakiness judgements."""

    def record(self, report: RunReport) -> object:
        """Record a report's test results (idempotent: a redelivery overwrites)."""


class Patterned(Protocol):
    """A signature or a rule: an id, an RE2 pattern (none for result-word rules), file scopes."""

    @property
    def id(self) -> str: ...

    @property
    def pattern(self) -> str | None: ...

    @property
    def files(self) -> list[str]: ...


class Incidents(Protocol):
    """Where incidents are kept; every change is conditional, so concurrent analyses agree."""

    def get(self, incident_id: str) -> Incident | None:
        """One incident, or None."""

    def open_for(self, key: str) -> Incident | None:
        """The open incident of a key, or None."""

    def open_incidents(self) -> list[Incident]:
        """Every open incident."""

    def record_hit(self, key: str, hit: IncidentHit, since: datetime) -> list[IncidentHit]:
        """Keep a candidate hit of a key; its candidates that ended at or after `since` (this one too)."""

    def open(self, incident: Incident, hits: Sequence[IncidentHit]) -> tuple[Incident, bool]:
        """Open `incident` unless its key has an open one; the open one, and whether this opened it."""

    def add_hit(self, incident_id: str, hit: IncidentHit) -> bool:
        """Count a run into an open incident (once per run); False when it was counted already."""

    def add_clean(self, incident_id: str, run_id: str) -> int | None:
        """Count a clean run (once per run); the incident's clean runs, None when counted already."""

    def close(self, incident_id: str, at: datetime, by: str) -> Incident | None:
        """Close an open incident; the closed incident, None when it was not open."""

    def between(self, since: datetime, until: datetime) -> list[Incident]:
        """The incidents opened in [since, until), oldest first."""

    def mark_announced(self, incident_id: str, change: IncidentState) -> bool:
        """Note that a change's event went out; False when noted already."""


class HeldRuns(Protocol):
    """The runs incidents held; every change is conditional on the run's state."""

    def hold(self, held: HeldRun) -> bool:
        """Keep a held run unless it is kept already; False then."""

    def held_of(self, incident_id: str) -> list[HeldRun]:
        """The runs an incident held."""

    def claim_hold(self, incident_id: str, run_id: str, now: datetime, lease_seconds: int) -> HeldRun | None:
        """Take a waiting run (or one whose taker's lease ran out); None when it is not to be had."""

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
        """Settle a taken run (rechecked, released, or held again with `error`); False if not taken."""


class Rechecker(Protocol):
    """Asks a run's CI to run it again (citriage.feedback.rechecks)."""

    def recheck(self, run: RunEvent, comment: str) -> Recheck:
        """Ask once; RecheckUnavailable when the CI cannot be asked, RecheckFailed to try later."""


class Buildsets(Protocol):
    """Buildsets while their runs are analysed; the event is claimed conditionally."""

    def record(self, key: BuildsetKey, member: BuildsetMember, now: datetime, deadline: datetime) -> Buildset:
        """Add an analysed run (the buildset is made on its first); the buildset after the write."""

    def claim(self, event: BuildsetAnalyzed) -> bool:
        """Keep the buildset's event unless one is kept; False then."""

    def unclaim(self, buildset_id: str) -> None:
        """Drop a kept event that could not be published."""

    def settle(self, buildset: Buildset) -> None:
        """Its event is out: the round no longer looks at it."""

    def overdue(self, now: datetime, limit: int = 100) -> list[Buildset]:
        """Buildsets not settled whose deadline has passed."""


class RunReads(ClusterReads, Protocol):
    """The read side's queries over the runs table (keys and indexes only, never a Scan)."""

    def records_by_day(
        self, until: datetime, since: datetime, before: str | None, limit: int
    ) -> Iterable[RunRecord]:
        """Records ended in [since, until), newest first, after sort key `before`; `limit` at most."""

    def job_records(
        self, source: str, job: str, before: str | None, after: str | None, limit: int
    ) -> list[RunRecord]:
        """A job's records, newest first, with sort keys in (after, before)."""

    def jobs(self, start_after: str | None, limit: int) -> tuple[list[RunSummary], str | None]:
        """Jobs by name with their last runs, from a job key on; and the key that goes on."""

    def job_sources(self, job: str) -> list[str]:
        """The sources a job of this name ran in."""

    def last_runs_by_source(self) -> dict[str, RunSummary]:
        """Each source's last analysed run."""

    def test_failures(self, test_id: str, before: str | None, limit: int) -> list[TestFailure]:
        """The runs a test failed in, newest first."""

    def issue_hits(self, issue_id: str, limit: int) -> list[IssueHit]:
        """The runs a known issue explained, newest first."""


class KnownIssueReads(Protocol):
    """Signatures with their statistics, read by key or index."""

    def listed(self) -> list[tuple[KnownIssue, SignatureStats]]:
        """Every signature with its statistics (an index query)."""

    def get_with_stats(self, issue_id: str) -> tuple[KnownIssue, SignatureStats] | None:
        """One signature with its statistics, or None."""


class QueueStats(Protocol):
    """How full the queues are."""

    def depths(self) -> list[QueueDepth]:
        """Each queue's waiting and in-flight messages."""


class Tokens(Protocol):
    """API tokens, stored hashed (the tokens table)."""

    def create(self, name: str, scope: TokenScope) -> tuple[str, ApiToken]:
        """A new token (shown once) and what is stored of it."""

    def verify(self, token: str) -> ApiToken | None:
        """The stored token a presented one is, or None (unknown, malformed or revoked)."""

    def list(self) -> list[ApiToken]:
        """Every token (never the token itself)."""

    def revoke(self, token_id: str) -> bool:
        """Remove a token; False when there was none of that id."""


class JobHistory(Protocol):
    """A job's recorded runs."""

    def recent(self, source: str, job: str, up_to: RunRecord | None, limit: int) -> list[RunRecord]:
        """A job's records, newest first, ending at `up_to`."""


class RecordsByTime(Protocol):
    """Run records by the time they ended (for digests)."""

    def between(self, start: datetime, end: datetime) -> Iterable[RunRecord]:
        """Every job's records that ended in [start, end)."""


class Subscriptions(Protocol):
    """Where subscriptions are read from."""

    def list(self) -> list[Subscription]:
        """Every subscription."""


class SubscriptionRemover(Protocol):
    """Where an address's subscription is looked up and removed (unsubscribing)."""

    def get(self, email: str) -> Subscription | None:
        """One address's subscription, or None."""

    def delete(self, email: str) -> None:
        """Remove an address's subscription."""


class Suppressions(Protocol):
    """Addresses that must get no more mail."""

    def is_suppressed(self, email: str) -> bool:
        """True when the address is on the suppression list."""


class MailTransport(Protocol):
    """Delivers one rendered mail to one recipient; returns where it went."""

    def send(self, message: MailMessage, recipient: str) -> str:
        """Deliver; return an id or path for the log."""


TracedF = TypeVar("TracedF", bound=Callable[..., Any])


class HandlerTracer(Protocol):
    """The tracing decorators the Lambda handlers use (citriage.tracing)."""

    def capture_lambda_handler(self, *, capture_response: bool) -> Callable[[TracedF], TracedF]:
        """Trace the Lambda entry point."""

    def capture_method(self, *, capture_response: bool) -> Callable[[TracedF], TracedF]:
        """Trace one method as a subsegment."""
