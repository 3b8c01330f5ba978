"""SesEventsFunction: SES bounce and complaint events (configuration set -> SNS) -> suppression list."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.dynamodb import SuppressionStore
from citriage.config import SesEventsSettings
from citriage.notify.ses_events import suppressions_from_ses_event
from citriage.tracing import handler_tracer
from citriage.wiring import suppression_store

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()


@cache
def store() -> SuppressionStore:
    """Built on first use from the environment, then kept for warm invocations."""
    return suppression_store(SesEventsSettings.from_env(), AwsClients())


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (SNS). A message that is not an SES event is logged and dropped:
    retrying it would never help."""
    suppressed: list[str] = []
    for record in event.records:
        try:
            suppressions = suppressions_from_ses_event(record.sns.message)
        except ValueError as exc:
            logger.warning("not an SES event; dropped", message_id=record.sns.message_id, reason=str(exc))
            continue
        for suppression in suppressions:
            store().add(suppression)
            suppressed.append(suppression.email)
            logger.warning(
                "address suppressed",
                email=suppression.email,
                reason=suppression.reason,
                detail=suppression.detail,
            )
    metrics.add_metric(name="AddressesSuppressed", unit=MetricUnit.Count, value=len(suppressed))
    return {"suppressed": suppressed}
