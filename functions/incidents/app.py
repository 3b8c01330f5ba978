"""IncidentsFunction: every few minutes, closes the incidents that went quiet and publishes any
incident change not yet on the bus (docs/incidents.md)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.events import EventPublisher
from citriage.config import IncidentSettings, IncidentUpkeepSettings
from citriage.incidents.tracker import IncidentTracker
from citriage.wiring import incident_upkeep

logger = Logger()


@cache
def parts() -> tuple[IncidentTracker, EventPublisher]:
    """Built on first use from the environment, then kept for warm invocations."""
    return incident_upkeep(IncidentSettings.from_env(), IncidentUpkeepSettings.from_env(), AwsClients())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (an EventBridge schedule; the event's content is not used)."""
    tracker, publisher = parts()
    closed, announced = tracker.upkeep(publisher)
    logger.info("incident round", closed=[i.id for i in closed], announced=announced)
    return {"closed": [i.id for i in closed], "announced": announced}
