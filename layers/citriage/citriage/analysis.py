"""Analysis of one run's log tree: results, signatures, infrastructure, verdict.

Everything is streamed: a log is read line by line once, feeding the console parser and the
signature and rule scanners together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from citriage.classify import (
    ci_result_finding,
    ci_says_passed,
    classify_failure,
    explain_verdict,
    job_failure,
)
from citriage.errors import FetchFailed, FetchRefused
from citriage.fetch import LogTree, iter_lines, open_first
from citriage.models import (
    Evidence,
    Failure,
    InfraFinding,
    KnownIssue,
    RunEvent,
    RunReport,
    TestCounts,
    TestResult,
    TestStatus,
)
from citriage.parsers.console import parse_tempest_console, strip_console_prefix
from citriage.parsers.subunit import parse_subunit
from citriage.signatures import Hit, InfraRuleSet, LineScanner, SignatureSet, excerpt_of

SUBUNIT_FILES = ["testrepository.subunit"]
CONSOLE_FILES = ["job-output.txt"]
# Lines that say where a job broke, used as evidence when no test explains a failed build.
_ERROR_LINE = re.compile(r"fatal: \[[^\]]*\]: FAILED!|\bstack\.sh failed\b|^ERROR\b|^Error: ")
MAX_ERROR_LINES = 3


def count_tests(results: Iterable[TestResult]) -> TestCounts:
    """Totals of a result list; interrupted tests count as failed."""
    counts = TestCounts()
    for result in results:
        counts.total += 1
        if result.status is TestStatus.PASSED:
            counts.passed += 1
        elif result.status is TestStatus.SKIPPED:
            counts.skipped += 1
        else:
            counts.failed += 1
    return counts


class _ConsoleScan:
    """One pass over the console: signature and rule hits, and the job's own error lines."""

    def __init__(self, name: str, signatures: SignatureSet, rules: InfraRuleSet) -> None:
        self.known: LineScanner[KnownIssue] = signatures.scanner(name)
        self.infra = rules.scanner(name)
        self.name = name
        self.error_lines: list[Evidence] = []

    def lines(self, raw_lines: Iterable[str]) -> Iterator[str]:
        """Yield the lines on to a parser while scanning each."""
        for number, line in enumerate(raw_lines, 1):
            # Zuul's timestamp and host columns are not part of what a signature describes.
            text = strip_console_prefix(line)
            self.known.feed(number, text)
            self.infra.feed(number, text)
            if _ERROR_LINE.search(text):
                self.error_lines.append(
                    Evidence(kind="unexplained", file=self.name, line=number, excerpt=excerpt_of(text))
                )
                del self.error_lines[:-MAX_ERROR_LINES]
            yield line


def analyze_run(run: RunEvent, tree: LogTree, signatures: SignatureSet, rules: InfraRuleSet) -> RunReport:
    """Analyze one finished run's log tree into a report.

    Never raises for bad or missing logs: what could not be read is said in the report's notes.
    """
    notes = tree.budget.notes
    job_signatures = signatures.for_job(run.job)
    results: list[TestResult] = []
    results_file: str | None = None
    known_hits: list[Hit[KnownIssue]] = []
    infra: list[InfraFinding] = []
    error_lines: list[Evidence] = []
    logs_read = True
    try:
        found = open_first(tree, SUBUNIT_FILES)
        if found is not None:
            results_file, stream = found
            with stream:
                results = parse_subunit(stream, results_file, notes)
        console = open_first(tree, CONSOLE_FILES)
        if console is not None:
            name, stream = console
            scan = _ConsoleScan(name, job_signatures, rules)
            with stream:
                lines = scan.lines(iter_lines(stream))
                if results_file is None:
                    results = parse_tempest_console(lines)
                    results_file = name if results else None
                else:
                    for _ in lines:
                        pass
            known_hits = scan.known.hits
            infra.extend(
                InfraFinding(
                    rule=h.item.id, category=h.item.category, file=h.file, line=h.line, excerpt=h.excerpt
                )
                for h in scan.infra.hits
            )
            error_lines = scan.error_lines
            notes.extend(note for note in scan.known.notes + scan.infra.notes if note not in notes)
        if found is None and console is None:
            notes.append(f"No test results and no console log were found under {tree.root}.")
        elif not results:
            notes.append(
                f"No test results were found: no {' or '.join(SUBUNIT_FILES)}, "
                "and no tempest results in the console log."
            )
    except (FetchFailed, FetchRefused) as exc:
        logs_read = False
        notes.append(f"Logs unavailable: {exc}")

    ci_infra = ci_result_finding(run, rules)
    if ci_infra is not None:
        infra.insert(0, ci_infra)
    failures = [
        classify_failure(result, job_signatures, rules, known_hits, ci_infra)
        for result in results
        if result.status in (TestStatus.FAILED, TestStatus.INTERRUPTED)
    ]
    if not failures and not infra and logs_read and ci_says_passed(run) is False:
        extra = job_failure(run, bool(results), known_hits, error_lines)
        failures = [extra] if extra else []
    verdict, verdict_reason = explain_verdict(run, bool(results), failures, infra, logs_read)
    _note_interrupted(failures, notes)
    return RunReport(
        run=run,
        verdict=verdict,
        tests=count_tests(results),
        failures=failures,
        infra=infra,
        notes=notes,
        results_file=results_file,
        verdict_reason=verdict_reason,
        analyzed_at=datetime.now(UTC),
    )


def _note_interrupted(failures: list[Failure], notes: list[str]) -> None:
    interrupted = sum(1 for f in failures if f.status is TestStatus.INTERRUPTED)
    if interrupted:
        notes.append(f"{interrupted} test(s) started but never finished: the job was cut off under them.")
