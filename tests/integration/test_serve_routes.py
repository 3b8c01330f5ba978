"""`citriage serve`'s HTTP routes over a real socket, with a recording stand-in for the handler chain."""

from __future__ import annotations

import http.client
import threading
from http.server import ThreadingHTTPServer

import pytest
import requests
from citriage.local.gateway import QueryGateway
from citriage.local.serve import MAX_REQUEST_BYTES, _handler

pytestmark = pytest.mark.integration


class RecordingChain:
    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes, dict[str, str], dict[str, str]]] = []

    def post(self, source, body, headers, query):
        self.posts.append((source, body, headers, query))
        return 202, {"accepted": [f"{source}:1"], "duplicates": []}


class RecordingFunctions:
    """Stand-ins for the query and authorizer functions: the events they were given."""

    def __init__(self) -> None:
        self.queries: list[dict] = []
        self.authorized: list[dict] = []

    def query(self, event, context):
        self.queries.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"items": []}'}

    def authorizer(self, event, context):
        self.authorized.append(event)
        good = event["headers"].get("authorization") == "Bearer good"
        return (
            {"isAuthorized": True, "context": {"scope": "read", "token_id": "t1"}}
            if good
            else {"isAuthorized": False}
        )


@pytest.fixture
def served():
    chain, functions = RecordingChain(), RecordingFunctions()
    gateway = QueryGateway(functions.query, functions.authorizer)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(chain, gateway, lambda: None))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    chain.functions = functions  # type: ignore[attr-defined]
    yield chain, f"http://{host}:{port}"
    server.shutdown()
    server.server_close()


def test_query_routes_pass_the_authorizer_first_as_the_http_api_does(served):
    chain, url = served
    functions = chain.functions
    # No Authorization header: 401, and the authorizer is not even asked
    assert requests.get(f"{url}/runs", timeout=10).status_code == 401
    assert functions.authorized == [] and functions.queries == []
    # A refused token: 403, and the query function is not reached
    assert (
        requests.get(f"{url}/status", headers={"Authorization": "Bearer bad"}, timeout=10).status_code == 403
    )
    assert functions.queries == []
    # An accepted one reaches it with the route, the percent-encoded path, the query and the scope
    response = requests.get(
        f"{url}/tests/a%2Fb.py%3A%3Atest_x/history?limit=5",
        headers={"Authorization": "Bearer good"},
        timeout=10,
    )
    assert response.status_code == 200 and response.json() == {"items": []}
    (event,) = functions.queries
    assert event["routeKey"] == "GET /tests/{test_id}/history"
    assert event["rawPath"] == "/tests/a%2Fb.py%3A%3Atest_x/history"
    assert event["queryStringParameters"] == {"limit": "5"}
    assert event["requestContext"]["authorizer"] == {"lambda": {"scope": "read", "token_id": "t1"}}
    # The dashboard needs no token; a wrong method on a query route is 405
    assert requests.get(f"{url}/", timeout=10).status_code == 200
    assert (
        requests.delete(f"{url}/runs", headers={"Authorization": "Bearer good"}, timeout=10).status_code
        == 501
    )
    assert (
        requests.post(f"{url}/status", headers={"Authorization": "Bearer good"}, timeout=10).status_code
        == 405
    )


def test_a_webhook_reaches_the_chain_with_its_body_headers_and_query(served):
    chain, url = served
    response = requests.post(
        f"{url}/hooks/jenkins?token=t0k",
        data=b'{"name": "x"}',
        headers={"X-Citriage-Token": "h", "Content-Type": "application/json"},
        timeout=10,
    )
    assert (response.status_code, response.json()) == (202, {"accepted": ["jenkins:1"], "duplicates": []})
    ((source, body, headers, query),) = chain.posts
    assert (source, body, query) == ("jenkins", b'{"name": "x"}', {"token": "t0k"})
    assert headers["X-Citriage-Token"] == "h"


@pytest.mark.parametrize("path", ["/hooks/", "/hooks/a/b", "/other/zuul", "/runs/a/b/c"])
def test_other_paths_are_404_and_reach_nothing(served, path):
    chain, url = served
    assert requests.post(f"{url}{path}", data=b"{}", timeout=10).status_code == 404
    assert requests.get(f"{url}{path}", timeout=10).status_code == 404
    assert chain.posts == []


def test_health_and_oversized_bodies(served):
    chain, url = served
    assert requests.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
    # A Content-Length over the cap is refused before any of the body is sent or read
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/hooks/zuul")
    connection.putheader("Content-Length", str(MAX_REQUEST_BYTES + 1))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    assert chain.posts == []
