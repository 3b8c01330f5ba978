"""NotifyFunction: RunAnalyzed, incident and RunReleased events (EventBridge -> notify queue) -> mails."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import NotifySettings
from citriage.models import RunAnalyzedEnvelope
from citriage.models.incident import IncidentEnvelope, RunReleasedEnvelope
from citriage.notify.service import NotifyService
from citriage.tracing import handler_tracer
from citriage.wiring import notify_service

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def service() -> NotifyService:
    """Built on first use from the environment, then kept for warm invocations."""
    return notify_service(NotifySettings.from_env(), AwsClients())


@tracer.capture_method(capture_response=False)
def notify_record(record: SQSRecord) -> None:
    """Mail the subscribers of the run in one RunAnalyzed event, or an incident's alert."""
    kind = json.loads(record.body).get("detail-type")
    if kind in ("IncidentOpened", "IncidentClosed"):
        changed = IncidentEnvelope.model_validate_json(record.body).detail
        alerted = service().incident_alert(changed)
        metrics.add_metric(name="MailsSent", unit=MetricUnit.Count, value=len(alerted.sent))
        logger.info(
            "incident alerted",
            incident=changed.incident.id,
            change=changed.change.value,
            sent=[d.recipient for d in alerted.sent],
            already_sent=alerted.already_sent,
        )
        return
    if kind == "RunReleased":
        released = RunReleasedEnvelope.model_validate_json(record.body).detail
        mailed = service().released(released)
        metrics.add_metric(name="MailsSent", unit=MetricUnit.Count, value=len(mailed.sent))
        logger.info(
            "held run released",
            run_id=released.run_id,
            incident=released.incident,
            sent=[d.recipient for d in mailed.sent],
            already_sent=mailed.already_sent,
        )
        return
    event = RunAnalyzedEnvelope.model_validate_json(record.body).detail
    outcome = service().handle(event)
    if outcome.held:
        logger.info("run held by an incident", run_id=outcome.run_id, incident=outcome.held)
    metrics.add_metric(name="MailsSent", unit=MetricUnit.Count, value=len(outcome.sent))
    logger.info(
        "run notified",
        run_id=outcome.run_id,
        sent=[d.recipient for d in outcome.sent],
        already_sent=outcome.already_sent,
    )
    if outcome.suppressed:
        logger.warning("suppressed addresses skipped", run_id=outcome.run_id, suppressed=outcome.suppressed)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point (SQS batch with ReportBatchItemFailures)."""
    return process_partial_response(
        event=event, record_handler=notify_record, processor=processor, context=context
    )
