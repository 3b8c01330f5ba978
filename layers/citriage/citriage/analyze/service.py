"""The analyze step: a queued run in, a stored report and a RunAnalyzed event out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol

from citriage.analyze.ci_api import open_run_tree
from citriage.analyze.ci_api.common import TokenSource
from citriage.analyze.logs.fetch import FetchBudget
from citriage.analyze.matching.engine import InfraRuleSet, SignatureSet, compile_pattern, load_builtin_rules
from citriage.analyze.pipeline import analyze_run
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import FetchRefused, InvalidSignature
from citriage.models import KnownIssue, RunEvent, RunReport


class Reports(Protocol):
    """Where reports are kept (the runs table)."""

    def get_report(self, run_id: str) -> RunReport | None:
        """A stored report, or None."""

    def put_report(self, report: RunReport) -> None:
        """Store a report."""


class KnownIssues(Protocol):
    """Where signatures come from (the known-issues table, or a YAML file)."""

    def list(self, problems: list[str] | None = None) -> list[KnownIssue]:
        """Every signature; with `problems`, malformed ones are skipped and described there."""


class HitStats(Protocol):
    """Where per-signature hit statistics are kept (the known-issues table)."""

    def record_hits(self, report: RunReport) -> dict[str, int]:
        """Count the hits of each known issue that explained a failure of the report."""


class Publisher(Protocol):
    """Where verdict events go (the bus)."""

    def run_analyzed(self, report: RunReport) -> None:
        """Publish the RunAnalyzed event of a report."""


class History(Protocol):
    """Where each analysed run's per-test results are kept for flakiness judgements."""

    def record(self, report: RunReport) -> object:
        """Record a report's test results (idempotent: a redelivery overwrites)."""


class AnalyzeService:
    """Analyses runs, stores their reports and publishes their verdicts, idempotently."""

    def __init__(
        self,
        reports: Reports,
        known_issues: KnownIssues,
        publisher: Publisher,
        fetch_settings: FetchSettings,
        history: History | None = None,
        hit_stats: HitStats | None = None,
        rules: InfraRuleSet | None = None,
        layout: LayoutSettings | None = None,
        api_tokens: TokenSource | None = None,
    ) -> None:
        self._layout = layout
        self._api_tokens = api_tokens
        self._reports = reports
        self._known_issues = known_issues
        self._publisher = publisher
        self._fetch = fetch_settings
        self._hit_stats = hit_stats
        self._rules = rules if rules is not None else InfraRuleSet(load_builtin_rules())
        self._history = history

    def handle(self, run: RunEvent) -> RunReport:
        """Analyse a run once. A redelivered run re-publishes its stored verdict instead
        (the publish may be what failed the first time; notify dedupes its mails)."""
        stored = self._reports.get_report(run.run_id)
        if stored is None:
            stored = self.analyze(run)
            self._reports.put_report(stored)
            # Counted once per stored analysis: a redelivery finds the report and skips this.
            if self._hit_stats is not None:
                self._hit_stats.record_hits(stored)
        if self._history is not None:
            # Also on a redelivery: the first attempt may have died before recording.
            self._history.record(stored)
        self._publisher.run_analyzed(stored)
        return stored

    def analyze(self, run: RunEvent) -> RunReport:
        """Analyse without storing: fetch the logs, read the results, classify.

        The signatures are read on every run; their compiled matcher is reused from the
        process cache while they stay the same (warm invocations), and rebuilt when they change.
        """
        problems: list[str] = []
        signatures = usable_signatures(self._known_issues.list(problems), datetime.now(UTC).date(), problems)
        budget = FetchBudget(self._fetch.max_file_bytes, self._fetch.max_run_bytes)
        try:
            # A CI's API may live beside the log URL (openQA), or need a token (GitHub):
            # the source's layout says where to root the tree and how to reach it.
            tree = open_run_tree(run, self._fetch, budget, self._api_tokens)
        except FetchRefused as exc:
            report = analyze_refused(run, str(exc), signatures, self._rules)
        else:
            report = analyze_run(run, tree, signatures, self._rules, self._layout)
        report.notes.extend(problems)
        return report


def usable_signatures(issues: list[KnownIssue], today: date, problems: list[str]) -> SignatureSet:
    """The signatures that compile. One bad stored item must not fail every analysis: it is
    left out and described in `problems` (the report's notes), and the rest still match."""
    try:
        return SignatureSet(issues, today)
    except InvalidSignature:
        good = []
        for issue in issues:
            try:
                compile_pattern(issue.pattern, issue.multiline)
            except InvalidSignature as exc:
                problems.append(f"known issue {issue.id} was skipped: {exc}")
            else:
                good.append(issue)
        return SignatureSet(good, today)


class _RefusedTree:
    """A log tree that could not be opened at all: every read raises the refusal."""

    def __init__(self, location: str, reason: str) -> None:
        self.budget = FetchBudget(0, 0)
        self._location = location
        self._reason = reason

    @property
    def root(self) -> str:
        return self._location

    def open(self, path: str) -> None:
        raise FetchRefused(self._reason)

    def url_for(self, path: str) -> str:
        return self._location


def analyze_refused(run: RunEvent, reason: str, signatures: SignatureSet, rules: InfraRuleSet) -> RunReport:
    """The report of a run whose log URL was refused: nothing fetched, and why."""
    return analyze_run(run, _RefusedTree(run.log_url, reason), signatures, rules)
