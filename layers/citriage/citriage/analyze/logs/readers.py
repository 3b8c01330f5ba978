"""Reading a run's results from the files its layout found: one reader per result kind.

Readers never raise for bad content: what they could not read goes to the notes. Every result
kind has its reader in `READERS`, listed once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from citriage.analyze.components import merge_components, read_components
from citriage.analyze.logs.layouts import Discovery, ResultKind
from citriage.analyze.logs.listing import try_open
from citriage.analyze.logs.streams import iter_lines
from citriage.analyze.parsers.console import parse_tempest_console
from citriage.analyze.parsers.gitlab import parse_gitlab_test_report
from citriage.analyze.parsers.jenkins import parse_jenkins_test_report, read_json
from citriage.analyze.parsers.junit import parse_junit
from citriage.analyze.parsers.openqa import INFRA_RESULTS, parse_openqa_details
from citriage.analyze.parsers.subunit import stream_subunit
from citriage.analyze.parsers.zuul_json import FailedTask, find_failed_task
from citriage.analyze.tally import ResultsRead, ResultTally, TextJudge
from citriage.models import InfraFinding, TestResult
from citriage.ports import LogTree


@dataclass
class ReadContext:
    """What readers add besides test results: notes, CI findings, component versions."""

    notes: list[str]
    ci_infra: InfraFinding | None = None
    components: dict[str, str] = field(default_factory=dict)
    # Judges the text of failures kept compact as they are read (citriage.analyze.tally).
    judge: TextJudge | None = None


# A reader hands each result to `emit` as it parses it; what it keeps meanwhile is bounded.
Emit = Callable[[TestResult], None]
ResultReader = Callable[[BinaryIO, str, ReadContext, Emit], None]


def _subunit(stream: BinaryIO, name: str, ctx: ReadContext, emit: Emit) -> None:
    stream_subunit(stream, name, ctx.notes, emit)


def _junit(stream: BinaryIO, name: str, ctx: ReadContext, emit: Emit) -> None:
    for result in parse_junit(stream, name, ctx.notes):
        emit(result)


def _tempest_console(stream: BinaryIO, name: str, ctx: ReadContext, emit: Emit) -> None:
    # The console is read under its byte cap, which bounds what the parser keeps.
    for result in parse_tempest_console(iter_lines(stream)):
        emit(result)


def _jenkins(stream: BinaryIO, name: str, ctx: ReadContext, emit: Emit) -> None:
    document = read_json(stream, name, ctx.notes)
    for result in [] if document is None else parse_jenkins_test_report(document, name, ctx.notes):
        emit(result)


def _gitlab(stream: BinaryIO, name: str, ctx: ReadContext, emit: Emit) -> None:
    document = read_json(stream, name, ctx.notes)
    results = [] if document is None else parse_gitlab_test_report(document, name, ctx.notes)
    if document is not None and not results:
        ctx.notes.append("The pipeline has no test report (no job publishes artifacts:reports:junit).")
    for result in results:
        emit(result)


def _openqa(stream: BinaryIO, name: str, ctx: ReadContext, emit: Emit) -> None:
    document = read_json(stream, name, ctx.notes)
    job = None if document is None else parse_openqa_details(document, name, ctx.notes)
    if job is None:
        return
    if job.result in INFRA_RESULTS:
        reason = job.reason or "no reason given"
        ctx.ci_infra = InfraFinding(
            rule=f"openqa-result-{job.result}",
            category="ci",
            file=name,
            excerpt=f"openQA job {job.job_id} ended {job.result}: {reason}"[:500],
        )
    elif job.reason:
        ctx.notes.append(f"openQA says: {job.reason[:300]}")
    wanted = ("DISTRI", "VERSION", "FLAVOR", "ARCH", "BUILD", "MACHINE")
    merge_components(ctx.components, {k: job.settings[k] for k in wanted if k in job.settings}, ctx.notes)
    for module in job.modules:
        emit(module)


READERS: Mapping[str, ResultReader] = {
    ResultKind.SUBUNIT: _subunit,
    ResultKind.JUNIT: _junit,
    ResultKind.TEMPEST_CONSOLE: _tempest_console,
    ResultKind.JENKINS_REPORT: _jenkins,
    ResultKind.OPENQA_DETAILS: _openqa,
    ResultKind.GITLAB_REPORT: _gitlab,
}


def open_found(
    tree: LogTree, path: str, probe: bool, notes: list[str], tail_bytes: int = 0
) -> tuple[str, BinaryIO] | None:
    """Open a found file; when probing, try its `.gz` variant too (not for API queries)."""
    plain_file = probe and not path.endswith(".gz") and "?" not in path
    for variant in (path, f"{path}.gz") if plain_file else (path,):
        stream = try_open(tree, variant, notes, tail_bytes)
        if stream is not None:
            # An API query (Jenkins' ?tree=...) is not part of the file's name in a report.
            return variant.split("?", 1)[0], stream
    return None


def read_results(
    tree: LogTree, found: Discovery, ctx: ReadContext, skip: frozenset[str] = frozenset()
) -> ResultsRead:
    """Read the best result format found (every file of it, merged per test).

    Kinds in `skip` are left for the caller (the tempest console is only a fallback).
    """
    for kind, paths in found.results_by_priority():
        if kind in skip:
            continue
        reader = READERS.get(kind)
        if reader is None:
            ctx.notes.append(f"No reader for {kind} results; skipped {', '.join(paths[:3])}.")
            continue
        read = _read_kind(tree, paths, kind, found.probe, ctx)
        if read.found:
            return read
    return ResultsRead()


def read_fallback(tree: LogTree, found: Discovery, kind: str, ctx: ReadContext) -> ResultsRead:
    """Read the files of one kind only (used for the tempest console fallback)."""
    paths = [f.path for f in found.results if f.kind == kind]
    reader = READERS.get(kind)
    return _read_kind(tree, paths, kind, found.probe, ctx) if reader and paths else ResultsRead()


# At most this many result files of one format, and component files, are read in one run.
MAX_RESULT_FILES = 200
MAX_COMPONENT_FILES = 20
# Formats told apart by their content, whatever a file is called.
_SNIFFED = frozenset({ResultKind.JUNIT, ResultKind.SUBUNIT})
_XML_PROLOGUE = re.compile(
    rb"\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)*<(?P<root>[\w:.-]+)",
    re.S,
)
_SUBUNIT_V1 = re.compile(rb"^(?:test|testing|time|tags|progress|success|successful|failure|error|skip)[: ]")


def sniff_format(stream: BinaryIO) -> tuple[ResultKind | None, str]:
    """What a result file is by its first bytes: subunit v2's 0xB3 packets, subunit v1's lines, or
    XML whose root is <testsuite>/<testsuites>; with a word on what it is otherwise."""
    peek = getattr(stream, "peek", None)
    head = bytes(peek(4096)[:4096]) if peek is not None else b""
    if head[:1] == b"\xb3":
        return ResultKind.SUBUNIT, "subunit v2"
    text = head.removeprefix(b"\xef\xbb\xbf")
    xml = _XML_PROLOGUE.match(text)
    if xml:
        root = xml["root"].rsplit(b":", 1)[-1].decode("ascii", "replace")
        if root in ("testsuite", "testsuites"):
            return ResultKind.JUNIT, "JUnit XML"
        return None, f"XML whose root is <{root}>, not a JUnit report"
    if _SUBUNIT_V1.match(text.lstrip()):
        return ResultKind.SUBUNIT, "subunit v1"
    return None, "neither JUnit XML nor subunit" if head else "empty"


def _read_kind(tree: LogTree, paths: list[str], kind: str, probe: bool, ctx: ReadContext) -> ResultsRead:
    tally = ResultTally(ctx.judge)
    unique = list(dict.fromkeys(paths))
    if len(unique) > MAX_RESULT_FILES:
        # One webhook must not cost a hundred thousand requests (a manifest can list anything).
        ctx.notes.append(
            f"Read the first {MAX_RESULT_FILES} of {len(unique)} {kind} result files; the rest were skipped."
        )
        unique = unique[:MAX_RESULT_FILES]
    for path in unique:
        opened = open_found(tree, path, probe, ctx.notes)
        if opened is None:
            continue
        name, stream = opened
        sink = tally.file(name)
        with stream:
            reader = READERS.get(kind)
            if kind in _SNIFFED:
                sniffed, what = sniff_format(stream)
                if sniffed is None:
                    ctx.notes.append(f"Skipped {name}: {what}.")
                    continue
                reader = READERS[sniffed]
            if reader:
                reader(stream, name, ctx, sink.add)
        if not sink.count:
            ctx.notes.append(f"{name}: no test results in it.")
    # Each file's environment replaces what a reader put in `env` (a JUnit suite's name).
    return tally.settle()


def read_failed_task(tree: LogTree, found: Discovery, ctx: ReadContext) -> FailedTask | None:
    """The task that failed a Zuul job, from its `job-output.json`."""
    for path in found.job_json:
        opened = open_found(tree, path, found.probe, ctx.notes)
        if opened is None:
            continue
        name, stream = opened
        with stream:
            document = read_json(stream, name, ctx.notes)
        task = None if document is None else find_failed_task(document, name, ctx.notes)
        if task is not None:
            return task
    return None


def read_all_components(tree: LogTree, found: Discovery, ctx: ReadContext) -> dict[str, str]:
    """Component versions from the component files found (at most MAX_COMPONENT_FILES), earlier first."""
    for item in found.components[:MAX_COMPONENT_FILES]:
        opened = open_found(tree, item.path, found.probe, ctx.notes)
        if opened is None:
            continue
        name, stream = opened
        with stream:
            merge_components(ctx.components, read_components(item.kind, stream, name, ctx.notes), ctx.notes)
    return ctx.components
