"""The validated view a mail template renders: every field present, unknowns said to be unknown."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urljoin

from pydantic import BaseModel, Field

from citriage.analyze.components import components_matching
from citriage.models import Classification, Evidence, Failure, RunReport, Verdict
from citriage.notify.history import IssueHistory, RunRecord, TestHistory
from citriage.notify.wording import (
    FIXED_LABEL,
    VERDICT_COLOURS,
    VERDICT_LABELS,
    YOURS_LABELS,
    YOURS_VERDICTS,
    MailKind,
    duration_text,
    last_runs,
    subject_for,
    worst_classification,
)

UNKNOWN = "unknown"
MAX_MAIL_COMPONENTS = 30
TRACEBACK_TAIL_LINES = 12

# Result files a browser shows as text; others (a binary .subunit) are not linked as evidence.
READABLE_SUFFIXES = (".xml", ".txt", ".log", ".json", ".html", ".htm", ".xml.gz", ".txt.gz", ".log.gz")


HISTORY_COLOURS = {
    "flaky": "#9a6700",
    "regression": "#cf222e",
    "still_failing": "#cf222e",
    "no_history": "#57606a",
    "infra": "#8250df",
    UNKNOWN: "#57606a",
}


class MailContext(BaseModel):
    """What differs between two recipients of the same run, and what history says about it."""

    kind: MailKind = "run"
    reason: str = "you subscribed to this job or its tests"
    yours: list[str] = Field(
        default_factory=list, description="The recipient's own failed tests, shown first"
    )
    tests_history: dict[str, TestHistory] = Field(default_factory=dict)
    issues_history: dict[str, IssueHistory] = Field(default_factory=dict)
    history_runs: int | None = Field(default=None, description="Runs of the job on record; None: not kept")
    previous: RunRecord | None = Field(default=None, description="The job's run before this one")
    fixed_tests: list[str] = Field(default_factory=list, description="Failed last run, passed in this one")
    component_globs: list[str] = Field(
        default_factory=list, description="The component names the recipient cares about; empty: all"
    )
    held_incident: str | None = Field(default=None, description="A released run: the incident that held it")
    held_since: datetime | None = None
    held_because: str | None = Field(default=None, description="A released run: why it was not rerun")


class HeldView(BaseModel):
    """A released run: which outage held it, since when, and why it never ran again."""

    incident: str
    since: str
    because: str


class FailureView(BaseModel):
    """One failure as the mail shows it."""

    test_id: str
    short_name: str
    classification: str
    bug_id: str
    bug_url: str
    bug_title: str
    bug_status: str
    bug_hits: str
    reason: str
    message: str = Field(description="The exception line: what went wrong ('unknown' when none)")
    env: str = Field(description="The environment it failed in ('unknown': the run's only one)")
    excerpt: str
    excerpt_lines: list[ExcerptLine] = Field(
        default_factory=list, description="The excerpt's lines, the matched one marked"
    )
    where: str
    log_link: str
    history: str
    history_kind: str
    history_colour: str
    first_failed_url: str
    seen_elsewhere: str = Field(
        default="", description="A new failure's cluster in other runs, when it has any"
    )


class ExcerptLine(BaseModel):
    """One line of a failure's excerpt; `matched` when a signature or rule matched it."""

    text: str
    matched: bool = False


class InfraView(BaseModel):
    """One infrastructure finding as the mail shows it."""

    rule: str
    category: str
    where: str
    excerpt: str
    log_link: str


class LogHitView(BaseModel):
    """A known issue seen in the logs that explains no failure: context, never an explanation."""

    bug_id: str
    bug_url: str
    bug_title: str
    where: str
    excerpt: str
    log_link: str


class ComponentView(BaseModel):
    """A component and its version, as the run reported it."""

    name: str
    version: str


class FixedView(BaseModel):
    """For a "fixed" mail: the failing run before this one and what it failed."""

    previous_verdict: str
    previous_url: str
    previous_date: str
    tests: list[str]


class UnlistedView(BaseModel):
    """Failures past those listed one by one, of one cause and exception line."""

    count: int
    classification: str
    message: str
    bug_id: str
    bug_url: str
    examples: list[str]


class MailView(BaseModel):
    """Everything a mail template may use. Templates render with StrictUndefined."""

    subject: str
    kind: MailKind
    reason: str
    verdict: str
    verdict_label: str
    verdict_colour: str
    source: str
    job: str
    build_id: str
    result: str
    pipeline: str
    project: str
    branch: str
    change: str
    change_url: str
    log_url: str
    build_url: str
    date: str
    duration: str
    total: int
    passed: int
    failed: int
    skipped: int
    yours: list[FailureView]
    new: list[FailureView]
    known: list[FailureView]
    infra_failures: list[FailureView]
    infra: list[InfraView]
    unlisted: list[UnlistedView] = Field(
        default_factory=list, description="Failures not listed one by one, grouped (a run failing thousands)"
    )
    log_hits: list[LogHitView] = Field(
        default_factory=list, description="Known issues seen in the logs that explain no failure"
    )
    components: list[ComponentView]
    components_more: int = Field(description="Components left out of the mail (they stay in the report)")
    history_scope: str
    fixed: FixedView
    held: HeldView = Field(
        default=HeldView(incident=UNKNOWN, since=UNKNOWN, because=UNKNOWN),
        description="Set on a `released` mail (kind), `unknown` otherwise",
    )
    notes: list[str]
    results_file: str


def _or_unknown(value: object) -> str:
    return UNKNOWN if value is None or value == "" else str(value)


def _duration(seconds: float | None) -> str:
    return UNKNOWN if seconds is None else duration_text(seconds)


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else UNKNOWN


def _short_name(test_id: str) -> str:
    base = test_id.split("[", 1)[0]
    parts = base.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else base


def log_link(log_url: str, file: str | None, line: int | None) -> str:
    """A link to a file of the run's log tree (at a line, as Zuul's log viewer anchors it)."""
    if not file or file == "traceback":
        return log_url
    base = log_url if log_url.endswith("/") else log_url + "/"
    link = urljoin(base, quote(file.lstrip("/")))
    return f"{link}#{line}" if line else link


def _failure_view(failure: Failure, report: RunReport, context: MailContext) -> FailureView:
    log_url = report.run.log_url
    evidence = failure.evidence[0] if failure.evidence else None
    issue = failure.known_issue
    tail = "\n".join(failure.details.strip().splitlines()[-TRACEBACK_TAIL_LINES:])
    if evidence is None:
        reason, where, link = "no evidence recorded", UNKNOWN, log_url
    else:
        where = _where(evidence.file, evidence.line)
        file = _readable_results(report.results_file) if evidence.file == "traceback" else evidence.file
        link = log_link(log_url, file, None if evidence.file == "traceback" else evidence.line)
        if evidence.kind == "signature":
            reason = f"matches known issue {evidence.matched_by}"
        elif evidence.kind == "infra_rule":
            reason = f"infrastructure rule {evidence.matched_by}"
        elif evidence.kind == "ci_result":
            reason, where = evidence.excerpt, "CI result"
        else:
            reason = "nothing known explains it"
    history = context.tests_history.get(failure.test_id)
    issue_history = context.issues_history.get(issue.id) if issue else None
    history_kind = history.kind if history else UNKNOWN
    history_text = history.text if history else "history unknown (no earlier runs on record)"
    if history and failure.classification is Classification.NEW and history.risk_why:
        history_text = f"{history_text}; risk {history.risk}: {history.risk_why}"
    if history and history.kind != "no_history" and failure.classification is Classification.INFRA:
        # The infrastructure broke it this time: neither flaky nor a regression of the code.
        history_kind = "infra"
        history_text = f"failed {history.failed} of {last_runs(history.runs)}; this time the infrastructure"
    return FailureView(
        test_id=failure.test_id,
        short_name=_short_name(failure.test_id),
        classification=failure.classification.value,
        bug_id=issue.id if issue else UNKNOWN,
        bug_url=issue.bug_url if issue else log_url,
        bug_title=issue.title if issue else UNKNOWN,
        bug_status=_or_unknown(issue.status) if issue else UNKNOWN,
        bug_hits=issue_history.text if issue_history else "how often it hit lately is unknown",
        reason=reason,
        message=_or_unknown(failure.message),
        env=_or_unknown(failure.env),
        excerpt=tail or (evidence.excerpt if evidence else "") or "(no traceback was recorded)",
        excerpt_lines=_excerpt_lines(failure, evidence),
        where=where,
        log_link=link,
        history=history_text,
        history_kind=history_kind,
        history_colour=HISTORY_COLOURS[history_kind],
        seen_elsewhere=_seen_elsewhere(failure),
        # Linked only when it is an earlier run: this run's logs are linked already.
        first_failed_url=(
            history.first_failed_url if history and history.first_failed_run_id != report.run_id else UNKNOWN
        ),
    )


def _seen_elsewhere(failure: Failure) -> str:
    """`also seen in 6 other runs of 3 jobs since 2026-12-01 (cluster c-…)`, or nothing."""
    cluster = failure.cluster
    if cluster is None or cluster.runs < 2:
        return ""
    others = cluster.runs - 1
    since = f" since {cluster.first_seen:%Y-%m-%d}" if cluster.first_seen else ""
    jobs = f"{cluster.jobs} job{'s' if cluster.jobs != 1 else ''}"
    return f"in {others} other run{'s' if others != 1 else ''} of {jobs}{since} (cluster {cluster.id})"


def _readable_results(results_file: str | None) -> str | None:
    """The results file to link, when a browser can show it (one file, a text format); else
    None, and the link goes to the run's logs."""
    if not results_file or "," in results_file:
        return None
    return results_file if results_file.lower().endswith(READABLE_SUFFIXES) else None


def _excerpt_lines(failure: Failure, evidence: Evidence | None) -> list[ExcerptLine]:
    """The failure text's last lines, the line a signature or rule matched marked; a matched
    line above them is shown first, then `…`."""
    lines = failure.details.strip().splitlines()
    tail_start = max(0, len(lines) - TRACEBACK_TAIL_LINES)
    matched_at: int | None = None
    if evidence is not None and evidence.kind in ("signature", "infra_rule") and evidence.file == "traceback":
        if evidence.line and 1 <= evidence.line <= len(lines):
            matched_at = evidence.line - 1
        elif evidence.excerpt:
            found = [i for i, line in enumerate(lines) if evidence.excerpt.strip()[:200] in line]
            matched_at = found[-1] if found else None
    shown = [
        ExcerptLine(text=line, matched=i == matched_at)
        for i, line in enumerate(lines[tail_start:], tail_start)
    ]
    if matched_at is not None and matched_at < tail_start:
        shown = [ExcerptLine(text=lines[matched_at], matched=True), ExcerptLine(text="…"), *shown]
    if not shown and evidence is not None and evidence.excerpt:
        shown = [ExcerptLine(text=evidence.excerpt, matched=evidence.kind in ("signature", "infra_rule"))]
    return shown or [ExcerptLine(text="(no traceback was recorded)")]


def _where(file: str | None, line: int | None) -> str:
    if not file:
        return UNKNOWN
    return f"{file}:{line}" if line else file


def _fixed_view(context: MailContext) -> FixedView:
    previous = context.previous
    return FixedView(
        previous_verdict=previous.verdict.value if previous else UNKNOWN,
        previous_url=previous.log_url if previous else UNKNOWN,
        previous_date=_date(previous.when) if previous else UNKNOWN,
        tests=context.fixed_tests,
    )


def build_view(report: RunReport, context: MailContext | None = None) -> MailView:
    """The mail view of a report, for one recipient's context."""
    context = context or MailContext()
    run = report.run
    views = [_failure_view(f, report, context) for f in report.failures]
    yours_ids = set(context.yours)
    yours = [v for v in views if v.test_id in yours_ids]
    own = [f for f in report.failures if f.test_id in yours_ids]
    rest = [v for v in views if v.test_id not in yours_ids]
    fixed = context.kind == "fixed"
    # A job can report 1,500 packages: the mail shows the recipient's components, capped.
    wanted = sorted(components_matching(report.components, context.component_globs).items())
    shown = wanted[:MAX_MAIL_COMPONENTS]
    return MailView(
        subject=subject_for(report, context.kind, own),
        kind=context.kind,
        reason=context.reason,
        verdict=report.verdict.value,
        verdict_label=FIXED_LABEL
        if fixed
        else YOURS_LABELS[worst_classification(own)]
        if own
        else VERDICT_LABELS[report.verdict],
        verdict_colour=VERDICT_COLOURS[
            Verdict.PASSED if fixed else YOURS_VERDICTS[worst_classification(own)] if own else report.verdict
        ],
        source=run.source,
        job=run.job,
        build_id=run.build_id,
        result=_or_unknown(run.result),
        pipeline=_or_unknown(run.pipeline),
        project=_or_unknown(run.project),
        branch=_or_unknown(run.branch),
        change=_or_unknown(run.change and (f"{run.change},{run.patchset}" if run.patchset else run.change)),
        change_url=_or_unknown(run.change_url),
        log_url=run.log_url,
        build_url=_or_unknown(run.web_url),
        date=_date(run.end_time or report.analyzed_at),
        duration=_duration(run.duration_seconds),
        total=report.tests.total,
        passed=report.tests.passed,
        failed=report.tests.failed,
        skipped=report.tests.skipped,
        yours=yours,
        new=[v for v in rest if v.classification == "new"],
        known=[v for v in rest if v.classification == "known"],
        infra_failures=[v for v in rest if v.classification == "infra"],
        infra=[
            InfraView(
                rule=i.rule,
                category=i.category,
                where=_where(i.file, i.line),
                excerpt=i.excerpt,
                log_link=log_link(run.log_url, i.file, i.line),
            )
            for i in report.infra
        ],
        unlisted=[
            UnlistedView(
                count=g.count,
                classification=g.classification.value,
                message=_or_unknown(g.message),
                bug_id=_or_unknown(g.known_issue and g.known_issue.id),
                bug_url=_or_unknown(g.known_issue and g.known_issue.bug_url),
                examples=g.examples,
            )
            for g in report.unlisted
        ],
        log_hits=[
            LogHitView(
                bug_id=h.issue.id,
                bug_url=h.issue.bug_url,
                bug_title=h.issue.title,
                where=_where(h.file, h.line),
                excerpt=h.excerpt,
                log_link=log_link(run.log_url, h.file, h.line),
            )
            for h in report.log_hits
        ],
        components=[ComponentView(name=k, version=v) for k, v in shown],
        components_more=len(wanted) - len(shown),
        history_scope=(
            f"{last_runs(context.history_runs)} of {run.job} on record"
            if context.history_runs
            else "unknown (no run history kept)"
        ),
        fixed=_fixed_view(context),
        held=HeldView(
            incident=_or_unknown(context.held_incident),
            since=_date(context.held_since),
            because=_or_unknown(context.held_because),
        ),
        notes=report.notes,
        results_file=_or_unknown(report.results_file),
    )
