"""`citriage known-issues import|export|list|add|remove|test`: signatures in YAML files and the table.

`test` replays candidate signatures over the stored runs before they are saved, and reports
their hits on failed runs and on passed runs: a good signature does not hit passing runs
(elastic-recheck's rule, checked for you). Stored reports hold each failure's traceback and
the log lines used as evidence; `--fetch` also reads each run's console log again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from citriage.analyze.classify import search_failure_text
from citriage.analyze.logs.fetch import open_first, open_log_tree
from citriage.analyze.logs.streams import iter_lines
from citriage.analyze.matching.compiled import Hit
from citriage.analyze.parsers.console import strip_console_prefix
from citriage.analyze.pipeline import CONSOLE_FILES
from citriage.config import FetchSettings
from citriage.errors import FetchFailed, FetchRefused
from citriage.known_issues.signatures import SignatureSet
from citriage.models import KnownIssue, RunReport, Verdict

# Hits listed per signature and kind of run; the counts are always complete.
MAX_LISTED_HITS = 10


# ------------------------------------------------------------------------------ replay


@dataclass(frozen=True)
class ReplayHit:
    """One place a candidate signature matched in a stored run."""

    run_id: str
    job: str
    verdict: Verdict
    where: str
    excerpt: str


@dataclass
class ReplayResult:
    """A candidate's hits over the stored runs, split by failed and passed runs."""

    issue: KnownIssue
    failed_runs: int = 0
    passed_runs: int = 0
    failed_hits: list[ReplayHit] = field(default_factory=list)
    passed_hits: list[ReplayHit] = field(default_factory=list)
    failed_runs_hit: set[str] = field(default_factory=set)
    passed_runs_hit: set[str] = field(default_factory=set)
    passed_runs_without_text: int = 0
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def count_run(self, report: RunReport, had_text: bool) -> None:
        """Count a run the candidate was searched over."""
        if report.verdict is Verdict.PASSED:
            self.passed_runs += 1
            self.passed_runs_without_text += 0 if had_text else 1
        else:
            self.failed_runs += 1

    def add_hit(self, report: RunReport, where: str, excerpt: str) -> None:
        """Record one hit in a run (the first few are listed; every run is counted)."""
        # A stored evidence line and the same line read again from the console are one hit.
        if (report.run_id, where) in self._seen:
            return
        self._seen.add((report.run_id, where))
        passed = report.verdict is Verdict.PASSED
        (self.passed_runs_hit if passed else self.failed_runs_hit).add(report.run_id)
        listed = self.passed_hits if passed else self.failed_hits
        if len(listed) < MAX_LISTED_HITS:
            listed.append(ReplayHit(report.run_id, report.run.job, report.verdict, where, excerpt))

    @property
    def verdict(self) -> str:
        """`bad`: it hits a passing run; `inconclusive`: no passing run had text to check it
        against (stored passing runs hold none: --fetch reads their logs); `good` otherwise."""
        if self.passed_runs_hit:
            return "bad"
        if self.passed_runs == self.passed_runs_without_text:
            return "inconclusive"
        return "good"

    @property
    def good(self) -> bool:
        """A good signature hits no passing run, and some passing run was checked."""
        return self.verdict == "good"

    def to_json(self) -> dict[str, Any]:
        """The result as plain data (for `--format json`)."""
        return {
            "id": self.issue.id,
            "pattern": self.issue.pattern,
            "good": self.good,
            "verdict": self.verdict,
            "failed_runs": self.failed_runs,
            "failed_runs_hit": sorted(self.failed_runs_hit),
            "passed_runs": self.passed_runs,
            "passed_runs_hit": sorted(self.passed_runs_hit),
            "passed_runs_without_text": self.passed_runs_without_text,
            "hits": [
                {
                    "run_id": h.run_id,
                    "job": h.job,
                    "verdict": h.verdict.value,
                    "where": h.where,
                    "excerpt": h.excerpt,
                }
                for h in self.failed_hits + self.passed_hits
            ],
        }


# Reads a run's console log again: yields (file name, lines) or raises FetchFailed/FetchRefused.
LogReader = Callable[[RunReport], Iterator[tuple[str, Iterable[str]]]]


def stored_texts(report: RunReport) -> Iterator[tuple[str | None, str, str]]:
    """The texts a stored report holds: (test id or None, where, text) for each failure's
    traceback, each evidence line and each infrastructure finding."""
    for failure in report.failures:
        if failure.details:
            yield failure.test_id, f"traceback of {failure.test_id}", failure.details
        for evidence in failure.evidence:
            if evidence.excerpt and evidence.file and evidence.file != "traceback":
                yield failure.test_id, f"{evidence.file}:{evidence.line or '?'}", evidence.excerpt
    for finding in report.infra:
        if finding.excerpt and finding.file:
            yield None, f"{finding.file}:{finding.line or '?'}", finding.excerpt


def replay(
    candidates: list[KnownIssue],
    reports: Iterable[RunReport],
    today: date,
    read_logs: LogReader | None = None,
    notes: list[str] | None = None,
) -> list[ReplayResult]:
    """Search each candidate over every stored run (its scopes respected) and sort the hits
    into failed and passed runs. With `read_logs`, each run's console is searched too."""
    results = {issue.id: ReplayResult(issue) for issue in candidates}
    signatures = SignatureSet(candidates, today)
    notes = notes if notes is not None else []
    for report in reports:
        job_signatures = signatures.for_job(report.run.job)
        hits, had_text = _hits_in_report(
            job_signatures, report, read_logs, notes if notes is not None else []
        )
        for result in results.values():
            if result.issue.is_active(today) and result.issue.applies_to_job(report.run.job):
                result.count_run(report, had_text)
        for issue, where, excerpt in hits:
            results[issue.id].add_hit(report, where, excerpt)
    return list(results.values())


def _hits_in_report(
    signatures: SignatureSet, report: RunReport, read_logs: LogReader | None, notes: list[str]
) -> tuple[list[tuple[KnownIssue, str, str]], bool]:
    hits: list[tuple[KnownIssue, str, str]] = []
    had_text = False
    for test_id, where, text in stored_texts(report):
        had_text = True
        for hit in search_failure_text(signatures, text, where):
            if test_id is None or hit.item.applies_to_test(test_id):
                hits.append((hit.item, _where(where, hit), hit.excerpt))
    if read_logs is None:
        return hits, had_text
    try:
        for name, lines in read_logs(report):
            had_text = True
            scanner = signatures.scanner(name)
            for number, line in enumerate(lines, 1):
                scanner.feed(number, strip_console_prefix(line))
            hits.extend((h.item, f"{h.file}:{h.line}", h.excerpt) for h in scanner.hits)
    except (FetchFailed, FetchRefused) as exc:
        notes.append(f"{report.run_id}: logs not read: {exc}")
    return hits, had_text


def _where(where: str, hit: Hit[KnownIssue]) -> str:
    return f"{where} line {hit.line}" if where.startswith("traceback") and hit.line else where


def console_reader(settings: FetchSettings) -> LogReader:
    """Reads a stored run's console log from its log URL, under the usual fetch rules."""

    def read(report: RunReport) -> Iterator[tuple[str, Iterable[str]]]:
        tree = open_log_tree(report.run.log_url, settings)
        found = open_first(tree, CONSOLE_FILES)
        if found is None:
            return
        name, stream = found
        with stream:
            yield name, iter_lines(stream)

    return read


def format_replay(results: list[ReplayResult], fetched: bool) -> str:
    """The terminal report of a replay."""
    lines = []
    for result in results:
        issue = result.issue
        lines.append(f"{issue.id}: {issue.pattern!r}")
        lines.append(f"  failed runs: {len(result.failed_runs_hit)} hit of {result.failed_runs}")
        lines.extend(f"    {_format_hit(h)}" for h in result.failed_hits)
        unread = ""
        if result.passed_runs_without_text and not fetched:
            unread = f" ({result.passed_runs_without_text} held no text: --fetch reads their logs)"
        lines.append(f"  passed runs: {len(result.passed_runs_hit)} hit of {result.passed_runs}{unread}")
        lines.extend(f"    {_format_hit(h)}" for h in result.passed_hits)
        if result.verdict == "good":
            lines.append("  => good: it hits no passing run")
        elif result.verdict == "inconclusive":
            lines.append(
                "  => inconclusive: no passing run had text to check it against (--fetch reads their logs)"
            )
        else:
            lines.append(
                "  => BAD: it hits passing runs; a good signature does not (narrow the pattern or scope it)"
            )
    return "\n".join(lines)


def _format_hit(hit: ReplayHit) -> str:
    return f"{hit.run_id} {hit.job} [{hit.verdict.value}] {hit.where}: {hit.excerpt[:160]}"


# ------------------------------------------------------------------------------ CLI
