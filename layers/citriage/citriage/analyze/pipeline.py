"""Analysis of one run's log tree, as stages called once, in order, each returning a value:

1. `discover` the files (the run's layout)         -> Discovery
2. `read_test_results` in the best format found     -> ResultsRead
3. `scan_console` once for signatures, rules, errors -> ConsoleScan
4. `settle_results` (the tempest console fallbacks) -> ResultsRead
5. `read_job_record`: components, the failed task   -> FailedTask | None
6. `classify_run`: failures, verdict                -> RunReport

(Locating the tree, stage 0, is `citriage.analyze.locate`.) Everything is streamed: a log is
read line by line once, feeding the console parser and the signature and rule scanners together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from citriage.analyze.classify import (
    ci_result_finding,
    ci_says_passed,
    classify_failure,
    explain_verdict,
    group_unlisted,
    job_failure,
    text_judge,
)
from citriage.analyze.console_scan import ConsoleScan, scan_console_stream
from citriage.analyze.locate import layout_for
from citriage.analyze.logs.layouts import Discovery, ResultKind
from citriage.analyze.logs.readers import (
    ReadContext,
    open_found,
    read_all_components,
    read_failed_task,
    read_fallback,
    read_results,
)
from citriage.analyze.matching.compiled import Hit
from citriage.analyze.matching.infra_rules import InfraRuleSet
from citriage.analyze.parsers.zuul_json import FailedTask
from citriage.analyze.tally import CompactFailure, ResultsRead, tally_of
from citriage.config import LayoutSettings
from citriage.errors import FetchFailed, FetchRefused
from citriage.known_issues.signatures import SignatureSet
from citriage.models import (
    Classification,
    Evidence,
    Failure,
    KnownIssue,
    LogHit,
    RunEvent,
    RunReport,
    TestResult,
    TestStatus,
)
from citriage.ports import LogTree

# The console of a Zuul log tree (the known-issues replay reads it; analysis finds consoles by layout).
CONSOLE_FILES = ["job-output.txt"]


@dataclass
class RunReading:
    """Everything read from a run's logs, before classification."""

    results: ResultsRead = field(default_factory=ResultsRead)
    console: ConsoleScan = field(default_factory=ConsoleScan)
    failed_task: FailedTask | None = None
    logs_read: bool = True


# ---- the stages, in the order analyze_run calls them ------------------------------------------


def discover(run: RunEvent, tree: LogTree, layout: LayoutSettings, notes: list[str]) -> Discovery:
    """Stage 1: the files the run's layout finds (listed, or candidates to probe)."""
    return layout_for(run.source).discover(run, tree, layout, notes)


def read_test_results(tree: LogTree, found: Discovery, ctx: ReadContext) -> ResultsRead:
    """Stage 2: the best result format found; the tempest console is only a fallback (stage 4)."""
    return read_results(tree, found, ctx, skip=frozenset({ResultKind.TEMPEST_CONSOLE}))


def scan_console(
    tree: LogTree, found: Discovery, signatures: SignatureSet, rules: InfraRuleSet, parse_tests: bool
) -> ConsoleScan:
    """Stage 3: one streamed pass over the console for signatures, infra rules and error lines;
    with `parse_tests`, tempest results are read from it in the same pass."""
    notes = tree.budget.notes
    console = next(
        (
            opened
            for path in found.console
            if (opened := open_found(tree, path, found.probe, notes, tree.budget.console_tail_bytes))
        ),
        None,
    )
    if console is None:
        return ConsoleScan()
    name, stream = console
    with stream:
        scan, scan_notes = scan_console_stream(name, stream, signatures, rules, parse_tests)
    notes.extend(note for note in scan_notes if note not in notes)
    return scan


def settle_results(
    read: ResultsRead, console: ConsoleScan, tree: LogTree, found: Discovery, ctx: ReadContext
) -> ResultsRead:
    """Stage 4: the results to judge: a result file's, else the console's tempest results, else a
    separate tempest console log's; with none, a note says what was looked for."""
    if read.found:
        return read
    if console.results and console.name:
        return tally_of([(console.name, console.results)], ctx.judge)
    read = read_fallback(tree, found, ResultKind.TEMPEST_CONSOLE, ctx)
    if not read.found:
        _note_no_results(tree, found, console.found, ctx.notes)
    return read


def read_job_record(
    run: RunEvent, tree: LogTree, found: Discovery, ctx: ReadContext, has_results: bool
) -> FailedTask | None:
    """Stage 5: component versions (into `ctx`), and the Ansible task that failed a job that ran
    no tests (Zuul's job-output.json)."""
    task = None
    if not has_results and ci_says_passed(run) is False:
        task = read_failed_task(tree, found, ctx)
    try:
        read_all_components(tree, found, ctx)
    except (FetchFailed, FetchRefused) as exc:
        ctx.notes.append(f"Component versions unavailable: {exc}")
    return task


def read_run(
    run: RunEvent,
    tree: LogTree,
    signatures: SignatureSet,
    rules: InfraRuleSet,
    layout: LayoutSettings,
    ctx: ReadContext,
) -> RunReading:
    """Stages 1-5 in order; a log tree that cannot be read at all ends them with a note."""
    reading = RunReading()
    try:
        found = discover(run, tree, layout, ctx.notes)
        # Kept as each stage ends: a tree that fails later keeps what was read before.
        reading.results = read_test_results(tree, found, ctx)
        reading.console = scan_console(tree, found, signatures, rules, parse_tests=not reading.results.found)
        reading.results = settle_results(reading.results, reading.console, tree, found, ctx)
        reading.failed_task = read_job_record(run, tree, found, ctx, reading.results.found)
    except (FetchFailed, FetchRefused) as exc:
        reading.logs_read = False
        ctx.notes.append(f"Logs unavailable: {exc}")
        return reading
    if not reading.results.found and tree.budget.refusals:
        # A refused request may have held the results: what was read cannot be judged a pass.
        reading.logs_read = False
        ctx.notes.append(f"Logs unavailable: {tree.budget.refusals[0]}")
    return reading


def analyze_run(
    run: RunEvent,
    tree: LogTree,
    signatures: SignatureSet,
    rules: InfraRuleSet,
    layout: LayoutSettings | None = None,
) -> RunReport:
    """Analyze one finished run's log tree into a report: read it (stages 1-5), then classify.

    The run's layout (by its source: a Zuul log tree, a Jenkins build, an openQA job) says
    where the results are. `layout` adds per-job result paths. Never raises for bad or
    missing logs: what could not be read is said in the report's notes.
    """
    notes = tree.budget.notes
    job_signatures = signatures.for_job(run.job)
    ctx = ReadContext(notes, judge=text_judge(job_signatures, rules))
    reading = read_run(run, tree, job_signatures, rules, layout or LayoutSettings(), ctx)
    return classify_run(run, reading, ctx, job_signatures, rules)


def classify_run(
    run: RunEvent, reading: RunReading, ctx: ReadContext, signatures: SignatureSet, rules: InfraRuleSet
) -> RunReport:
    """Stage 6: each failure classified, the verdict decided (docs/classification.md), the report."""
    notes = ctx.notes
    read = reading.results
    console = reading.console
    infra = list(console.infra)
    ci_infra = ci_result_finding(run, rules) or ctx.ci_infra
    if ci_infra is not None:
        infra.insert(0, ci_infra)
    failures = [
        classify_failure(result, signatures, rules, console.known_hits, ci_infra) for result in read.failed
    ]
    unlisted = group_unlisted(read.compact, console.known_hits, ci_infra)
    if read.compact:
        notes.append(
            f"{read.tests.failed} tests failed: the first {len(failures)} are listed in full, "
            f"the other {len(read.compact)} grouped by cause and message."
        )
    if not failures and not unlisted and not infra and reading.logs_read and ci_says_passed(run) is False:
        extra = job_failure(run, read.found, console.known_hits, console.error_lines)
        task = reading.failed_task
        if task is not None and (extra is None or extra.classification is Classification.NEW):
            extra = _task_failure(run, task, signatures, rules)
        failures = [extra] if extra else []
    verdict, verdict_reason = explain_verdict(run, read.found, failures, infra, reading.logs_read, unlisted)
    log_hits = unexplained_log_hits(console.known_hits, failures)
    _note_interrupted(failures, read.compact, notes)
    omitted: dict[str, int] = {}
    for group in unlisted:
        omitted[group.classification.value] = omitted.get(group.classification.value, 0) + group.count
    return RunReport(
        run=run,
        verdict=verdict,
        tests=read.tests,
        failures=failures,
        unlisted=unlisted,
        omitted_failures=omitted,
        infra=infra,
        log_hits=log_hits,
        notes=notes,
        components=ctx.components,
        results_file=", ".join(read.files[:5]) or None,
        verdict_reason=verdict_reason,
        logs_read=reading.logs_read,
        analyzed_at=datetime.now(UTC),
    )


# Known issues seen in the logs, listed at most this many times in all (a few per signature).
MAX_LOG_HITS = 30


def unexplained_log_hits(hits: Sequence[Hit[KnownIssue]], failures: Sequence[Failure]) -> list[LogHit]:
    """The signature hits in the logs that explain no failure: news for the reader (the bug was
    around), never an explanation of anything."""
    explaining = {e.matched_by for f in failures for e in f.evidence if e.kind == "signature"}
    return [
        LogHit(issue=hit.item.ref(), file=hit.file, line=hit.line, excerpt=hit.excerpt)
        for hit in hits
        if hit.item.id not in explaining
    ][:MAX_LOG_HITS]


# What a user reads when nothing was found: what was looked for, and how to point at a file.
LOOKED_FOR = (
    "Looked for subunit (*.subunit, .stestr/<n>), JUnit XML (junit*.xml, *junit*.xml, TEST-*.xml, "
    "*results*.xml, xunit.xml, any .xml under test-results/ or test-reports/) and tempest console "
    "logs; name other files with `citriage analyze --results GLOB` or the RESULT_PATHS setting."
)


def _note_no_results(tree: LogTree, found: Discovery, console_found: bool, notes: list[str]) -> None:
    if found.html_results:
        notes.append(
            f"Only HTML results were found ({', '.join(found.html_results[:3])}); "
            "citriage reads subunit, JUnit XML and CI APIs, not HTML."
        )
    elif not console_found:
        notes.append(
            f"No test results and no console log were found under {tree.root} ({found.method}). {LOOKED_FOR}"
        )
    else:
        notes.append(
            "No test results were found: no subunit stream, JUnit XML or CI test report "
            f"({found.method}), and no tempest results in the console log. {LOOKED_FOR}"
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


def _note_interrupted(failures: list[Failure], compact: list[CompactFailure], notes: list[str]) -> None:
    statuses = [f.status for f in failures] + [f.status for f in compact]
    interrupted = statuses.count(TestStatus.INTERRUPTED)
    if interrupted:
        notes.append(f"{interrupted} test(s) started but never finished: the job was cut off under them.")
