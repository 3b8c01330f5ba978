"""The models every function and the CLI share: one pydantic model per concept.

The run report (`RunReport`) is the JSON contract described in docs/report.md.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SourceName(StrEnum):
    """The CI sources citriage takes runs from (a run's `source`, a webhook's path)."""

    ZUUL = "zuul"
    JENKINS = "jenkins"
    GITHUB = "github"
    GITLAB = "gitlab"
    OPENQA = "openqa"
    GENERIC = "generic"


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


class TestStatus(StrEnum):
    """Outcome of one test case, whatever format it was read from."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    # Started but never finished: the job was killed under it. Never counted as passed.
    INTERRUPTED = "interrupted"


class IssueCategory(StrEnum):
    """Who owns a known issue: the product, the test itself, or the infrastructure."""

    PRODUCT = "product"
    TEST = "test"
    INFRA = "infra"


def parse_time(value: object) -> object:
    """Zuul sends times as epoch floats or as strings; normalise both to aware datetimes."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except ValueError:
            pass
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


class RunEvent(BaseModel):
    """A finished CI build to analyze: what a webhook or a sweep normalises its input to.

    It is also the `run` section of the report.
    """

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The CI that reported it: zuul, jenkins, ...")
    job: str
    build_id: str
    result: str | None = Field(default=None, description="The CI's own result word, e.g. FAILURE")
    log_url: str
    web_url: str | None = None
    tenant: str | None = None
    pipeline: str | None = None
    project: str | None = None
    branch: str | None = None
    change: str | None = None
    patchset: str | None = None
    change_url: str | None = None
    buildset_id: str | None = None
    voting: bool | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None

    _normalise_times = field_validator("start_time", "end_time", mode="before")(parse_time)

    @property
    def run_id(self) -> str:
        """Stable identity of the build: the dedupe key of every step after the webhook."""
        return f"{self.source}:{self.build_id}"

    @property
    def duration_seconds(self) -> float | None:
        """Wall time of the build when the CI told both ends."""
        if self.start_time and self.end_time:
            return (self.end_time - self.start_time).total_seconds()
        return None


class SweepCursor(BaseModel):
    """Where a periodic job's sweep got to (one item per job in the dedupe table)."""

    model_config = ConfigDict(extra="ignore")

    # Zuul: the newest end time of the last complete walk of the builds list, and where a
    # failed walk stopped (the page, the build at the top of the list when it began).
    since: datetime | None = None
    resume_skip: int | None = None
    walk_top: str | None = None
    walk_newest: datetime | None = None
    # Jenkins: the highest build number below which nothing is still running.
    last_number: int | None = None

    _times = field_validator("since", "walk_newest", mode="before")(parse_time)


class TestResult(BaseModel):
    """One test case as read from subunit, JUnit, a console log or a CI API."""

    __test__ = False

    test_id: str
    status: TestStatus
    duration: float | None = None
    details: str = Field(default="", description="Traceback or failure message, capped")
    tags: list[str] = Field(default_factory=list)


class TestCounts(BaseModel):
    """Totals of a run's test results."""

    __test__ = False

    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0


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


class KnownIssueRef(BaseModel):
    """The known issue a failure was matched to, as the report and the mail show it."""

    id: str
    bug_url: str
    title: str
    status: str | None = Field(default=None, description="The bug's status as last looked up; None: unknown")


class Failure(BaseModel):
    """A failed (or interrupted) test and the classification of its cause."""

    test_id: str
    classification: Classification
    known_issue: KnownIssueRef | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    status: TestStatus = TestStatus.FAILED
    details: str = Field(default="", description="Head of the traceback, for the mail")


class InfraFinding(BaseModel):
    """An infrastructure problem seen in the run: a CI result or an infra rule hit in a log."""

    rule: str
    category: str
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
    notes: list[str] = Field(default_factory=list)
    components: dict[str, str] = Field(default_factory=dict)
    results_file: str | None = Field(default=None, description="The file the results were read from")
    verdict_reason: str = Field(default="", description="Which precedence rule decided the verdict, and why")
    analyzed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def run_id(self) -> str:
        """Identity of the analysed build."""
        return self.run.run_id

    def failures_by(self, classification: Classification) -> list[Failure]:
        """The failures with one classification, in report order."""
        return [f for f in self.failures if f.classification is classification]


def glob_match(value: str, patterns: list[str]) -> bool:
    """Case-sensitive shell-glob match of one value against any of the patterns."""
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


class KnownIssue(BaseModel):
    """A known-issue signature: a bug and the regex (RE2 syntax) that recognises it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    title: str = Field(min_length=1)
    bug_url: str = Field(min_length=1)
    pattern: str = Field(min_length=1, max_length=4096)
    category: IssueCategory = IssueCategory.PRODUCT
    jobs: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    multiline: bool = False
    expires: date | None = None
    message: str | None = Field(
        default=None,
        max_length=1000,
        description="Explanation shown with a hit; {1}, {name} are the pattern's capture groups",
    )
    bug_title: str | None = Field(
        default=None, description="The bug's title in its tracker, as last looked up"
    )
    bug_status: str | None = Field(default=None, description="The bug's status, as last looked up (cached)")

    def applies_to_job(self, job: str) -> bool:
        """True when the signature has no job scope or the job matches it."""
        return not self.jobs or glob_match(job, self.jobs)

    def applies_to_test(self, test_id: str) -> bool:
        """True when the signature has no test scope or the test matches it."""
        return not self.tests or glob_match(test_id, self.tests)

    def is_active(self, today: date) -> bool:
        """An expired signature no longer explains anything."""
        return self.expires is None or today <= self.expires

    def ref(self) -> KnownIssueRef:
        """The short form the report carries."""
        return KnownIssueRef(id=self.id, bug_url=self.bug_url, title=self.title, status=self.bug_status)


class SignatureStats(BaseModel):
    """How often a known issue explained failures: kept current by every analysis."""

    hits: int = Field(default=0, description="Failures it explained, over all runs")
    runs_hit: int = Field(default=0, description="Runs in which it explained at least one failure")
    last_hit_at: datetime | None = None
    last_run_id: str | None = None


class InfraRule(BaseModel):
    """A built-in (or site) rule that recognises infrastructure breakage in a log line."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    category: str = Field(min_length=1)
    pattern: str | None = Field(default=None, max_length=4096, description="Log line regex, RE2 syntax")
    results: list[str] = Field(
        default_factory=list, description="CI result words that mean this: Zuul NODE_FAILURE, Jenkins ABORTED"
    )
    description: str = ""
    files: list[str] = Field(default_factory=list)
    enabled: bool = Field(default=True, description="False in a site file turns a built-in rule off")

    @model_validator(mode="after")
    def _matches_something(self) -> InfraRule:
        if not self.pattern and not self.results and self.enabled:
            raise ValueError(f"rule {self.id!r} needs a pattern, results, or both")
        return self


# A passed run of a job (or test) whose previous run failed: a mail verdict, not a run's.
FIXED: Final = "fixed"
# What a subscriber can ask to hear about: a run's verdict, or `fixed` (passing again).
MailVerdict: TypeAlias = Verdict | Literal["fixed"]
MAIL_VERDICTS: tuple[str, ...] = (*(v.value for v in Verdict), FIXED)

# The verdict a failure stands for, when a test subscriber's own tests are judged.
CLASSIFICATION_VERDICTS = {
    Classification.NEW: Verdict.FAILED_NEW,
    Classification.KNOWN: Verdict.FAILED_KNOWN,
    Classification.INFRA: Verdict.INFRA,
}


class DeliveryMode(StrEnum):
    """When a subscriber hears: a mail per run, or a daily or weekly digest."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


class Subscription(BaseModel):
    """An address and what it wants to hear about.

    Job globs alone: every run of those jobs with a wanted verdict. Test globs: only runs in
    which one of those tests failed with a wanted classification (and, with job globs too,
    only in those jobs).
    """

    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    jobs: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    verdicts: list[MailVerdict] = Field(
        default_factory=lambda: list[MailVerdict]([Verdict.FAILED_NEW, Verdict.FAILED_KNOWN]),
    )
    delivery: DeliveryMode = Field(
        default=DeliveryMode.IMMEDIATE, description="A mail per run, or a daily or weekly digest"
    )
    components: list[str] = Field(
        default_factory=list,
        description="Globs of the component names whose versions the mail shows (all, capped, when empty)",
    )

    def wants_verdict(self, verdict: MailVerdict) -> bool:
        """True when the verdict is one this subscriber listed."""
        return verdict in self.verdicts

    def covers_job(self, job: str) -> bool:
        """True when the job is in scope: no job globs (tests only), or one matches."""
        return not self.jobs or glob_match(job, self.jobs)

    def matching_failures(self, report: RunReport) -> list[Failure]:
        """This subscriber's own failed tests, with a classification it wants, in report order."""
        if not self.tests or not self.covers_job(report.run.job):
            return []
        return [
            f
            for f in report.failures
            if glob_match(f.test_id, self.tests)
            and self.wants_verdict(CLASSIFICATION_VERDICTS[f.classification])
        ]

    def wants(self, report: RunReport) -> bool:
        """True when this subscriber should get mail about the report."""
        if not self.jobs and not self.tests:
            return False
        if self.tests:
            return bool(self.matching_failures(report))
        return self.covers_job(report.run.job) and self.wants_verdict(report.verdict)


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
            new=len(report.failures_by(Classification.NEW)),
            known=len(report.failures_by(Classification.KNOWN)),
            infra=len(report.failures_by(Classification.INFRA)),
            log_url=report.run.log_url,
            change_url=report.run.change_url,
            project=report.run.project,
            pipeline=report.run.pipeline,
        )


class RunAnalyzedEnvelope(BaseModel):
    """An EventBridge event carrying RunAnalyzed, as the rule delivers it to the notify queue.

    Only the fields citriage needs are required, so any EventBridge-compatible bus will do.
    """

    source: Literal["citriage"]
    detail_type: Literal["RunAnalyzed"] = Field(alias="detail-type")
    detail: RunAnalyzed


class MailMessage(BaseModel):
    """A rendered mail, ready for a transport."""

    subject: str
    html: str
    text: str
    sender: str
    recipients: list[str]
    run_id: str
