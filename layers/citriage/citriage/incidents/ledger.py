"""The downtime ledger: incidents by period, one incident, and what a period cost per service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from citriage.errors import BadRequest, NotFound
from citriage.incidents.tracker import IncidentTracker
from citriage.models.incident import DowntimeReport, DowntimeRow, Incident, IncidentState
from citriage.ports import Incidents, Publisher

# The longest period one answer covers.
MAX_PERIOD = timedelta(days=400)


class IncidentLedger:
    """Reads the incidents for the API, the client and the monthly report."""

    def __init__(
        self,
        store: Incidents,
        tracker: IncidentTracker | None = None,
        publisher: Publisher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._tracker = tracker
        self._publisher = publisher
        self._clock = clock

    def close(self, incident_id: str, by: str) -> Incident:
        """An admin closes an open incident; its close is announced at once."""
        if self._tracker is None:
            raise BadRequest("this server cannot close incidents")
        closed = self._tracker.close(incident_id, by)
        if closed is None:
            current = self.info(incident_id)
            raise BadRequest(f"incident {incident_id!r} is {current.state.value} already")
        if self._publisher is not None:
            self._tracker.announce(self._publisher)
        return closed

    def period(self, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
        """[since, until), defaulted (the last 30 days) and bounded."""
        end = until or self._clock()
        start = since or end - timedelta(days=30)
        if start >= end:
            raise BadRequest("since must be before until")
        if end - start > MAX_PERIOD:
            raise BadRequest(f"a period spans at most {MAX_PERIOD.days} days")
        return start, end

    def search(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        state: IncidentState | None = None,
        category: str | None = None,
    ) -> list[Incident]:
        """Incidents opened in the period, newest first, filtered."""
        start, end = self.period(since, until)
        found = self._store.between(start, end)
        return [
            i
            for i in reversed(found)
            if (state is None or i.state is state) and (category is None or i.category == category)
        ]

    def info(self, incident_id: str) -> Incident:
        """One incident."""
        incident = self._store.get(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id!r}")
        return incident

    def report(self, since: datetime | None = None, until: datetime | None = None) -> DowntimeReport:
        """Per category and service: incidents, downtime within the period, runs, jobs, CI hours."""
        start, end = self.period(since, until)
        # An incident opened before the period may have lasted into it: look back as far again.
        incidents = [
            i for i in self._store.between(start - (end - start), end) if self._overlap(i, start, end) > 0
        ]
        rows: dict[tuple[str, str | None], DowntimeRow] = {}
        for incident in incidents:
            row = rows.setdefault(
                (incident.category, incident.service),
                DowntimeRow(
                    category=incident.category,
                    service=incident.service,
                    incidents=0,
                    downtime_seconds=0.0,
                    runs=0,
                    jobs=[],
                    ci_hours_lost=0.0,
                ),
            )
            row.incidents += 1
            row.downtime_seconds += self._overlap(incident, start, end)
            row.runs += incident.run_count
            row.jobs = sorted({*row.jobs, *incident.jobs})
            row.ci_hours_lost += incident.ci_seconds_lost / 3600
        ordered = sorted(rows.values(), key=lambda r: (-r.downtime_seconds, r.category, r.service or ""))
        return DowntimeReport(
            since=start,
            until=end,
            rows=ordered,
            incidents=sum(r.incidents for r in ordered),
            downtime_seconds=sum(r.downtime_seconds for r in ordered),
            runs=sum(r.runs for r in ordered),
            ci_hours_lost=round(sum(r.ci_hours_lost for r in ordered), 3),
        )

    def _overlap(self, incident: Incident, start: datetime, end: datetime) -> float:
        """Seconds of the incident within [start, end) (an open one lasts until now)."""
        closed = incident.closed_at or self._clock()
        return max(0.0, (min(closed, end) - max(incident.opened_at, start)).total_seconds())
