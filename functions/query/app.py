"""QueryFunction: the read side's API (docs/api.md) behind the HTTP API's token authorizer, and
the dashboard's page and assets at `GET /` (the page asks for a token; its calls carry it)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import IncidentSettings, QuerySettings
from citriage.errors import CitriageError
from citriage.query.api import resolver
from citriage.query.service import QueryService
from citriage.tracing import handler_tracer
from citriage.wiring import query_service

logger = Logger()
tracer = handler_tracer()


@cache
def service() -> QueryService:
    """Built on first use from the environment, then kept for warm invocations."""
    return query_service(QuerySettings.from_env(), AwsClients(), IncidentSettings.from_env())


app = resolver(service)


def refuse(exc: CitriageError) -> Response[str]:
    """Domain errors as their HTTP status and a one-line message (never a token)."""
    status = getattr(exc, "status_code", 500)
    if status >= 500:
        logger.exception("query failed")
    body = json.dumps({"message": str(exc) if status < 500 else "internal error"})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


# Registered by call, not as a decorator: Powertools' decorator is untyped and would erase the signature.
app.exception_handler(CitriageError)(refuse)


# Never the event: it carries the bearer token (whatever POWERTOOLS_LOGGER_LOG_EVENT says).
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point."""
    return app.resolve(event, context)
