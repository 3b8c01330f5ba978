"""AnalyzeFunction: runs from the analyze queue -> stored reports and RunAnalyzed events.

Each message is processed on its own: one bad run fails only its message (partial batch
response), which SQS retries and finally moves to the DLQ.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.analyze.service import AnalyzeService
from citriage.config import AnalyzeSettings, FetchSettings, IncidentSettings, LayoutSettings
from citriage.models import RunEvent
from citriage.tracing import handler_tracer
from citriage.wiring import analyze_service

logger = Logger()
tracer = handler_tracer()
# Failed records go back to SQS one by one, also when all of a batch fails (no invocation error).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def service() -> AnalyzeService:
    """Built on first use from the environment, then kept for warm invocations."""
    return analyze_service(
        AnalyzeSettings.from_env(),
        FetchSettings.from_env(),
        LayoutSettings.from_env(),
        AwsClients(),
        IncidentSettings.from_env(),
    )


# Time kept back from the function's timeout to store the report and publish its event.
STORE_SECONDS = 15.0
# A run started with less time than this would be judged on a part of its logs: it is left for
# SQS to deliver again, to an invocation with time for it.
MIN_RUN_SECONDS = 30.0


class NotEnoughTime(RuntimeError):
    """Too little of the invocation is left to analyse this run; SQS redelivers it."""


@tracer.capture_method(capture_response=False)
def analyze_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Analyse the run in one message, within the invocation's remaining time."""
    left = lambda_context.get_remaining_time_in_millis() / 1000 - STORE_SECONDS
    if left < MIN_RUN_SECONDS:
        raise NotEnoughTime(f"{left:.0f} s left: the run is left for redelivery")
    run = RunEvent.model_validate_json(record.body)
    report = service().handle(run, deadline=time.monotonic() + left)
    # One metric, its verdict a dimension (not a metric name per verdict); emitted on its own so
    # the dimension is not shared with the batch's other metrics. EphemeralMetrics, unlike
    # single_metric, honours POWERTOOLS_METRICS_DISABLED (local mode prints no EMF lines).
    metric = EphemeralMetrics()
    metric.add_dimension(name="Verdict", value=report.verdict.value)
    metric.add_metric(name="RunsAnalyzed", unit=MetricUnit.Count, value=1)
    metric.flush_metrics()
    logger.info(
        "run analyzed",
        run_id=report.run_id,
        verdict=report.verdict.value,
        failures=len(report.failures),
        notes=report.notes,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point (SQS batch with ReportBatchItemFailures)."""
    return process_partial_response(
        event=event, record_handler=analyze_record, processor=processor, context=context
    )
