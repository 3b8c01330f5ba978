"""What the read side answers (docs/api.md): run summaries, jobs, a test's and a known issue's
history, the grid's status, pages of them, API tokens, and the client's envelope."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from citriage.models.incident import Incident
from citriage.models.known_issue import KnownIssue, SignatureStats
from citriage.models.report import Classification, Verdict
from citriage.models.run import TestCounts

ItemT = TypeVar("ItemT")


class RunSummary(BaseModel):
    """One analysed run, as a list shows it."""

    run_id: str
    source: str
    job: str
    verdict: Verdict
    when: datetime = Field(description="When the run ended (when it was analysed, if its CI did not say)")
    analyzed_at: datetime | None = None
    log_url: str
    project: str | None = None
    change: str | None = None
    pipeline: str | None = None
    tests: TestCounts
    new: int = Field(default=0, description="Failures no known issue explains")
    known: int = Field(default=0, description="Failures a known issue explains")
    infra: int = Field(default=0, description="Failures put down to the infrastructure")


class Page(BaseModel, Generic[ItemT]):
    """Some of the answers, newest first, and where the next page starts (None: no more)."""

    items: list[ItemT]
    cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class JobSummary(BaseModel):
    """A job: its last run and how its recent runs went."""

    job: str
    source: str
    last_run: RunSummary
    recent_runs: int = Field(description="How many recent runs the rates count")
    passed: int
    failed: int
    infra: int
    pass_rate: float | None = Field(default=None, description="passed / (passed + failed); None: no such run")


class TestFailure(BaseModel):
    """One run a test failed in."""

    run_id: str
    source: str
    job: str
    when: datetime
    classification: Classification
    known_issue: str | None = None
    log_url: str


class TestInJob(BaseModel):
    """How a test went in a job's recent runs that read results."""

    job: str
    source: str
    runs: int
    failed: int
    failure_rate: float | None = None


class TestHistory(BaseModel):
    """A test's failures, newest first, and its failure rate in each job it failed in."""

    test_id: str
    failures: list[TestFailure]
    jobs: list[TestInJob]
    cursor: str | None = None


class IssueHit(BaseModel):
    """A run a known issue explained (a failing test, or a log line with no test)."""

    run_id: str
    source: str
    job: str
    when: datetime
    test_id: str | None = Field(default=None, description="The first test it explained; None: a log line")
    tests: int = Field(default=0, description="How many failing tests of the run it explained")
    log_url: str


class KnownIssueStatus(BaseModel):
    """A signature with its hit statistics, and (asked for one) the runs it explained lately."""

    issue: KnownIssue
    stats: SignatureStats
    recent_hits: list[IssueHit] = Field(default_factory=list)


class QueueDepth(BaseModel):
    """A queue's messages waiting and in flight."""

    name: str
    waiting: int
    in_flight: int


class GridStatus(BaseModel):
    """The grid's health at a glance."""

    queues: list[QueueDepth]
    last_run_by_source: dict[str, RunSummary]
    analyses_last_hour: int
    verdicts_last_hour: dict[str, int]
    open_incidents: list[Incident] = Field(
        default_factory=list, description="Infrastructure incidents opened in the last 30 days and still open"
    )


class TokenScope(StrEnum):
    """What a token may do: read everything, or also act (re-queue runs); or only push a job's own
    results (`citriage submit`), which reads nothing else."""

    READ = "read"
    ADMIN = "admin"
    SUBMIT = "submit"


class ApiToken(BaseModel):
    """A token as it is stored and listed: never the token itself, only its hash and a prefix."""

    token_id: str = Field(description="The first characters of the token: what `tokens revoke` takes")
    name: str
    scope: TokenScope
    created_at: datetime


class Invocation(BaseModel):
    """How a client call went: 0 ok, else the documented exit codes (docs/api.md)."""

    status: int
    message: str
    cursor: str | None = Field(default=None, description="For a page: pass as --cursor for the next one")


class Envelope(BaseModel):
    """Every client answer: `{"invocation": {"status": 0, "message": "ok"}, "returns": ...}`."""

    invocation: Invocation
    returns: Any = None
