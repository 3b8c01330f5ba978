"""EventBridge: verdict and incident events on the citriage bus."""

from __future__ import annotations

from typing import Any

from citriage.errors import CitriageError
from citriage.models import RunAnalyzed, RunReport
from citriage.models.buildset import BuildsetAnalyzed
from citriage.models.incident import Incident, IncidentChanged, IncidentState, RunReleased


class EventPublisher:
    """Puts `RunAnalyzed`, `BuildsetAnalyzed`, `IncidentOpened`, `IncidentClosed` and `RunReleased`
    events on the bus."""

    source = "citriage"

    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def run_analyzed(self, report: RunReport) -> None:
        """Publish the verdict event of a run (raises when EventBridge refuses it)."""
        self._put("RunAnalyzed", RunAnalyzed.from_report(report).model_dump_json(), report.run_id)

    def incident_changed(self, incident: Incident, change: IncidentState) -> None:
        """Publish IncidentOpened or IncidentClosed (raises when EventBridge refuses it)."""
        detail_type = "IncidentOpened" if change is IncidentState.OPEN else "IncidentClosed"
        self._put(
            detail_type, IncidentChanged(change=change, incident=incident).model_dump_json(), incident.id
        )

    def run_released(self, released: RunReleased) -> None:
        """Publish RunReleased: a held run that will not run again (raises when refused)."""
        self._put("RunReleased", released.model_dump_json(), released.run_id)

    def buildset_analyzed(self, event: BuildsetAnalyzed) -> None:
        """Publish BuildsetAnalyzed: one buildset's verdict (raises when refused)."""
        self._put("BuildsetAnalyzed", event.model_dump_json(), event.id)

    def _put(self, detail_type: str, detail: str, subject: str) -> None:
        response = self._events.put_events(
            Entries=[
                {
                    "Source": self.source,
                    "DetailType": detail_type,
                    "Detail": detail,
                    "EventBusName": self._bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise CitriageError(f"EventBridge refused {detail_type} for {subject}: {response['Entries']}")
