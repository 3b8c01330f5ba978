"""Per-job test history over runs: what a failure mail says about flakiness and regressions.

The analyze step records one compact `RunRecord` per analysed run (items in the runs table,
expiring by TTL); notify reads a job's recent records to say, for each failing test, "failed 3
of the last 20 runs — flaky" or "first failure after 40 passes — likely a regression", and for
each known issue how often it hit lately; the digest reads the records of a day or a week.

The report lists failed tests, not passed ones, so a test counts as passed in a run that read
test results and did not fail it. Runs without results (infrastructure, no results) count
neither way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from citriage.models import Classification, Failure, RunReport, Verdict
from citriage.models.query import RunSummary

# How many failed tests one record keeps; a run failing more than this is broken wholesale.
MAX_RECORDED_FAILURES = 500
MAX_RECORD_BYTES = 300_000
FAILED_VERDICTS = (Verdict.FAILED_NEW, Verdict.FAILED_KNOWN)


class FailedTest(BaseModel):
    """How one test failed in one run."""

    classification: Classification
    known_issue: str | None = None


class RunRecord(RunSummary):
    """One run in a job's history: its summary and enough to judge each test's flakiness, small
    enough to query."""

    has_results: bool
    failed: dict[str, FailedTest] = Field(default_factory=dict)
    failed_truncated: bool = False
    duration_seconds: float | None = None
    infra_categories: list[str] = Field(default_factory=list)

    @classmethod
    def from_report(cls, report: RunReport) -> RunRecord:
        """The record of an analysed run."""
        failures = report.failures[:MAX_RECORDED_FAILURES]
        return cls(
            run_id=report.run_id,
            source=report.run.source,
            job=report.run.job,
            when=(report.run.end_time or report.analyzed_at).astimezone(UTC),
            analyzed_at=report.analyzed_at,
            verdict=report.verdict,
            log_url=report.run.log_url,
            project=report.run.project,
            change=report.run.change,
            pipeline=report.run.pipeline,
            new=report.count(Classification.NEW),
            known=report.count(Classification.KNOWN),
            infra=report.count(Classification.INFRA),
            has_results=report.tests.total > 0,
            tests=report.tests,
            failed={
                f.test_id: FailedTest(
                    classification=f.classification, known_issue=f.known_issue.id if f.known_issue else None
                )
                for f in failures
            },
            # A test the report does not list may still have failed (unlisted, or cut to fit a store).
            failed_truncated=len(report.failures) > MAX_RECORDED_FAILURES or bool(report.omitted_failures),
            duration_seconds=report.run.duration_seconds,
            infra_categories=sorted({i.category for i in report.infra}),
        )

    def summary(self) -> RunSummary:
        """The record without its per-test detail: what a list of runs shows."""
        return RunSummary.model_validate(self.model_dump(include=set(RunSummary.model_fields)))

    @property
    def sort_key(self) -> str:
        """Orders a job's records by end time (ties broken by run id)."""
        return f"{sort_stamp(self.when)}#{self.run_id}"

    def passed_test(self, test_id: str) -> bool:
        """True when this run read results and the test did not fail in it."""
        return self.has_results and not self.failed_truncated and test_id not in self.failed

    def known_issues(self) -> set[str]:
        """The known issues that hit this run."""
        return {f.known_issue for f in self.failed.values() if f.known_issue}


def sort_stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


HistoryKind = Literal["flaky", "regression", "still_failing", "no_history"]


class TestHistory(BaseModel):
    """What a job's history says about one failing test."""

    __test__ = False

    test_id: str
    kind: HistoryKind
    failed: int = Field(description="Runs in the window that failed the test (this one included)")
    runs: int = Field(description="Runs in the window that read test results (this one included)")
    passes_before: int = Field(description="Passing runs right before the current failing streak")
    first_failed_run_id: str
    first_failed_url: str
    text: str
    risk: Literal["high", "low"] = Field(
        default="high",
        description="high: probably this change (a pass streak broke); low: flaky or broken before",
    )
    risk_why: str = ""


class IssueHistory(BaseModel):
    """How often a known issue hit a job's recent runs."""

    issue_id: str
    hits: int
    runs: int
    text: str


def judge_test(test_id: str, records: Sequence[RunRecord], window: int) -> TestHistory:
    """Judge a failing test from a job's records, newest first, the current run first.

    Flaky: it also failed earlier in the window, with passes in between. Regression: it
    passed before the current failing streak. Still failing: no pass is on record.
    """
    with_results = [r for r in records if r.has_results and not r.failed_truncated]
    if not with_results or test_id not in with_results[0].failed:
        raise ValueError(f"the newest record does not fail {test_id}")
    streak = 0
    for record in with_results:
        if test_id not in record.failed:
            break
        streak += 1
    first = with_results[streak - 1]
    passes = 0
    for record in with_results[streak:]:
        if test_id in record.failed:
            break
        passes += 1
    shown = with_results[:window]
    failed = sum(1 for r in shown if test_id in r.failed)
    earliest_in_window = next(r for r in reversed(shown) if test_id in r.failed)
    base: dict[str, Any] = {"test_id": test_id, "failed": failed, "runs": len(shown), "passes_before": passes}
    base |= _risk(test_id, shown, streak)
    if len(with_results) == 1:
        return TestHistory(
            **base,
            kind="no_history",
            first_failed_run_id=first.run_id,
            first_failed_url=first.log_url,
            text="first recorded run of this job: no history yet",
        )
    if failed > streak:
        return TestHistory(
            **base,
            kind="flaky",
            first_failed_run_id=earliest_in_window.run_id,
            first_failed_url=earliest_in_window.log_url,
            text=f"failed {failed} of the last {len(shown)} runs — flaky",
        )
    if passes == 0:
        return TestHistory(
            **base,
            kind="still_failing",
            first_failed_run_id=first.run_id,
            first_failed_url=first.log_url,
            text=f"failed in all {streak} recorded runs — broken since the first one on record",
        )
    passed = f"{passes} pass{'es' if passes != 1 else ''}"
    text = (
        f"first failure after {passed} — likely a regression"
        if streak == 1
        else f"failing for the last {streak} runs, after {passed} — likely a regression"
    )
    return TestHistory(
        **base, kind="regression", first_failed_run_id=first.run_id, first_failed_url=first.log_url, text=text
    )


# A new failure is high risk (mailed at once to a `risk: high` subscription) when the test passed
# in at least this share of its runs in the window before this one.
HIGH_RISK_PASS_SHARE = 0.95


def _risk(test_id: str, shown: Sequence[RunRecord], streak: int) -> dict[str, str]:
    """Whether this failure is probably the change's (high) or not (low), and why, from the
    window's runs before this one."""
    before = shown[1:]
    if not before:
        why = "no earlier run of this job is on record: nothing says it is not this change"
        return {"risk": "high", "risk_why": why}
    passed = sum(1 for r in before if test_id not in r.failed)
    if passed == 0:
        why = f"it failed in all {len(before)} runs before this one: broken before this change"
        return {"risk": "low", "risk_why": why}
    if passed >= HIGH_RISK_PASS_SHARE * len(before) and streak == 1:
        return {"risk": "high", "risk_why": f"it passed {passed} of its {len(before)} runs before this one"}
    return {
        "risk": "low",
        "risk_why": f"it passed only {passed} of its {len(before)} runs before this one: flaky",
    }


# A new failure whose cluster failed runs of this many changes (this one's included) is
# widespread: probably not this change's fault, whatever the test's own history says.
WIDESPREAD_CHANGES = 3


def with_cluster_risk(report: RunReport, tests_history: dict[str, TestHistory]) -> dict[str, TestHistory]:
    """The tests' histories with a widespread cluster making a new failure's risk low."""
    judged = dict(tests_history)
    for failure in report.failures_by(Classification.NEW):
        cluster, history = failure.cluster, judged.get(failure.test_id)
        if cluster is None or cluster.changes < WIDESPREAD_CHANGES or history is None:
            continue
        why = (
            f"the same failure is in runs of {cluster.changes - 1} other changes (cluster {cluster.id}): "
            "probably not this change"
        )
        judged[failure.test_id] = history.model_copy(update={"risk": "low", "risk_why": why})
    return judged


def run_risk(report: RunReport, tests_history: Mapping[str, TestHistory]) -> Literal["high", "low"] | None:
    """A run's risk: high when one of its new failures is (one with no history to judge it by
    is), low when all are low; None without new failures."""
    new = report.failures_by(Classification.NEW)
    if not new and not report.count(Classification.NEW):
        return None
    unjudged = len(new) < report.count(Classification.NEW)  # new failures not listed one by one

    def high(failure: Failure) -> bool:
        history = tests_history.get(failure.test_id)
        if history is not None:
            return history.risk == "high"
        return failure.cluster is None or failure.cluster.changes < WIDESPREAD_CHANGES

    return "high" if unjudged or any(high(f) for f in new) else "low"


def judge_issue(issue_id: str, records: Sequence[RunRecord], window: int) -> IssueHistory:
    """How many of a job's last runs (newest first, the current one included) the issue hit."""
    shown = list(records[:window])
    hits = sum(1 for r in shown if issue_id in r.known_issues())
    return IssueHistory(
        issue_id=issue_id,
        hits=hits,
        runs=len(shown),
        text=(
            f"hit {hits} of the last {len(shown)} runs of this job"
            if len(shown) > 1
            else "first run of this job on record"
        ),
    )


def previous_run(records: Sequence[RunRecord], run_id: str) -> RunRecord | None:
    """The job's last run before `run_id` that read results (records newest first), or None.

    Infrastructure and no-results runs in between are passed over: they say nothing about
    whether the job was fixed.
    """
    for position, record in enumerate(records):
        if record.run_id == run_id:
            return next((r for r in records[position + 1 :] if r.has_results), None)
    return None
