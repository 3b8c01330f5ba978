"""DigestFunction: on its daily and weekly schedules, mails each digest subscriber its digest; on
the first of each month, the CI admins the month's infrastructure downtime report."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import IncidentSettings, NotifySettings
from citriage.notify.digest import DigestService, DigestTrigger
from citriage.notify.downtime_mail import DowntimeMailer
from citriage.tracing import handler_tracer
from citriage.wiring import digest_service, downtime_mailer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()


@cache
def service() -> DigestService:
    """Built on first use from the environment, then kept for warm invocations."""
    return digest_service(NotifySettings.from_env(), AwsClients())


@cache
def downtime() -> DowntimeMailer:
    """The monthly downtime report, built on first use."""
    return downtime_mailer(NotifySettings.from_env(), IncidentSettings.from_env(), AwsClients())


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (EventBridge schedule with input {"period": "daily" | "weekly" | "monthly"})."""
    trigger = DigestTrigger.model_validate(event)
    if trigger.period == "monthly":
        report = downtime().send(datetime.now(UTC))
        metrics.add_metric(name="DowntimeReportsSent", unit=MetricUnit.Count, value=len(report.sent))
        logger.info(
            "downtime report sent", month=report.month, sent=report.sent, already_sent=report.already_sent
        )
        return report.model_dump()
    outcome = service().send(trigger.period, datetime.now(UTC))
    metrics.add_metric(name="DigestsSent", unit=MetricUnit.Count, value=len(outcome.sent))
    if outcome.suppressed:
        logger.warning("suppressed addresses skipped", period=trigger.period, suppressed=outcome.suppressed)
    logger.info("digests sent", **outcome.model_dump())
    return outcome.model_dump()
