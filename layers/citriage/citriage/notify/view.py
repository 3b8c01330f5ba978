"""The validated view a mail template renders: every field present, unknowns said to be unknown."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from citriage.models import Classification, Failure, RunReport, Verdict

UNKNOWN = "unknown"
TRACEBACK_TAIL_LINES = 12

VERDICT_LABELS = {
    Verdict.PASSED: "Passed",
    Verdict.FAILED_NEW: "FAILED: new failure",
    Verdict.FAILED_KNOWN: "Failed: known issues only",
    Verdict.INFRA: "Infrastructure failure",
    Verdict.NO_RESULTS: "No test results",
}
VERDICT_COLOURS = {
    Verdict.PASSED: "#1a7f37",
    Verdict.FAILED_NEW: "#cf222e",
    Verdict.FAILED_KNOWN: "#9a6700",
    Verdict.INFRA: "#8250df",
    Verdict.NO_RESULTS: "#57606a",
}


class FailureView(BaseModel):
    """One failure as the mail shows it."""

    test_id: str
    short_name: str
    classification: str
    bug_id: str
    bug_url: str
    bug_title: str
    reason: str
    excerpt: str
    where: str


class InfraView(BaseModel):
    """One infrastructure finding as the mail shows it."""

    rule: str
    category: str
    where: str
    excerpt: str


class MailView(BaseModel):
    """Everything a mail template may use. Templates render with StrictUndefined."""

    subject: str
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
    new: list[FailureView]
    known: list[FailureView]
    infra_failures: list[FailureView]
    infra: list[InfraView]
    notes: list[str]
    results_file: str


def _or_unknown(value: object) -> str:
    return UNKNOWN if value is None or value == "" else str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return UNKNOWN
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else UNKNOWN


def _short_name(test_id: str) -> str:
    base = test_id.split("[", 1)[0]
    parts = base.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else base


def _failure_view(failure: Failure, log_url: str) -> FailureView:
    evidence = failure.evidence[0] if failure.evidence else None
    issue = failure.known_issue
    tail = "\n".join(failure.details.strip().splitlines()[-TRACEBACK_TAIL_LINES:])
    if evidence is None:
        reason, where = "no evidence recorded", UNKNOWN
    elif evidence.kind == "signature":
        reason, where = f"matches known issue {evidence.matched_by}", _where(evidence.file, evidence.line)
    elif evidence.kind == "infra_rule":
        reason, where = f"infrastructure rule {evidence.matched_by}", _where(evidence.file, evidence.line)
    elif evidence.kind == "ci_result":
        reason, where = evidence.excerpt, "CI result"
    else:
        reason, where = "nothing known explains it", _where(evidence.file, evidence.line)
    return FailureView(
        test_id=failure.test_id,
        short_name=_short_name(failure.test_id),
        classification=failure.classification.value,
        bug_id=issue.id if issue else UNKNOWN,
        bug_url=issue.bug_url if issue else log_url,
        bug_title=issue.title if issue else UNKNOWN,
        reason=reason,
        excerpt=tail or (evidence.excerpt if evidence else "") or "(no traceback was recorded)",
        where=where,
    )


def _where(file: str | None, line: int | None) -> str:
    if not file:
        return UNKNOWN
    return f"{file}:{line}" if line else file


def subject_for(report: RunReport) -> str:
    """The mail subject: the verdict first, then job and change."""
    run = report.run
    new = len(report.failures_by(Classification.NEW))
    counts = f"{new} new, {len(report.failures_by(Classification.KNOWN))} known"
    change = f" on {run.project}" if run.project else ""
    if run.change:
        change += f" change {run.change}" + (f",{run.patchset}" if run.patchset else "")
    label = VERDICT_LABELS[report.verdict]
    tail = f" ({counts})" if report.failures and report.verdict is not Verdict.INFRA else ""
    return f"[citriage] {label}: {run.job}{change}{tail}"


def build_view(report: RunReport) -> MailView:
    """The mail view of a report."""
    run = report.run
    views = [_failure_view(f, run.log_url) for f in report.failures]
    return MailView(
        subject=subject_for(report),
        verdict=report.verdict.value,
        verdict_label=VERDICT_LABELS[report.verdict],
        verdict_colour=VERDICT_COLOURS[report.verdict],
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
        new=[v for v in views if v.classification == "new"],
        known=[v for v in views if v.classification == "known"],
        infra_failures=[v for v in views if v.classification == "infra"],
        infra=[
            InfraView(rule=i.rule, category=i.category, where=_where(i.file, i.line), excerpt=i.excerpt)
            for i in report.infra
        ],
        notes=report.notes,
        results_file=_or_unknown(report.results_file),
    )
