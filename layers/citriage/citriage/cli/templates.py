"""`citriage templates check [DIR]`: render every mail template against specimen runs.

A site checks its template directory before uploading it: every template is rendered with
StrictUndefined for every verdict, as a run and as a "fixed" mail, with and without history;
a missing field, a `None`, or a script, style sheet or external asset in the HTML is an error.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes

from citriage.models import (
    Classification,
    Evidence,
    Failure,
    InfraFinding,
    KnownIssueRef,
    RunEvent,
    RunReport,
    Subscription,
    TestCounts,
    Verdict,
)
from citriage.notify.digest import build_digest
from citriage.notify.history import RunRecord, judge_issue, judge_test
from citriage.notify.render import MailRenderer, site_loader
from citriage.notify.view import MailContext, build_view

PACKAGED_KINDS = ("tempest", "junit", "openqa", "infra")
FORBIDDEN_HTML = re.compile(r"<script|<style|<img|<link|<iframe|\ssrc=|url\(", re.IGNORECASE)
_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def specimen_reports() -> Iterator[RunReport]:
    """Runs of every verdict: one with every field filled, and bare ones."""
    issue = KnownIssueRef(id="LP-1", bug_url="https://bugs.example.org/1", title="Known bug")
    failures = [
        Failure(
            test_id="suite.module.Class.test_new[id-1]",
            classification=Classification.NEW,
            evidence=[Evidence(kind="unexplained", file="traceback", excerpt="AssertionError")],
            details="Traceback\nAssertionError: 1 != 2",
        ),
        Failure(
            test_id="suite.module.Class.test_known",
            classification=Classification.KNOWN,
            known_issue=issue,
            evidence=[
                Evidence(kind="signature", matched_by="LP-1", file="job-output.txt", line=7, excerpt="x")
            ],
        ),
        Failure(
            test_id="suite.module.Class.test_infra",
            classification=Classification.INFRA,
            evidence=[
                Evidence(kind="infra_rule", matched_by="dns", file="job-output.txt", line=9, excerpt="dns")
            ],
        ),
    ]
    full_run = RunEvent(
        source="zuul",
        job="specimen-job",
        build_id="b1",
        result="FAILURE",
        log_url="https://logs.example.org/b1/",
        web_url="https://ci.example.org/build/b1",
        pipeline="check",
        project="org/project",
        branch="main",
        change="1",
        patchset="2",
        change_url="https://review.example.org/1",
        start_time=_AT - timedelta(minutes=30),
        end_time=_AT,
    )
    yield RunReport(
        run=full_run,
        verdict=Verdict.FAILED_NEW,
        tests=TestCounts(total=10, passed=7, failed=3),
        failures=failures,
        infra=[InfraFinding(rule="dns", category="network", file="job-output.txt", line=9, excerpt="dns")],
        notes=["A note."],
        components={"product": "1.0"},
        results_file="results.xml",
        analyzed_at=_AT,
    )
    bare = RunEvent(source="generic", job="bare-job", build_id="b2", log_url="https://logs.example.org/b2/")
    for verdict in Verdict:
        yield RunReport(run=bare, verdict=verdict, tests=TestCounts(), analyzed_at=_AT)


def _contexts(report: RunReport) -> Iterator[tuple[str, MailContext | None]]:
    yield "bare", None
    earlier = RunRecord.from_report(report).model_copy(
        update={"run_id": "zuul:b0", "when": _AT - timedelta(days=1)}
    )
    records = [RunRecord.from_report(report), earlier]
    context = MailContext(
        reason="you subscribed to this job",
        yours=[f.test_id for f in report.failures[:1]],
        tests_history={f.test_id: judge_test(f.test_id, records, 20) for f in report.failures},
        issues_history={"LP-1": judge_issue("LP-1", records, 20)},
        history_runs=2,
        previous=earlier,
        fixed_tests=list(earlier.failed),
    )
    yield "with history", context
    yield "fixed", context.model_copy(update={"kind": "fixed"})


def _where(exc: BaseException) -> str:
    """`template:line` of a template error: its own for a syntax error, else the innermost
    template frame of its traceback (Jinja2 maps them to the template's lines)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or exc.name or 'template'}:{exc.lineno}"
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            where = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where or "template"


def _blocks(env: jinja2.Environment, name: str) -> tuple[str | None, dict[str, int]]:
    """A template's parent (what it extends) and the blocks it defines, with their lines."""
    source, filename, _ = env.loader.get_source(env, name) if env.loader else ("", None, None)
    tree = env.parse(source, name, filename)
    parent = tree.find(nodes.Extends)
    parent_name = parent.template.value if parent and isinstance(parent.template, nodes.Const) else None
    return parent_name, {block.name: block.lineno for block in tree.find_all(nodes.Block)}


def unknown_blocks(renderer: MailRenderer, directory: Path) -> list[str]:
    """A site template's blocks that no template it extends defines: they would never render."""
    problems = []
    for env in renderer.environments:
        for path in sorted(directory.glob("*.j2")):
            try:
                parent, defined = _blocks(env, path.name)
            except jinja2.TemplateError:
                continue  # reported by the rendering check, with its place
            known: set[str] = set()
            seen: set[str] = set()
            while parent and parent not in seen:
                seen.add(parent)
                try:
                    parent_of_parent, parent_blocks = _blocks(env, parent)
                except jinja2.TemplateError:
                    break
                known |= set(parent_blocks)
                parent = parent_of_parent
            if not seen:
                continue
            for block, line in sorted(defined.items(), key=lambda item: item[1]):
                if block not in known:
                    parents = ", ".join(sorted(seen))
                    problems.append(
                        f"{path}:{line}: block {block!r} is not defined by {parents}; it would never render"
                    )
    return sorted(set(problems))


def check_templates(renderer: MailRenderer, kinds: list[str]) -> list[str]:
    """Render each kind for every specimen; return the problems found (empty: all good), each
    once with its template and line, and the number of specimen cases it showed in."""
    found: dict[str, list[str]] = {}
    cases: list[tuple[str, str, Any]] = []
    for report in specimen_reports():
        for label, context in _contexts(report):
            view = build_view(report, context)
            cases += [(kind, f"{report.verdict.value} {label}", view) for kind in kinds]
    subscription = Subscription(email="d@example.org", jobs=["*"])
    records = [RunRecord.from_report(r) for r in specimen_reports()]
    cases.append(("digest", "daily", build_digest(subscription, records, "daily", _AT, _AT)))
    for kind, case, view in cases:
        try:
            mail = renderer.render_view(kind, view, view.subject, "c@example.org", ["x@example.org"], "check")
        except jinja2.TemplateError as exc:
            found.setdefault(f"{_where(exc)}: {type(exc).__name__}: {exc}", []).append(f"{kind} ({case})")
            continue
        for part, text in (("html", mail.html), ("text", mail.text)):
            if "None" in text:
                found.setdefault(f"{kind}: the {part} part shows None", []).append(case)
        if FORBIDDEN_HTML.search(mail.html):
            found.setdefault(f"{kind}: the HTML has a script, style sheet or external asset", []).append(case)
    return [
        f"{problem} (in {len(where)} case{'s' if len(where) != 1 else ''}, e.g. {where[0]})"
        for problem, where in found.items()
    ]


def _check(args: argparse.Namespace) -> int:
    directory = args.directory
    renderer = MailRenderer(site=site_loader(directory) if directory else None)
    site_kinds = (
        sorted(
            p.name.removesuffix(".html.j2")
            for p in Path(directory).glob("*.html.j2")
            if not p.name.startswith("_") and p.name != "digest.html.j2"
        )
        if directory
        else []
    )
    kinds = sorted({*PACKAGED_KINDS, *site_kinds, *(rule.template for rule in renderer.rules)})
    problems = check_templates(renderer, kinds)
    if directory:
        problems += unknown_blocks(renderer, Path(directory))
    for problem in problems:
        print(problem)
    print(f"{len(kinds) + 1} templates checked ({', '.join([*kinds, 'digest'])}): {len(problems)} problem(s)")
    return 1 if problems else 0


def register(sub: Any) -> None:
    """Add `templates check` to the CLI's subparsers."""
    parser = sub.add_parser("templates", help="check mail templates")
    commands = parser.add_subparsers(dest="templates_command", required=True)
    check = commands.add_parser("check", help="render every template against specimen runs, strictly")
    check.add_argument("directory", nargs="?", help="a site template directory (default: the packaged ones)")
    check.set_defaults(func=_check)
