"""Known-issue signatures, their hit statistics, and infrastructure rules (docs/known-issues.md)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citriage.models.report import KnownIssueRef
from citriage.models.run import glob_match


class IssueCategory(StrEnum):
    """Who owns a known issue: the product, the test itself, or the infrastructure."""

    PRODUCT = "product"
    TEST = "test"
    INFRA = "infra"


class KnownIssue(BaseModel):
    """A known-issue signature: a bug and the regex (RE2 syntax) that recognises it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1, max_length=128, pattern=r"^[^#]", description="Ids starting with # are citriage's own"
    )
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
    passing_hits: int = Field(
        default=0, description="Passing runs whose logs it matched: a sign it is too broad"
    )
    last_passing_hit_at: datetime | None = None
    last_passing_run_id: str | None = None


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
