"""From infrastructure findings to incidents (docs/incidents.md).

Each analysed run is shown to the tracker once, under the run's analysis lease:

- an `infra` run's causes (category and service of each infrastructure finding) join the open
  incident of their key, or are recorded as candidate hits; when a key's candidates reach the
  category's thresholds (runs, distinct jobs, within a window) an incident opens, with them all;
  concurrent analyses of one burst open one incident (the store's conditional writes decide);
- a clean run (its verdict not `infra`) of a job an open incident hit, ended after the
  incident's last hit, counts towards closing it;
- any open incident without a hit for its quiet time is closed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from citriage.models import RunReport, Verdict
from citriage.models.incident import (
    MAX_INCIDENT_EVIDENCE,
    MAX_INCIDENT_RUNS,
    Incident,
    IncidentHit,
    IncidentPolicy,
    IncidentState,
    incident_key,
)
from citriage.ports import Incidents, Publisher

# Verdicts that say the infrastructure worked for the run.
_CLEAN = (Verdict.PASSED, Verdict.FAILED_NEW, Verdict.FAILED_KNOWN)


@dataclass(frozen=True)
class Cause:
    """One infrastructure cause of a run: a finding's category, service, rule and excerpt."""

    category: str
    service: str | None
    rule: str
    excerpt: str

    @property
    def key(self) -> str:
        """The incident key it belongs to."""
        return incident_key(self.category, self.service)


def causes_of(report: RunReport) -> list[Cause]:
    """A run's infrastructure causes, one per incident key, in the report's order: its findings
    (console, CI result), then its infrastructure failures' evidence."""
    found: dict[str, Cause] = {}
    for finding in report.infra:
        cause = Cause(finding.category, finding.service, finding.rule, finding.excerpt)
        found.setdefault(cause.key, cause)
    for failure in report.failures:
        for evidence in failure.evidence:
            if evidence.kind == "infra_rule" and evidence.category:
                cause = Cause(
                    evidence.category, evidence.service, evidence.matched_by or "", evidence.excerpt
                )
                found.setdefault(cause.key, cause)
    return list(found.values())


@dataclass
class Observed:
    """What one run did to the incidents."""

    incident: str | None = None
    opened: list[Incident] = field(default_factory=list)
    closed: list[Incident] = field(default_factory=list)


class IncidentTracker:
    """Opens, grows and closes incidents from analysed runs."""

    def __init__(
        self,
        store: Incidents,
        policy: IncidentPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    def observe(self, report: RunReport) -> Observed:
        """Show the tracker one analysed run; what it opened, joined and closed."""
        observed = Observed()
        when = (report.run.end_time or report.analyzed_at).astimezone(UTC)
        if report.verdict is Verdict.INFRA:
            for cause in causes_of(report):
                incident = self._hit(cause, report, when, observed)
                observed.incident = observed.incident or incident
        # Read once (after this run's hits, which move their incidents' last hit) for both checks.
        still_open = self._store.open_incidents()
        if report.verdict in _CLEAN:
            self._clean(report, when, still_open, observed)
        done = {incident.id for incident in observed.closed}
        observed.closed += self.close_quiet([i for i in still_open if i.id not in done])
        return observed

    def _hit(self, cause: Cause, report: RunReport, when: datetime, observed: Observed) -> str | None:
        hit = IncidentHit(
            run_id=report.run_id,
            job=report.run.job,
            source=report.run.source,
            when=when,
            rule=cause.rule,
            excerpt=cause.excerpt[:500],
            duration_seconds=report.run.duration_seconds,
        )
        current = self._store.open_for(cause.key)
        if current is not None:
            self._store.add_hit(current.id, hit)
            return current.id
        threshold = self._policy.of(cause.category)
        hits = self._store.record_hit(cause.key, hit, when - timedelta(minutes=threshold.window_minutes))
        runs = {h.run_id: h for h in hits}
        if len(runs) < threshold.runs or len({h.job for h in runs.values()}) < threshold.jobs:
            return None
        first = min(h.when for h in runs.values())
        candidate = _new_incident(cause, list(runs.values()), first)
        winner, opened = self._store.open(candidate, list(runs.values()))
        if opened:
            observed.opened.append(winner)
        else:
            # Another analysis of the burst opened it first: this run joins it.
            self._store.add_hit(winner.id, hit)
        return winner.id

    def _clean(
        self, report: RunReport, when: datetime, still_open: list[Incident], observed: Observed
    ) -> None:
        for incident in still_open:
            if report.run.job not in incident.jobs or when <= incident.last_hit_at:
                continue
            count = self._store.add_clean(incident.id, report.run_id)
            if count is not None and count >= self._policy.of(incident.category).clean_runs:
                # It ended when the infrastructure was seen to work: this run's end.
                closed = self._store.close(incident.id, when, "clean runs")
                if closed is not None:
                    observed.closed.append(closed)

    def close_quiet(self, still_open: list[Incident] | None = None) -> list[Incident]:
        """Close every open incident (of `still_open`, when the caller read them already) that
        had no hit for its category's quiet time."""
        now = self._clock()
        closed = []
        for incident in self._store.open_incidents() if still_open is None else still_open:
            quiet = timedelta(minutes=self._policy.of(incident.category).quiet_minutes)
            if now - incident.last_hit_at >= quiet:
                # Its end is the last time it was seen: the quiet time after it is not downtime.
                done = self._store.close(incident.id, incident.last_hit_at, "quiet")
                if done is not None:
                    closed.append(done)
        return closed

    def announce(self, publisher: Publisher, lookback: timedelta = timedelta(days=7)) -> int:
        """Publish every incident change not yet published (at least once: a crash between
        publishing and noting it publishes again); how many went out."""
        now = self._clock()
        pending = [
            (i, IncidentState.OPEN)
            for i in self._store.open_incidents()
            if IncidentState.OPEN not in i.announced
        ]
        pending += [
            (i, change)
            for i in self._store.between(now - lookback, now + timedelta(seconds=1))
            if i.state is IncidentState.CLOSED
            for change in (IncidentState.OPEN, IncidentState.CLOSED)
            if change not in i.announced
        ]
        for incident, change in pending:
            publisher.incident_changed(incident, change)
            self._store.mark_announced(incident.id, change)
        return len(pending)

    def upkeep(self, publisher: Publisher) -> tuple[list[Incident], int]:
        """The schedule's round: close the quiet incidents (a grid with no runs at all analyses
        nothing that would), then publish every change not yet published."""
        closed = self.close_quiet()
        return closed, self.announce(publisher)

    def close(self, incident_id: str, by: str) -> Incident | None:
        """An admin closes an incident (None: it was not open)."""
        return self._store.close(incident_id, self._clock(), by)


def _new_incident(cause: Cause, hits: list[IncidentHit], first: datetime) -> Incident:
    ordered = sorted(hits, key=lambda h: (h.when, h.run_id))
    slug = re.sub(r"[^a-z0-9]+", "-", f"{cause.category}-{cause.service or 'any'}".lower()).strip("-")[:60]
    digest = hashlib.sha256(f"{cause.key}#{first.isoformat()}".encode()).hexdigest()[:6]
    return Incident(
        id=f"{first:%Y%m%d-%H%M%S}-{slug}-{digest}",
        key=cause.key,
        category=cause.category,
        service=cause.service,
        opened_at=first,
        last_hit_at=max(h.when for h in ordered),
        rules=sorted({h.rule for h in ordered}),
        evidence=list(dict.fromkeys(h.excerpt for h in ordered if h.excerpt))[:MAX_INCIDENT_EVIDENCE],
        runs=[h.run_id for h in ordered][:MAX_INCIDENT_RUNS],
        run_count=len(ordered),
        jobs=sorted({h.job for h in ordered}),
        ci_seconds_lost=sum(h.duration_seconds or 0.0 for h in ordered),
    )
