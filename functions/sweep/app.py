"""SweepFunction: on a schedule, enqueue the finished builds of periodic jobs that no webhook reported."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import SweepSettings
from citriage.intake.sweep import Sweeper
from citriage.tracing import handler_tracer
from citriage.wiring import sweeper

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()


@cache
def service() -> Sweeper:
    """Built on first use from the environment, then kept for warm invocations."""
    return sweeper(SweepSettings.from_env(), AwsClients())


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (EventBridge scheduled event). A failing job (its CI API, the queue,
    the table) is reported in the result, the logs and the SweepErrors metric, not raised: the
    next schedule resumes."""
    outcomes = service().sweep(time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    for outcome in outcomes:
        log = logger.error if outcome.error else logger.info
        log("job swept", **outcome.model_dump())
    metrics.add_metric(
        name="SweepEnqueued", unit=MetricUnit.Count, value=sum(len(o.enqueued) for o in outcomes)
    )
    metrics.add_metric(name="SweepErrors", unit=MetricUnit.Count, value=sum(1 for o in outcomes if o.error))
    return {"jobs": [o.model_dump() for o in outcomes]}
