"""Held runs: a run that failed on an open incident's outage is held (its developers get no mail;
it is not their code). When the incident is over, each held run is rechecked once through its
CI's API (citriage.feedback.rechecks). A run whose CI cannot be asked, or that is still held
after the hold limit (24 h by default), is released: a `RunReleased` event, whose mail tells its
subscribers the run never ran again (docs/incidents.md).

Each step takes the run with a conditional write first, so a redelivered event, a second
round or a concurrent worker finds it taken or settled: one recheck (or release) per run. A
worker that dies between the CI's answer and the note of it leaves its lease, and a round after
the lease asks again: a crash at that moment can recheck twice, never zero times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from citriage.errors import RecheckFailed, RecheckUnavailable
from citriage.models import RunReport
from citriage.models.incident import HeldRun, HoldPolicy, HoldState, Incident, IncidentState, RunReleased
from citriage.ports import HeldRuns, Incidents, Publisher, Rechecker

_WAITING = (HoldState.HELD, HoldState.RECHECKING)
# How far back a round looks for closed incidents whose held runs still wait (a lost event).
ROUND_LOOKBACK = timedelta(days=30)


@dataclass
class HoldRound:
    """What one pass over held runs did."""

    rechecked: list[HeldRun] = field(default_factory=list)
    released: list[HeldRun] = field(default_factory=list)
    retrying: list[HeldRun] = field(default_factory=list)

    def add(self, other: HoldRound) -> None:
        """Count another pass's runs into this one."""
        self.rechecked += other.rechecked
        self.released += other.released
        self.retrying += other.retrying


class HoldService:
    """Holds an outage's runs, and rechecks or releases them when it is over."""

    def __init__(
        self,
        incidents: Incidents,
        held: HeldRuns,
        rechecker: Rechecker | None,
        publisher: Publisher,
        policy: HoldPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._incidents = incidents
        self._held = held
        self._rechecker = rechecker
        self._publisher = publisher
        self._policy = policy
        self._clock = clock

    @property
    def limit(self) -> timedelta:
        """How long a run is held at most."""
        return timedelta(hours=self._policy.hold_hours)

    def after_close(self, incident: Incident) -> HoldRound:
        """Recheck (or release) every run a closed incident held that still waits."""
        done = HoldRound()
        if incident.state is not IncidentState.CLOSED:
            return done
        for held in self._held.held_of(incident.id):
            if held.state in _WAITING:
                self._settle(held, done)
        return done

    def round(self) -> HoldRound:
        """The schedule's pass: the waiting runs of closed incidents (whose event was lost or
        whose recheck failed) are rechecked; those of open incidents held past the limit are
        released."""
        now = self._clock()
        done = HoldRound()
        for incident in self._incidents.between(now - ROUND_LOOKBACK, now + timedelta(seconds=1)):
            done.add(self.after_close(incident))
        for incident in self._incidents.open_incidents():
            for held in self._held.held_of(incident.id):
                if held.state in _WAITING and now - held.held_at >= self.limit:
                    taken = self._take(held)
                    if taken is not None:
                        hours = f"{self._policy.hold_hours:g}"
                        self._release(taken, f"its incident was still open after {hours} h", done)
        return done

    def _take(self, held: HeldRun) -> HeldRun | None:
        return self._held.claim_hold(held.incident, held.run_id, self._clock(), self._policy.lease_seconds)

    def _settle(self, held: HeldRun, done: HoldRound) -> None:
        taken = self._take(held)
        if taken is None:
            return  # another worker has it, or settled it
        if self._rechecker is None:
            self._release(taken, "citriage is not set up to ask CIs for rechecks", done)
            return
        try:
            recheck = self._rechecker.recheck(taken.run, self._policy.recheck_comment)
        except RecheckUnavailable as exc:
            self._release(taken, f"its CI could not be asked to run it again: {exc}", done)
        except RecheckFailed as exc:
            if self._clock() - taken.held_at >= self.limit:
                self._release(taken, f"its CI did not take a recheck within the hold limit: {exc}", done)
            else:
                self._held.settle_hold(taken, HoldState.HELD, self._clock(), error=str(exc))
                done.retrying.append(taken)
        else:
            self._held.settle_hold(taken, HoldState.RECHECKED, self._clock(), recheck=recheck)
            done.rechecked.append(taken.model_copy(update={"state": HoldState.RECHECKED, "recheck": recheck}))

    def _release(self, taken: HeldRun, because: str, done: HoldRound) -> None:
        # Published before it is noted: a crash in between publishes again, and the mail's
        # claim keeps that to one mail per address.
        self._publisher.run_released(
            RunReleased(run_id=taken.run_id, incident=taken.incident, held_at=taken.held_at, because=because)
        )
        self._held.settle_hold(taken, HoldState.RELEASED, self._clock(), because=because)
        done.released.append(
            taken.model_copy(update={"state": HoldState.RELEASED, "released_because": because})
        )


def held_run(report: RunReport, now: datetime) -> HeldRun:
    """The held-run record of an analysed run an open incident holds."""
    if report.incident is None:
        raise ValueError(f"run {report.run_id} names no incident")
    return HeldRun(run_id=report.run_id, incident=report.incident, run=report.run, held_at=now)
