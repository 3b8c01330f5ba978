"""ReleaseGateFunction (optional, off unless ReleaseGateUrl is set): each `BuildsetAnalyzed` from
its queue accepts or declines the review of the release request the buildset tested, on an
OBS-style API (docs/feedback.md)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import FetchSettings, GateSettings
from citriage.feedback.gate import GateUnavailable, ReleaseGate
from citriage.models.buildset import BuildsetAnalyzedEnvelope
from citriage.wiring import release_gate

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def gate() -> ReleaseGate | None:
    """Built on first use from the environment, then kept for warm invocations."""
    return release_gate(GateSettings.from_env(), FetchSettings.from_env(), AwsClients())


def decide_record(record: SQSRecord) -> None:
    """One buildset's decision (a redelivery decides nothing twice)."""
    event = BuildsetAnalyzedEnvelope.model_validate_json(record.body).detail
    the_gate = gate()
    if the_gate is None:
        logger.warning("no ReleaseGateUrl: nothing decided", buildset=event.id)
        return
    try:
        decision = the_gate.decide(event)
    except GateUnavailable as exc:
        logger.warning("release request not decided", buildset=event.id, reason=str(exc))
        return
    if decision is None:
        logger.info(
            "not the gate's to decide, or decided already", buildset=event.id, incomplete=event.incomplete
        )
    else:
        logger.info("release request decided", **decision.model_dump(mode="json"))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: an SQS batch of BuildsetAnalyzed events."""
    return dict(
        process_partial_response(
            event=event, record_handler=decide_record, processor=processor, context=context
        )
    )
