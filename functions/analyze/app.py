"""AnalyzeFunction: runs from the analyze queue -> stored reports and RunAnalyzed events.

Each message is processed on its own: one bad run fails only its message (partial batch
response), which SQS retries and finally moves to the DLQ.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.analyze.service import AnalyzeService
from citriage.config import AnalyzeSettings, FetchSettings, LayoutSettings
from citriage.models import RunEvent
from citriage.wiring import analyze_service

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def service() -> AnalyzeService:
    """Built on first use from the environment, then kept for warm invocations."""
    return analyze_service(
        AnalyzeSettings.from_env(), FetchSettings.from_env(), LayoutSettings.from_env(), AwsClients()
    )


@tracer.capture_method(capture_response=False)
def analyze_record(record: SQSRecord) -> None:
    """Analyse the run in one message."""
    run = RunEvent.model_validate_json(record.body)
    report = service().handle(run)
    # One metric, its verdict a dimension (not a metric name per verdict); emitted on its own so
    # the dimension is not shared with the batch's other metrics.
    with single_metric(name="RunsAnalyzed", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="Verdict", value=report.verdict.value)
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
