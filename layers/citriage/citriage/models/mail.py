"""Subscriptions and mails: who hears about what, and a rendered message."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from citriage.models.report import Classification, Failure, RunReport, Verdict
from citriage.models.run import glob_match

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
    risk: Literal["any", "high"] = Field(
        default="any",
        description=(
            "high: a run whose new failures are all low risk (flaky, broken before) is not mailed at "
            "once, only listed in the daily digest"
        ),
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


class MailMessage(BaseModel):
    """A rendered mail, ready for a transport."""

    subject: str
    html: str
    text: str
    sender: str
    recipients: list[str]
    run_id: str
    list_id: str = Field(default="citriage", description="The list a mail belongs to (its job), for List-Id")
    thread: str | None = Field(default=None, description="Mails of one thread (a job and change) share it")
    unsubscribe_url: str | None = Field(default=None, description="The recipient's signed one-click link")
