"""API Gateway's part for `citriage serve`: the query routes' authorizer, then the query function.

As the HTTP API does: a query route without an `Authorization` header is 401 without asking the
authorizer; a token the authorizer refuses is 403; an accepted one reaches the query function
with the authorizer's context (its scope). The dashboard's page and assets need no token.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from citriage.local.embedded import Handler, LambdaContext, http_route_event
from citriage.query.api import DASHBOARD_ROUTES, ROUTES

_Route = tuple[str, str, re.Pattern[str], bool]


def _compile(method: str, template: str, authorized: bool) -> _Route:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return method, template, re.compile(pattern), authorized


_ROUTES = [_compile(m, p, True) for m, p in ROUTES] + [_compile(m, p, False) for m, p in DASHBOARD_ROUTES]
Answer = tuple[int, str, bytes]


class QueryGateway:
    """The query routes of the local HTTP API."""

    def __init__(self, query: Handler, authorizer: Handler) -> None:
        self._query = query
        self._authorizer = authorizer

    @staticmethod
    def serves(path: str) -> bool:
        """Whether a path is one of the query or dashboard routes (any method)."""
        return any(pattern.fullmatch(path) for _, _, pattern, _ in _ROUTES)

    def request(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Answer:
        """Status, content type and body of one request to a query or dashboard route."""
        for route_method, template, pattern, authorized in _ROUTES:
            found = pattern.fullmatch(path)
            if found is None or route_method != method:
                continue
            event = http_route_event(
                method,
                path,
                f"{method} {template}",
                b"",
                dict(headers),
                dict(parse_qsl(query)),
                found.groupdict(),
            )
            if authorized:
                refused = self._authorize(event)
                if refused is not None:
                    return refused
            try:
                response = self._query(event, LambdaContext("QueryFunction"))
            except Exception:  # as API Gateway answers for a function that failed
                traceback.print_exc()
                return _message(500, "Internal Server Error")
            content_type = str((response.get("headers") or {}).get("Content-Type", "application/json"))
            return int(response["statusCode"]), content_type, str(response.get("body") or "").encode("utf-8")
        return _message(
            405 if self.serves(path) else 404, "Method Not Allowed" if self.serves(path) else "Not Found"
        )

    def _authorize(self, event: dict[str, Any]) -> Answer | None:
        if not event["headers"].get("authorization"):
            return _message(401, "Unauthorized")
        answer = self._authorizer(
            {"version": "2.0", "type": "REQUEST", "routeKey": event["routeKey"], "headers": event["headers"]},
            LambdaContext("AuthorizerFunction"),
        )
        if not answer.get("isAuthorized"):
            return _message(403, "Forbidden")
        event["requestContext"]["authorizer"] = {"lambda": dict(answer.get("context") or {})}
        return None


def _message(status: int, message: str) -> Answer:
    return status, "application/json", json.dumps({"message": message}).encode("utf-8")
