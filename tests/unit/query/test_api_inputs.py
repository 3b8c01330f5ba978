"""The query API's routes refuse what a caller should not send, before anything is read."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.event_handler import Response
from citriage.errors import CitriageError
from citriage.local.embedded import LambdaContext, http_route_event
from citriage.query.api import MAX_ID_BYTES, resolver


class NoReads:
    """A service that fails the test if a route reaches it."""

    def __getattr__(self, name):
        raise AssertionError(f"the route read {name} for a request it should have refused")


def refuse(exc: CitriageError) -> Response[str]:
    """As the query function answers a domain error: its status and its message."""
    return Response(
        status_code=exc.status_code, content_type="application/json", body=json.dumps({"message": str(exc)})
    )


def ask(method: str, path: str, query: dict[str, str] | None = None, scope: str = "read") -> tuple[int, dict]:
    event = http_route_event(method, path, f"{method} {path}", b"", {}, query)
    event["requestContext"]["authorizer"] = {"lambda": {"scope": scope, "token_id": "t"}}
    app = resolver(NoReads)  # type: ignore[arg-type]  # the stand-in fails on any read
    app.exception_handler(CitriageError)(refuse)
    answer = app.resolve(event, LambdaContext("QueryFunction"))
    return answer["statusCode"], json.loads(answer["body"] or "{}")


@pytest.mark.parametrize(
    "path",
    [
        "/runs/" + "a" * (MAX_ID_BYTES + 1),
        "/runs/zuul%3Ab%00c",
        "/runs/%FF%FE",
        "/tests/" + "%E2%82%AC" * 400 + "/history",
        "/known-issues/x%0Ay",
        "/incidents/a%1Bb",
    ],
)
def test_an_id_that_no_table_could_hold_is_a_bad_request(path):
    status, body = ask("GET", path)
    assert status == 400 and ("bytes of printable text" in body["message"] or "not UTF-8" in body["message"])


@pytest.mark.parametrize(
    ("path", "query", "what"),
    [
        ("/runs", {"limit": "0"}, "limit"),
        ("/runs", {"limit": "201"}, "limit"),
        ("/runs", {"verdict": "broken"}, "verdict"),
        ("/runs", {"since": "yesterday"}, "since"),
        ("/runs", {"unknown": "x"}, "unknown"),
        ("/jobs", {"limit": "-1"}, "limit"),
        ("/incidents", {"since": "forever"}, "since"),
        ("/incidents", {"state": "burning"}, "state"),
    ],
)
def test_options_that_cannot_be_used_are_a_bad_request_naming_them(path, query, what):
    status, body = ask("GET", path, query)
    assert status == 400 and what in body["message"]


def test_a_read_token_cannot_act():
    assert ask("POST", "/runs/zuul%3Ab1/reanalyze")[0] == 403
    assert ask("POST", "/incidents/x/close")[0] == 403
