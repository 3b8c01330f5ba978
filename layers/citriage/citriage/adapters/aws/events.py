"""EventBridge: verdict events on the citriage bus."""

from __future__ import annotations

from typing import Any

from citriage.errors import CitriageError
from citriage.models import RunAnalyzed, RunReport


class EventPublisher:
    """Puts `RunAnalyzed` events on the bus."""

    source = "citriage"

    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def run_analyzed(self, report: RunReport) -> None:
        """Publish the verdict event of a run (raises when EventBridge refuses it)."""
        event = RunAnalyzed.from_report(report)
        response = self._events.put_events(
            Entries=[
                {
                    "Source": self.source,
                    "DetailType": "RunAnalyzed",
                    "Detail": event.model_dump_json(),
                    "EventBusName": self._bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise CitriageError(f"EventBridge refused RunAnalyzed for {report.run_id}: {response['Entries']}")
