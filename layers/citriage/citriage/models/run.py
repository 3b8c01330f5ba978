"""A run: what a webhook or a sweep normalises a finished build to, and its test results."""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class SourceName(StrEnum):
    """The CI sources citriage takes runs from (a run's `source`, a webhook's path)."""

    ZUUL = "zuul"
    JENKINS = "jenkins"
    GITHUB = "github"
    GITLAB = "gitlab"
    OPENQA = "openqa"
    GERRIT = "gerrit"
    GENERIC = "generic"
    # A job's own results, pushed by `citriage submit` (docs/in-job.md).
    UPLOAD = "upload"


class TestStatus(StrEnum):
    """Outcome of one test case, whatever format it was read from."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    # Started but never finished: the job was killed under it. Never counted as passed.
    INTERRUPTED = "interrupted"


def parse_time(value: object) -> object:
    """Zuul sends times as epoch floats or as strings; normalise both to aware datetimes. A time
    out of range (1e300, a year 99999) is a ValueError, which pydantic reports as invalid."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if isinstance(value, str):
            if len(value) > 64:
                raise ValueError("too long for a time")
            try:
                return datetime.fromtimestamp(float(value), tz=UTC)
            except ValueError:
                pass
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"not a time in range: {exc}") from None
    return value


# What a run's text fields may hold: they become keys, mail headers and paths, and DynamoDB keys
# stop at 2 KB. Control characters (a CR/LF makes a header, a NUL ends a string) are refused.
_MAX_LENGTHS = {
    "source": 32,
    "job": 256,
    "build_id": 512,
    "log_url": 2048,
    "web_url": 2048,
    "change_url": 2048,
}
_MAX_OTHER = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_text(value: object, info: ValidationInfo) -> object:
    if isinstance(value, str):
        limit = _MAX_LENGTHS.get(info.field_name or "", _MAX_OTHER)
        if len(value) > limit:
            raise ValueError(f"at most {limit} characters")
        if _CONTROL.search(value):
            raise ValueError("control characters (CR, LF, NUL, ...) are not allowed")
    return value


_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@")


def without_credentials(url: str) -> str:
    """A URL with any `user:password@` taken out: credentials belong in the CI tokens secret, and
    a URL is echoed in notes, mails and logs."""
    return _USERINFO.sub(r"\g<scheme>", url)


def _drop_credentials(value: object) -> object:
    return without_credentials(value) if isinstance(value, str) else value


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
    buildset_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="How many runs of its buildset citriage was sent (their analyses complete the buildset)",
    )
    revision: str | None = Field(
        default=None, description="The commit the run tested (GitHub checks and GitLab notes are put on it)"
    )
    voting: bool | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    reanalysis: str | None = Field(
        default=None,
        max_length=64,
        description="Set by `POST /runs/{run_id}/reanalyze`: a new analysis replaces the stored one",
    )

    _normalise_times = field_validator("start_time", "end_time", mode="before")(parse_time)
    _no_credentials = field_validator("log_url", "web_url", "change_url", mode="before")(_drop_credentials)
    _plain = field_validator(
        "source",
        "job",
        "build_id",
        "result",
        "log_url",
        "web_url",
        "tenant",
        "pipeline",
        "project",
        "branch",
        "change",
        "patchset",
        "change_url",
        "buildset_id",
        "revision",
        "reanalysis",
        mode="after",
    )(_plain_text)

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
    details: str = Field(
        default="", description="The failure's text (traceback or message), bounded with omission markers"
    )
    message: str | None = Field(default=None, description="The exception line: what went wrong")
    output: dict[str, str] = Field(
        default_factory=dict, description="Captured output by stream (stdout, stderr, pythonlogging)"
    )
    env: str | None = Field(
        default=None, description="The environment it ran in, when a run has several (tox env, suite, matrix)"
    )
    tags: list[str] = Field(default_factory=list)


class TestCounts(BaseModel):
    """Totals of a run's test results."""

    __test__ = False

    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0


def glob_match(value: str, patterns: list[str]) -> bool:
    """Case-sensitive shell-glob match of one value against any of the patterns."""
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)
