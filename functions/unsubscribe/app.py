"""UnsubscribeFunction: `GET /unsubscribe` asks to confirm; `POST /unsubscribe` (the page's button,
or a mail client's RFC 8058 one-click POST) removes the address's subscription."""

from __future__ import annotations

from functools import cache
from html import escape
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import UnsubscribeSettings
from citriage.errors import CitriageError
from citriage.notify.unsubscribe import UnsubscribeService
from citriage.wiring import unsubscribe_service

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()


@cache
def service() -> UnsubscribeService:
    """Built on first use from the environment, then kept for warm invocations."""
    return unsubscribe_service(UnsubscribeSettings.from_env(), AwsClients())


def _page(status: int, title: str, body: str) -> Response[str]:
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width"><title>citriage: '
        f'{escape(title)}</title></head><body style="font-family:sans-serif;max-width:36em;margin:2em auto;'
        f'padding:0 1em;"><h1 style="font-size:1.3em;">{escape(title)}</h1>{body}</body></html>'
    )
    return Response(status_code=status, content_type=content_types.TEXT_HTML, body=html)


@app.get("/unsubscribe")
def confirm() -> Response[str]:
    """A page with one button: a link prefetcher or scanner following the link removes nothing."""
    query = app.current_event.query_string_parameters or {}
    email = service().check(query.get("e"), query.get("t"))
    action = f"?{app.current_event.raw_query_string}"
    return _page(
        200,
        "Stop these mails?",
        f"<p>{escape(email)} will get no more mail from citriage.</p>"
        f'<form method="post" action="{escape(action)}"><button type="submit" '
        'style="font-size:1em;padding:.5em 1em;">Unsubscribe</button></form>',
    )


@app.post("/unsubscribe")
def unsubscribe() -> Response[str]:
    """Remove the subscription (one click from a mail client, or the confirmation page)."""
    query = app.current_event.query_string_parameters or {}
    outcome = service().unsubscribe(query.get("e"), query.get("t"))
    metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1 if outcome.removed else 0)
    logger.info("unsubscribe", removed=outcome.removed)
    said = "is unsubscribed" if outcome.removed else "had no subscription (already unsubscribed)"
    return _page(200, "Unsubscribed", f"<p>{escape(outcome.email)} {said}.</p>")


def refuse(exc: CitriageError) -> Response[str]:
    """A link that is incomplete (400) or not signed for its address (403): said plainly."""
    status = {401: 403}.get(getattr(exc, "status_code", 400), getattr(exc, "status_code", 400))
    logger.warning("unsubscribe refused", status=status, reason=str(exc))
    return _page(status, "This link cannot unsubscribe", f"<p>{escape(str(exc))}.</p>")


# Registered by call, not as a decorator: Powertools' decorator is untyped and would erase the signature.
app.exception_handler(CitriageError)(refuse)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point."""
    return app.resolve(event, context)
