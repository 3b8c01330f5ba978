"""The words of a mail: verdict labels and colours, the subject (verdict first, at most 78
characters), the recipient's own headline, plural-correct counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from citriage.models import Classification, Failure, RunReport, Verdict

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


FIXED_LABEL = "Fixed: passing again"


# What a test subscriber's own tests say, when they failed: the headline is theirs, not the run's.
YOURS_LABELS = {
    Classification.NEW: "FAILED: new failure in your tests",
    Classification.KNOWN: "Failed: your tests hit known issues",
    Classification.INFRA: "Failed: infrastructure broke your tests",
}


YOURS_VERDICTS = {
    Classification.NEW: Verdict.FAILED_NEW,
    Classification.KNOWN: Verdict.FAILED_KNOWN,
    Classification.INFRA: Verdict.INFRA,
}


# Short verdict words for the subject, which must fit about 78 characters.
SUBJECT_WORDS = {
    Verdict.PASSED: "Passed",
    Verdict.FAILED_NEW: "FAILED (new)",
    Verdict.FAILED_KNOWN: "Failed (known)",
    Verdict.INFRA: "Infra failure",
    Verdict.NO_RESULTS: "No results",
}


MAX_SUBJECT = 78


def duration_text(seconds: float) -> str:
    """A duration as a mail says it: `1h 05m 00s`, `4m 09s`."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def last_runs(count: int) -> str:
    """`the last run` or `the last N runs`."""
    return "the last run" if count == 1 else f"the last {count} runs"


MailKind = Literal["run", "fixed", "released"]
# The subject's first word of a held run released without a rerun.
RELEASED_WORD = "Infra failure, not rerun"


def subject_for(report: RunReport, kind: MailKind = "run", yours: Sequence[Failure] = ()) -> str:
    """The subject, verdict first, at most MAX_SUBJECT characters: the recipient's own verdict
    (a test subscriber's tests), the job, the change, then the counts; what does not fit goes,
    counts first, then the project."""
    run = report.run
    if kind == "fixed":
        word = "Fixed"
    elif kind == "released":
        word = RELEASED_WORD
    elif yours:
        word = SUBJECT_WORDS[YOURS_VERDICTS[worst_classification(yours)]]
    else:
        word = SUBJECT_WORDS[report.verdict]
    job = f"{len(yours)} of your tests in {run.job}" if yours and kind != "fixed" else run.job
    change = f"{run.change},{run.patchset}" if run.change and run.patchset else run.change or ""
    project = run.project.rsplit("/", 1)[-1] if run.project else ""
    where = " ".join(x for x in (project, change) if x)
    counts = ""
    if kind != "fixed" and report.failures and report.verdict is not Verdict.INFRA:
        new, known = (len(report.failures_by(c)) for c in (Classification.NEW, Classification.KNOWN))
        counts = f"{new} new, {known} known"
    for parts in ((word, job, where, counts), (word, job, change, ""), (word, job, "", "")):
        subject = f"{parts[0]}: " + " | ".join(x for x in parts[1:] if x)
        if len(subject) <= MAX_SUBJECT:
            return subject
    return subject[: MAX_SUBJECT - 1] + "…"


def worst_classification(failures: Sequence[Failure]) -> Classification:
    """The classification that speaks for a set of failures: new, else known, else infra."""
    kinds = {f.classification for f in failures}
    return next(
        c
        for c in (Classification.NEW, Classification.KNOWN, Classification.INFRA)
        if c in kinds or c is Classification.INFRA
    )
