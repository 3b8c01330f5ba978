"""Infrastructure incidents (docs/incidents.md): one outage of one service, opened when its
findings hit enough runs of enough jobs in a window, closed by clean runs, quiet or an admin."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from citriage.models.run import RunEvent

# What an incident keeps of its runs and evidence at most (its counters count them all).
MAX_INCIDENT_RUNS = 200
MAX_INCIDENT_EVIDENCE = 5


class IncidentState(StrEnum):
    """Whether the outage is going on."""

    OPEN = "open"
    CLOSED = "closed"


class IncidentHit(BaseModel):
    """One run an infrastructure cause hit: what an incident is made of."""

    run_id: str
    job: str
    source: str
    when: datetime = Field(description="When the run ended")
    rule: str
    excerpt: str = ""
    duration_seconds: float | None = Field(default=None, description="The run's wall time: CI time lost")


class Incident(BaseModel):
    """One outage of one service (or of a category, when its rules name no service)."""

    id: str
    key: str = Field(description="`<category>#<service>` (`*` for no service): one open incident per key")
    category: str
    service: str | None = None
    state: IncidentState = IncidentState.OPEN
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, description="clean runs, quiet, or the admin who closed it")
    declared_by: str | None = Field(default=None, description="The admin who declared it, if one did")
    last_hit_at: datetime
    rules: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list, description=f"Up to {MAX_INCIDENT_EVIDENCE} excerpts")
    runs: list[str] = Field(default_factory=list, description=f"The first {MAX_INCIDENT_RUNS} runs it hit")
    run_count: int = 0
    jobs: list[str] = Field(default_factory=list)
    ci_seconds_lost: float = 0.0
    clean_runs: int = Field(default=0, description="Clean runs of its jobs since its last hit")
    announced: list[IncidentState] = Field(
        default_factory=list, description="The changes whose event was published (open, closed)"
    )

    @property
    def duration_seconds(self) -> float | None:
        """How long it lasted (None while open)."""
        return None if self.closed_at is None else (self.closed_at - self.opened_at).total_seconds()


class IncidentThreshold(BaseModel):
    """When a category's findings are an incident, and when it is over."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runs: int = Field(default=3, ge=1, le=1000, description="Runs hit within the window to open one")
    jobs: int = Field(default=2, ge=1, le=1000, description="Distinct jobs among them")
    window_minutes: int = Field(default=30, ge=1, le=1440)
    quiet_minutes: int = Field(default=60, ge=1, le=10080, description="No new hit this long closes it")
    clean_runs: int = Field(default=2, ge=1, le=100, description="Clean runs of its jobs that close it")


class IncidentPolicy(BaseModel):
    """The thresholds: a default, and any category's own (INCIDENT_THRESHOLDS, JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: IncidentThreshold = IncidentThreshold()
    categories: dict[str, IncidentThreshold] = Field(default_factory=dict)

    def of(self, category: str) -> IncidentThreshold:
        """A category's thresholds."""
        return self.categories.get(category, self.default)


def incident_key(category: str, service: str | None) -> str:
    """The key one open incident per outage is kept under."""
    return f"{category}#{service or '*'}"


class IncidentChanged(BaseModel):
    """The `IncidentOpened` / `IncidentClosed` event's detail on the citriage bus."""

    change: IncidentState
    incident: Incident


class DowntimeRow(BaseModel):
    """One service's (or category's) outages in a period."""

    category: str
    service: str | None = None
    incidents: int
    downtime_seconds: float = Field(
        description="The incidents' durations, an open one's up to now, within the period"
    )
    runs: int
    jobs: list[str]
    ci_hours_lost: float


class DowntimeReport(BaseModel):
    """The downtime ledger of a period: per service and category, and in all."""

    since: datetime
    until: datetime
    rows: list[DowntimeRow]
    incidents: int
    downtime_seconds: float
    runs: int
    ci_hours_lost: float


class IncidentEnvelope(BaseModel):
    """An IncidentOpened or IncidentClosed event as the bus delivers it to the notify queue."""

    source: Literal["citriage"]
    detail_type: Literal["IncidentOpened", "IncidentClosed"] = Field(alias="detail-type")
    detail: IncidentChanged


class HoldState(StrEnum):
    """Where a run an incident held is: waiting, being rechecked, rechecked, or released."""

    HELD = "held"
    RECHECKING = "rechecking"
    RECHECKED = "rechecked"
    RELEASED = "released"


class Recheck(BaseModel):
    """What citriage asked a run's CI to run again, and what the CI answered."""

    ci: str = Field(description="gerrit, zuul, jenkins, github, gitlab or openqa")
    action: str = Field(description="What was asked, in words: e.g. `recheck comment on change 12345,3`")
    url: str = Field(description="The API URL that was called (no credentials)")
    status: int = Field(description="The CI's HTTP status")
    at: datetime


class HeldRun(BaseModel):
    """A run whose mails an open incident held: it failed on the outage, not on its change."""

    run_id: str
    incident: str
    run: RunEvent
    held_at: datetime
    state: HoldState = HoldState.HELD
    attempts: int = Field(default=0, description="Recheck attempts (a failed one is retried)")
    last_error: str | None = None
    recheck: Recheck | None = None
    released_at: datetime | None = None
    released_because: str | None = None


class HoldPolicy(BaseModel):
    """How long a held run waits for its incident to end, and how a recheck is asked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_hours: float = Field(default=24.0, gt=0, le=24 * 30, description="Released after this long")
    recheck_comment: str = Field(default="recheck", min_length=1, max_length=200)
    lease_seconds: int = Field(default=300, ge=10, description="A recheck in flight blocks others this long")


class RunReleased(BaseModel):
    """The `RunReleased` event's detail: a held run that will not run again, to be mailed."""

    run_id: str
    incident: str
    held_at: datetime
    because: str


class RunReleasedEnvelope(BaseModel):
    """A RunReleased event as the bus delivers it to the notify queue."""

    source: Literal["citriage"]
    detail_type: Literal["RunReleased"] = Field(alias="detail-type")
    detail: RunReleased
