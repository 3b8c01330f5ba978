"""`citriage serve`'s HTTP routes over a real socket, with a recording stand-in for the handler chain."""

from __future__ import annotations

import http.client
import threading
from http.server import ThreadingHTTPServer

import pytest
import requests
from citriage.local.serve import MAX_REQUEST_BYTES, _handler

pytestmark = pytest.mark.integration


class RecordingChain:
    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes, dict[str, str], dict[str, str]]] = []

    def post(self, source, body, headers, query):
        self.posts.append((source, body, headers, query))
        return 202, {"accepted": [f"{source}:1"], "duplicates": []}


@pytest.fixture
def served():
    chain = RecordingChain()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(chain, lambda: None))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield chain, f"http://{host}:{port}"
    server.shutdown()
    server.server_close()


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


@pytest.mark.parametrize("path", ["/", "/hooks/", "/hooks/a/b", "/other/zuul"])
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
