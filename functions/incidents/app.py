"""IncidentsFunction: every few minutes, closes the incidents that went quiet, publishes any
incident change not yet on the bus, and rechecks or releases held runs; and, from its queue,
rechecks the runs an incident held as soon as its IncidentClosed event arrives
(docs/incidents.md)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.events import EventPublisher
from citriage.config import FetchSettings, IncidentSettings, IncidentUpkeepSettings
from citriage.incidents.holds import HoldRound, HoldService
from citriage.incidents.tracker import IncidentTracker
from citriage.models.incident import IncidentEnvelope
from citriage.wiring import incident_upkeep

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def parts() -> tuple[IncidentTracker, EventPublisher, HoldService]:
    """Built on first use from the environment, then kept for warm invocations."""
    return incident_upkeep(
        IncidentSettings.from_env(), IncidentUpkeepSettings.from_env(), FetchSettings.from_env(), AwsClients()
    )


def _summary(done: HoldRound) -> dict[str, Any]:
    return {
        "rechecked": [h.run_id for h in done.rechecked],
        "released": [h.run_id for h in done.released],
        "retrying": [h.run_id for h in done.retrying],
    }


def recheck_record(record: SQSRecord) -> None:
    """Recheck the held runs of the incident in one IncidentClosed event (a redelivery finds
    them settled and does nothing)."""
    changed = IncidentEnvelope.model_validate_json(record.body).detail
    done = parts()[2].after_close(changed.incident)
    logger.info("held runs of a closed incident", incident=changed.incident.id, **_summary(done))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: an SQS batch of IncidentClosed events, or the schedule's round."""
    if "Records" in event:
        return dict(
            process_partial_response(
                event=event, record_handler=recheck_record, processor=processor, context=context
            )
        )
    tracker, publisher, holds = parts()
    closed, announced = tracker.upkeep(publisher)
    done = holds.round()
    logger.info("incident round", closed=[i.id for i in closed], announced=announced, **_summary(done))
    return {"closed": [i.id for i in closed], "announced": announced, **_summary(done)}
