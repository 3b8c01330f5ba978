"""The handlers' tracer: Powertools' X-Ray Tracer when tracing is on, else decorators that do
nothing and import nothing (the X-Ray SDK costs ~150 ms of every cold start, even disabled)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from citriage.config import TracingSettings
from citriage.ports import HandlerTracer

F = TypeVar("F", bound=Callable[..., Any])


class NoTracer:
    """Tracing off: each function stays as it is."""

    def capture_lambda_handler(self, *, capture_response: bool) -> Callable[[F], F]:
        """No-op."""
        return _unchanged

    def capture_method(self, *, capture_response: bool) -> Callable[[F], F]:
        """No-op."""
        return _unchanged


def _unchanged(function: F) -> F:
    return function


class XRayTracer:
    """Tracing on: Powertools' Tracer (X-Ray)."""

    def __init__(self) -> None:
        from aws_lambda_powertools import Tracer  # noqa: PLC0415  # X-Ray loads with it: only when tracing

        self._tracer = Tracer()

    def capture_lambda_handler(self, *, capture_response: bool) -> Callable[[F], F]:
        """Powertools' handler decorator."""
        return cast(Callable[[F], F], self._tracer.capture_lambda_handler(capture_response=capture_response))

    def capture_method(self, *, capture_response: bool) -> Callable[[F], F]:
        """Powertools' method decorator."""
        return self._tracer.capture_method(capture_response=capture_response)


def handler_tracer() -> HandlerTracer:
    """The tracer for a handler module: X-Ray only when tracing is on."""
    if TracingSettings.from_env().powertools_trace_disabled:
        return NoTracer()
    return XRayTracer()
