"""The analyze step: a queued run in, a stored report and a RunAnalyzed event out.

`Analyzer` is the analysis alone (the CLI uses it too); `AnalyzeService` stores its report once,
records history and hit statistics, and publishes the verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from citriage import keys
from citriage.analyze.locate import open_run_tree
from citriage.analyze.logs.readers import ReadContext
from citriage.analyze.logs.streams import FetchBudget
from citriage.analyze.matching.infra_rules import InfraRuleSet
from citriage.analyze.pipeline import RunReading, analyze_run, classify_run
from citriage.clusters.grouping import with_clusters
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import AnalysisInProgress, FetchRefused
from citriage.incidents.tracker import IncidentTracker
from citriage.known_issues.signatures import SignatureSet, usable_signatures
from citriage.models import RunEvent, RunReport
from citriage.ports import (
    ClusterReads,
    Dedupe,
    HistoryRecorder,
    HitStats,
    KnownIssues,
    Publisher,
    Reports,
    TokenSource,
    Uploads,
)

# An analysis's lease: longer than the function's timeout (120 s), shorter than the analyze
# queue's visibility timeout (720 s), so the redelivery of a killed worker's run can take it.
ANALYSIS_LEASE_SECONDS = 600
# A new failure's cluster is counted over its newest this many stored failures.
CLUSTER_LOOKBACK = 200


class Analyzer:
    """Analyses one run without storing anything: locate its logs, read, scan, classify.

    The signatures are read on every run; their compiled matcher is reused from the process
    cache while they stay the same (warm invocations), and rebuilt when they change.
    """

    def __init__(
        self,
        known_issues: KnownIssues,
        rules: InfraRuleSet,
        fetch: FetchSettings,
        layout: LayoutSettings,
        api_tokens: TokenSource | None,
        allow_local: bool = False,
        uploads: Uploads | None = None,
    ) -> None:
        """`api_tokens` None reads CI APIs anonymously; `allow_local` lets a run's log URL name a
        local directory (the CLI only: a webhook's URL never may)."""
        self._known_issues = known_issues
        self._rules = rules
        self._fetch = fetch
        self._layout = layout
        self._api_tokens = api_tokens
        self._allow_local = allow_local
        self._uploads = uploads

    def analyze(
        self,
        run: RunEvent,
        progress: Callable[[str, int], None] | None = None,
        deadline: float | None = None,
    ) -> RunReport:
        """The report of one run; what could not be read is said in its notes. `progress` is told
        of every chunk read (file name, bytes); no download goes on past `deadline`
        (time.monotonic()), so a report is always made in time."""
        problems: list[str] = []
        signatures = usable_signatures(self._known_issues.list(problems), datetime.now(UTC).date(), problems)
        budget = FetchBudget(
            self._fetch.max_file_bytes,
            self._fetch.max_run_bytes,
            console_tail_bytes=self._fetch.console_tail_bytes,
            max_console_bytes=self._fetch.max_console_bytes,
            progress=progress,
            run_deadline=min(
                time.monotonic() + self._fetch.max_run_seconds,
                deadline if deadline is not None else float("inf"),
            ),
        )
        try:
            # A CI's API may live beside the log URL (openQA), or need a token (GitHub):
            # the source's layout says where to root the tree and how to reach it.
            tree = open_run_tree(run, self._fetch, budget, self._api_tokens, self._allow_local, self._uploads)
        except FetchRefused as exc:
            report = analyze_refused(run, str(exc), signatures, self._rules)
        else:
            report = analyze_run(run, tree, signatures, self._rules, self._layout)
        report.notes.extend(problems)
        return report


class AnalyzeService:
    """Analyses queued runs, stores their reports and publishes their verdicts, idempotently."""

    def __init__(
        self,
        analyzer: Analyzer,
        reports: Reports,
        publisher: Publisher,
        history: HistoryRecorder,
        hit_stats: HitStats,
        dedupe: Dedupe,
        incidents: IncidentTracker | None = None,
        clusters: ClusterReads | None = None,
    ) -> None:
        self._clusters = clusters
        self._incidents = incidents
        self._analyzer = analyzer
        self._reports = reports
        self._publisher = publisher
        self._history = history
        self._hit_stats = hit_stats
        self._dedupe = dedupe

    def handle(self, run: RunEvent, deadline: float | None = None) -> RunReport:
        """Analyse a run once. A redelivered run re-publishes its stored verdict instead
        (the publish may be what failed the first time; notify dedupes its mails)."""
        stored = self._reports.get_report(run.run_id)
        if stored is None or (stored.run.reanalysis != run.reanalysis and run.reanalysis is not None):
            stored = self._analyze_once(run, deadline)
        # Also on a redelivery: the first attempt may have died before recording.
        self._history.record(stored)
        self._publisher.run_analyzed(stored)
        if self._incidents is not None:
            # Every incident change not yet announced, this run's or an earlier one's.
            self._incidents.announce(self._publisher)
        return stored

    def _analyze_once(self, run: RunEvent, deadline: float | None) -> RunReport:
        """Analyse, store and count a run under a lease: a second delivery arriving meanwhile
        (SQS is at-least-once) is told to come back, and finds the stored report then."""
        key = keys.analysis(run.run_id, run.reanalysis)
        if not self._dedupe.claim(key, ANALYSIS_LEASE_SECONDS):
            stored = self._reports.get_report(run.run_id)
            if stored is not None and stored.run.reanalysis == run.reanalysis:
                return stored
            raise AnalysisInProgress(f"{run.run_id} is being analysed by another worker")
        try:
            report = self._analyzer.analyze(run, deadline=deadline)
            if (clusters := self._clusters) is not None:
                # Each new failure with its cluster's runs and jobs so far (docs/clusters.md).
                report = with_clusters(report, lambda cid: clusters.cluster(cid, CLUSTER_LOOKBACK))
            if self._incidents is not None:
                # Once per analysis, under its lease; the tracker counts each run once anyway.
                report.incident = self._incidents.observe(report).incident
            self._reports.put_report(report)
            # Counted once per stored analysis: under the lease, and a redelivery finds the report.
            # A reanalysis replaces the report but is not counted again.
            if run.reanalysis is None:
                self._hit_stats.record_hits(report)
        except BaseException:
            self._dedupe.release(key)
            raise
        self._dedupe.complete(key)
        return report


def analyze_refused(run: RunEvent, reason: str, signatures: SignatureSet, rules: InfraRuleSet) -> RunReport:
    """The report of a run whose log URL was refused: nothing fetched, and why (no layout is asked
    to look, so none can mistake the refusal for an empty run)."""
    ctx = ReadContext([f"Logs unavailable: {reason}"])
    return classify_run(run, RunReading(logs_read=False), ctx, signatures.for_job(run.job), rules)
