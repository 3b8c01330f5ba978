"""Analysis of one run's log tree: results, signatures, infrastructure, verdict.

Everything is streamed: a log is read line by line once, feeding the console parser and the
signature and rule scanners together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from citriage.analyze.classify import (
    ci_result_finding,
    ci_says_passed,
    classify_failure,
    explain_verdict,
    job_failure,
)
from citriage.analyze.locate import layout_for
from citriage.analyze.logs.fetch import iter_lines
from citriage.analyze.logs.layouts import Discovery, ResultKind
from citriage.analyze.logs.readers import (
    ReadContext,
    open_found,
    read_all_components,
    read_failed_task,
    read_fallback,
    read_results,
)
from citriage.analyze.matching.compiled import Hit, excerpt_of
from citriage.analyze.matching.engine import LineScanner
from citriage.analyze.matching.infra_rules import InfraRuleSet
from citriage.analyze.parsers.console import parse_tempest_console, strip_console_prefix
from citriage.analyze.parsers.zuul_json import FailedTask
from citriage.config import LayoutSettings
from citriage.errors import FetchFailed, FetchRefused
from citriage.known_issues.signatures import SignatureSet
from citriage.models import (
    Classification,
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
from citriage.ports import LogTree

# The console of a Zuul log tree (the known-issues replay reads it; analysis finds consoles by layout).
CONSOLE_FILES = ["job-output.txt"]
# Lines that say where a job broke, used as evidence when no test explains a failed build.
_ERROR_LINE = re.compile(r"fatal: \[[^\]]*\]: FAILED!|\bstack\.sh failed\b|^ERROR\b|^Error: ")
MAX_ERROR_LINES = 3


def _may_be_error_line(text: str) -> bool:
    """A cheap test that rules out most lines before _ERROR_LINE's regex decides."""
    return text.startswith(("ERROR", "Error: ")) or "FAILED!" in text or "stack.sh failed" in text


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
        """Yield the lines, without Zuul's columns, on to a parser while scanning each."""
        for number, line in enumerate(raw_lines, 1):
            # Zuul's timestamp and host columns are not part of what a signature describes.
            text = strip_console_prefix(line)
            self.known.feed(number, text)
            self.infra.feed(number, text)
            if _may_be_error_line(text) and _ERROR_LINE.search(text):
                self.error_lines.append(
                    Evidence(kind="unexplained", file=self.name, line=number, excerpt=excerpt_of(text))
                )
                del self.error_lines[:-MAX_ERROR_LINES]
            yield text


@dataclass
class _RunReading:
    """Everything read from a run's logs, before classification."""

    results: list[TestResult] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    known_hits: list[Hit[KnownIssue]] = field(default_factory=list)
    infra: list[InfraFinding] = field(default_factory=list)
    error_lines: list[Evidence] = field(default_factory=list)
    failed_task: FailedTask | None = None
    logs_read: bool = True


def _scan_console(
    tree: LogTree, found: Discovery, reading: _RunReading, signatures: SignatureSet, rules: InfraRuleSet
) -> bool:
    """Scan the console for signatures and infra rules; read tempest results from it when
    nothing better was found. False when there is no console."""
    notes = tree.budget.notes
    console = next(
        (opened for path in found.console if (opened := open_found(tree, path, found.probe, notes))),
        None,
    )
    if console is None:
        return False
    name, stream = console
    scan = _ConsoleScan(name, signatures, rules)
    with stream:
        lines = scan.lines(iter_lines(stream))
        if not reading.results:
            reading.results = parse_tempest_console(lines, prefixed=False)
            reading.files = [name] if reading.results else []
        else:
            for _ in lines:
                pass
    reading.known_hits = scan.known.hits
    reading.infra.extend(
        InfraFinding(rule=h.item.id, category=h.item.category, file=h.file, line=h.line, excerpt=h.excerpt)
        for h in scan.infra.hits
    )
    reading.error_lines = scan.error_lines
    notes.extend(note for note in scan.known.notes + scan.infra.notes if note not in notes)
    return True


def _read_run(
    run: RunEvent,
    tree: LogTree,
    signatures: SignatureSet,
    rules: InfraRuleSet,
    layout: LayoutSettings,
    ctx: ReadContext,
) -> _RunReading:
    notes = ctx.notes
    reading = _RunReading()
    try:
        found = layout_for(run.source).discover(run, tree, layout, notes)
        read = read_results(tree, found, ctx, skip=frozenset({ResultKind.TEMPEST_CONSOLE}))
        reading.results, reading.files = read.results, read.files
        console_found = _scan_console(tree, found, reading, signatures, rules)
        if not reading.results:
            read = read_fallback(tree, found, ResultKind.TEMPEST_CONSOLE, ctx)
            reading.results, reading.files = read.results, read.files
        if not reading.results:
            _note_no_results(tree, found, console_found, notes)
            if ci_says_passed(run) is False:
                reading.failed_task = read_failed_task(tree, found, ctx)
        try:
            read_all_components(tree, found, ctx)
        except (FetchFailed, FetchRefused) as exc:
            notes.append(f"Component versions unavailable: {exc}")
    except (FetchFailed, FetchRefused) as exc:
        reading.logs_read = False
        notes.append(f"Logs unavailable: {exc}")
    return reading


def analyze_run(
    run: RunEvent,
    tree: LogTree,
    signatures: SignatureSet,
    rules: InfraRuleSet,
    layout: LayoutSettings | None = None,
) -> RunReport:
    """Analyze one finished run's log tree into a report.

    The run's layout (by its source: a Zuul log tree, a Jenkins build, an openQA job) says
    where the results are. `layout` adds per-job result paths. Never raises for bad or
    missing logs: what could not be read is said in the report's notes.
    """
    notes = tree.budget.notes
    job_signatures = signatures.for_job(run.job)
    ctx = ReadContext(notes)
    reading = _read_run(run, tree, job_signatures, rules, layout or LayoutSettings(), ctx)
    results, infra = reading.results, reading.infra

    ci_infra = ci_result_finding(run, rules) or ctx.ci_infra
    if ci_infra is not None:
        infra.insert(0, ci_infra)
    failures = [
        classify_failure(result, job_signatures, rules, reading.known_hits, ci_infra)
        for result in results
        if result.status in (TestStatus.FAILED, TestStatus.INTERRUPTED)
    ]
    if not failures and not infra and reading.logs_read and ci_says_passed(run) is False:
        extra = job_failure(run, bool(results), reading.known_hits, reading.error_lines)
        task = reading.failed_task
        if task is not None and (extra is None or extra.classification is Classification.NEW):
            extra = _task_failure(run, task, job_signatures, rules)
        failures = [extra] if extra else []
    verdict, verdict_reason = explain_verdict(run, bool(results), failures, infra, reading.logs_read)
    _note_interrupted(failures, notes)
    return RunReport(
        run=run,
        verdict=verdict,
        tests=count_tests(results),
        failures=failures,
        infra=infra,
        notes=notes,
        components=ctx.components,
        results_file=", ".join(reading.files[:5]) or None,
        verdict_reason=verdict_reason,
        analyzed_at=datetime.now(UTC),
    )


def _note_no_results(tree: LogTree, found: Discovery, console_found: bool, notes: list[str]) -> None:
    if found.html_results:
        notes.append(
            f"Only HTML results were found ({', '.join(found.html_results[:3])}); "
            "citriage reads subunit, JUnit XML and CI APIs, not HTML."
        )
    elif not console_found:
        notes.append(f"No test results and no console log were found under {tree.root} ({found.method}).")
    else:
        notes.append(
            "No test results were found: no subunit stream, JUnit XML or CI test report "
            f"({found.method}), and no tempest results in the console log."
        )


def _task_failure(run: RunEvent, task: FailedTask, signatures: SignatureSet, rules: InfraRuleSet) -> Failure:
    """The failure of a job that ran no tests: the Ansible task that failed, classified by
    its own output like a traceback."""
    result = TestResult(
        test_id=f"job:{run.job}", status=TestStatus.FAILED, details=f"{task.summary()}\n{task.output}"
    )
    failure = classify_failure(result, signatures, rules, [], None)
    if failure.classification is Classification.NEW:
        last = next((line for line in reversed(task.output.splitlines()) if line.strip()), "")
        failure.evidence = [
            Evidence(
                kind="unexplained",
                file="job-output.json",
                excerpt=f"{task.summary()}: {last}"[:500],
            )
        ]
    return failure


def _note_interrupted(failures: list[Failure], notes: list[str]) -> None:
    interrupted = sum(1 for f in failures if f.status is TestStatus.INTERRUPTED)
    if interrupted:
        notes.append(f"{interrupted} test(s) started but never finished: the job was cut off under them.")
