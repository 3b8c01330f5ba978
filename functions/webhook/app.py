"""WebhookFunction: `POST /hooks/{source}` -> authenticated, deduplicated runs on the analyze queue;
and the upload routes a job's `citriage submit` uses (`/uploads`, docs/in-job.md)."""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import WebhookSettings
from citriage.errors import CitriageError, NotFound
from citriage.intake.uploads import UploadService
from citriage.intake.webhook import WebhookService
from citriage.tracing import handler_tracer
from citriage.wiring import intake_services

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
app = APIGatewayHttpResolver()


@cache
def services() -> tuple[WebhookService, UploadService | None]:
    """Built on first use from the environment, then kept for warm invocations."""
    return intake_services(WebhookSettings.from_env(), AwsClients())


def uploads() -> UploadService:
    """The upload intake, or 404 when this stack keeps no uploads bucket."""
    found = services()[1]
    if found is None:
        raise NotFound("uploads are not enabled here (no UPLOADS_BUCKET)")
    return found


def _body() -> bytes:
    event = app.current_event
    raw = event.body or ""
    return base64.b64decode(raw) if event.is_base64_encoded else raw.encode("utf-8")


def _json(status: int, body: str) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.post("/uploads")
def upload_ticket() -> Response[str]:
    """A presigned PUT URL for a job's archive, and its run id."""
    ticket = uploads().ticket(app.current_event.headers, _body())
    logger.info("upload ticket", run_id=ticket.run_id, duplicate=ticket.duplicate)
    return _json(200 if ticket.duplicate else 201, ticket.model_dump_json())


@app.post("/uploads/<upload_id>/complete")
def upload_complete(upload_id: str) -> Response[str]:
    """The archive is in the bucket: queue its run (once)."""
    outcome = uploads().complete(app.current_event.headers, upload_id, _body())
    logger.info(
        "upload complete", upload_id=upload_id, accepted=outcome.accepted, duplicates=outcome.duplicates
    )
    return _json(202, outcome.model_dump_json())


@app.get("/uploads/<upload_id>")
def upload_status(upload_id: str) -> Response[str]:
    """Waiting, queued, or analysed with its verdict."""
    return _json(200, uploads().status(app.current_event.headers, upload_id).model_dump_json())


@app.post("/hooks/<source>")
def receive(source: str) -> Response[str]:
    """Accept one CI webhook."""
    event = app.current_event
    body = _body()
    outcome = services()[0].receive(source, event.headers, body, event.query_string_parameters or {})
    metrics.add_metric(name="RunsAccepted", unit=MetricUnit.Count, value=len(outcome.accepted))
    metrics.add_metric(name="RunsDuplicate", unit=MetricUnit.Count, value=len(outcome.duplicates))
    logger.info("webhook accepted", source=source, accepted=outcome.accepted, duplicates=outcome.duplicates)
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=outcome.model_dump_json()
    )


def refuse(exc: CitriageError) -> Response[str]:
    """Map domain errors to their HTTP status; the message says what is wrong, never a secret."""
    status = getattr(exc, "status_code", 500)
    # On its own (EphemeralMetrics), so the status dimension is not shared with other metrics.
    metric = EphemeralMetrics()
    metric.add_dimension(name="Status", value=str(status))
    metric.add_metric(name="WebhookRefused", unit=MetricUnit.Count, value=1)
    metric.flush_metrics()
    logger.warning("webhook refused", status=status, reason=str(exc))
    body = json.dumps({"message": str(exc)})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


# Registered by call, not as a decorator: Powertools' decorator is untyped and would erase the signature.
app.exception_handler(CitriageError)(refuse)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point."""
    return app.resolve(event, context)
