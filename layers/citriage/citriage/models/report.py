"""The run report (docs/report.md) and the RunAnalyzed event built from it (docs/events.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from citriage.models.run import RunEvent, TestCounts, TestStatus


class Verdict(StrEnum):
    """What a run means for the people who get the mail."""

    PASSED = "passed"
    FAILED_NEW = "failed_new"
    FAILED_KNOWN = "failed_known"
    INFRA = "infra"
    NO_RESULTS = "no_results"


class Classification(StrEnum):
    """Why one test failed, judged from its own evidence."""

    NEW = "new"
    KNOWN = "known"
    INFRA = "infra"


class Evidence(BaseModel):
    """Why a decision was made: which signature or rule hit, where, and what it saw."""

    kind: Literal["signature", "infra_rule", "ci_result", "unexplained"]
    matched_by: str | None = Field(default=None, description="Signature or rule id")
    file: str | None = Field(default=None, description="Log file path, or 'traceback'")
    line: int | None = None
    excerpt: str = ""
    message: str | None = Field(
        default=None, description="The known issue's message with the match's capture groups filled in"
    )
    rule: str | None = Field(
        default=None, description="The precedence rule that decided (docs/classification.md): failure-1 ..."
    )
    category: str | None = Field(default=None, description="An infrastructure rule's category")
    service: str | None = Field(
        default=None, description="What an infra rule's capture groups name: host, mirror, region ..."
    )


class KnownIssueRef(BaseModel):
    """The known issue a failure was matched to, as the report and the mail show it."""

    id: str
    bug_url: str
    title: str
    status: str | None = Field(default=None, description="The bug's status as last looked up; None: unknown")


class ClusterRef(BaseModel):
    """The cluster of a new failure (docs/clusters.md): the same exception line, ids aside, in
    other runs too. Counted when the run was analysed, this run included."""

    id: str
    runs: int
    jobs: int
    changes: int = Field(default=0, description="Distinct changes its runs tested, this one's included")
    first_seen: datetime | None = None


class Failure(BaseModel):
    """A failed (or interrupted) test and the classification of its cause."""

    test_id: str
    classification: Classification
    known_issue: KnownIssueRef | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    status: TestStatus = TestStatus.FAILED
    details: str = Field(
        default="", description="The failure's text: head and tail, with a marker line where it was cut"
    )
    message: str | None = Field(
        default=None, description="The exception line, found the way the test's ecosystem writes it"
    )
    env: str | None = Field(default=None, description="The environment the test failed in, when several ran")
    output: dict[str, str] = Field(
        default_factory=dict, description="Captured output by stream, bounded; never the explanation"
    )
    cluster: ClusterRef | None = Field(default=None, description="A new failure's cluster, across runs")


class FailureGroup(BaseModel):
    """Failures not listed one by one (a run failing more tests than a report lists in full):
    how many share a classification, a cause and an exception line."""

    classification: Classification
    count: int
    message: str | None = Field(default=None, description="The exception line of the first of them")
    known_issue: KnownIssueRef | None = None
    matched_by: str | None = Field(default=None, description="The signature or rule that explained them")
    examples: list[str] = Field(default_factory=list, description="A few of their test ids")


class LogHit(BaseModel):
    """A known issue seen in a log line that explains no failure: context, not an explanation."""

    issue: KnownIssueRef
    file: str | None = None
    line: int | None = None
    excerpt: str = ""


class InfraFinding(BaseModel):
    """An infrastructure problem seen in the run: a CI result or an infra rule hit in a log."""

    rule: str
    category: str
    service: str | None = Field(
        default=None, description="The host, mirror, provider, region or node the rule's capture groups name"
    )
    file: str | None = None
    line: int | None = None
    excerpt: str = ""


class RunReport(BaseModel):
    """The analysis of one run: the JSON contract in docs/report.md."""

    report_version: int = 1
    run: RunEvent
    verdict: Verdict
    tests: TestCounts
    failures: list[Failure] = Field(default_factory=list)
    infra: list[InfraFinding] = Field(default_factory=list)
    log_hits: list[LogHit] = Field(
        default_factory=list, description="Known issues seen in the logs that explain no failure"
    )
    notes: list[str] = Field(default_factory=list)
    components: dict[str, str] = Field(default_factory=dict)
    results_file: str | None = Field(default=None, description="The file the results were read from")
    verdict_reason: str = Field(default="", description="Which precedence rule decided the verdict, and why")
    logs_read: bool = Field(
        default=True, description="False when the run's logs or CI API could not be read (the notes say why)"
    )
    omitted_failures: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "Failures not listed, by classification: past the ones kept in full, or cut to fit a store"
        ),
    )
    unlisted: list[FailureGroup] = Field(
        default_factory=list,
        description="The failures past the ones kept in full, grouped by cause and message",
    )
    analyzed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    incident: str | None = Field(
        default=None, description="The infrastructure incident the run belongs to (docs/incidents.md)"
    )

    @property
    def run_id(self) -> str:
        """Identity of the analysed build."""
        return self.run.run_id

    def failures_by(self, classification: Classification) -> list[Failure]:
        """The failures with one classification, in report order."""
        return [f for f in self.failures if f.classification is classification]

    def count(self, classification: Classification) -> int:
        """How many failures have one classification, listed or not."""
        return len(self.failures_by(classification)) + self.omitted_failures.get(classification.value, 0)

    def shortened(self, level: int) -> RunReport:
        """This report with less in it, more at each level (1-4), to fit a store's item size: long
        texts first, then the failures past the first N (new ones kept first; the rest counted in
        `omitted_failures`), notes, log hits and components. Verdict and counts never change."""
        keep_text, keep_failures, keep_notes = {
            1: (2000, 5000, 500),
            2: (200, 1000, 200),
            3: (120, 300, 100),
        }.get(level, (80, 50, 30))
        order = {Classification.NEW: 0, Classification.KNOWN: 1, Classification.INFRA: 2}
        ranked = sorted(self.failures, key=lambda f: order[f.classification])
        listed = [
            f.model_copy(update={"details": f.details[-keep_text:], "output": {}, "evidence": f.evidence[:1]})
            for f in ranked[:keep_failures]
        ]
        omitted = dict(self.omitted_failures)
        for failure in ranked[keep_failures:]:
            omitted[failure.classification.value] = omitted.get(failure.classification.value, 0) + 1
        note = (
            f"The stored report was shortened to fit the run store: failure texts cut to {keep_text} "
            f"characters{f', {sum(omitted.values())} failures not listed' if omitted else ''}."
        )
        return self.model_copy(
            update={
                "failures": listed,
                "omitted_failures": omitted,
                "notes": [*self.notes[:keep_notes], note],
                "log_hits": self.log_hits[: keep_notes // 10],
                "unlisted": [
                    g.model_copy(update={"examples": g.examples[:1]})
                    for g in self.unlisted[: keep_notes // 2]
                ],
                "components": dict(list(self.components.items())[: keep_notes * 2]),
            }
        )


class RunAnalyzed(BaseModel):
    """The `RunAnalyzed` event put on the bus for every analysed run (notify and bots read it)."""

    run_id: str
    source: str
    job: str
    build_id: str
    verdict: Verdict
    tests: TestCounts
    new: int
    known: int
    infra: int
    log_url: str
    change_url: str | None = None
    project: str | None = None
    pipeline: str | None = None
    incident: str | None = Field(default=None, description="The infrastructure incident the run belongs to")
    buildset_id: str | None = Field(
        default=None, description="The buildset it belongs to, when its CI said (a BuildsetAnalyzed follows)"
    )

    @classmethod
    def from_report(cls, report: RunReport) -> RunAnalyzed:
        """Summarise a report into the event (the full report stays in the runs table)."""
        return cls(
            run_id=report.run_id,
            source=report.run.source,
            job=report.run.job,
            build_id=report.run.build_id,
            verdict=report.verdict,
            tests=report.tests,
            new=report.count(Classification.NEW),
            known=report.count(Classification.KNOWN),
            infra=report.count(Classification.INFRA),
            log_url=report.run.log_url,
            change_url=report.run.change_url,
            project=report.run.project,
            pipeline=report.run.pipeline,
            incident=report.incident,
            buildset_id=report.run.buildset_id,
        )


class RunAnalyzedEnvelope(BaseModel):
    """An EventBridge event carrying RunAnalyzed, as the rule delivers it to the notify queue.

    Only the fields citriage needs are required, so any EventBridge-compatible bus will do.
    """

    source: Literal["citriage"]
    detail_type: Literal["RunAnalyzed"] = Field(alias="detail-type")
    detail: RunAnalyzed
