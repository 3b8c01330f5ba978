"""Fetching logs over real HTTP: retries, 404s, redirects re-checked, gzip either way."""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from citriage.analyze.logs.fetch import HttpLogTree
from citriage.analyze.logs.streams import FetchBudget, iter_lines
from citriage.config import FetchSettings
from citriage.errors import FetchFailed, FetchRefused

pytestmark = pytest.mark.integration
BODY = b"".join(b"2026-11-20 10:00:00.000000 | controller | line %d\n" % i for i in range(1000))


class FlakyLogServer(BaseHTTPRequestHandler):
    """Serves a few paths with the behaviours log servers really have."""

    hits: ClassVar[dict[str, int]] = {}

    def log_message(self, format, *args):  # the stdlib's parameter name
        pass

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        route = {
            # 503 twice, then the file: a retry must get it.
            "/flaky/job-output.txt": lambda: self._status(503) if self.hits[self.path] < 3 else self._plain(),
            "/always-500/job-output.txt": lambda: self._status(500),
            "/redirect-out/job-output.txt": lambda: self._redirect(
                "http://169.254.169.254/latest/meta-data/"
            ),
            "/redirect-in/job-output.txt": lambda: self._redirect("/flaky/job-output.txt"),
            # Swift log servers serve .gz with Content-Encoding: gzip (clients inflate it).
            "/swift/job-output.txt.gz": lambda: self._send(
                gzip.compress(BODY), {"Content-Encoding": "gzip", "Content-Type": "text/plain"}
            ),
            "/plain/job-output.txt.gz": lambda: self._send(
                gzip.compress(BODY), {"Content-Type": "application/gzip"}
            ),
            "/plain/job-output.txt": self._plain,
        }.get(self.path, lambda: self._status(404))
        route()

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.end_headers()

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.end_headers()

    def _plain(self) -> None:
        self._send(BODY, {"Content-Type": "text/plain"})

    def _send(self, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    FlakyLogServer.hits = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FlakyLogServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def tree(base: str, path: str) -> HttpLogTree:
    settings = FetchSettings(log_hosts=[base], allow_private_addresses=True, retries=3)
    return HttpLogTree(f"{base}/{path}/", settings, FetchBudget(10**8, 10**8), backoff=0.01)


def lines_of(stream) -> list[str]:
    assert stream is not None
    return list(iter_lines(stream))


def test_5xx_is_retried_then_served(server):
    lines = lines_of(tree(server, "flaky").open("job-output.txt"))
    assert len(lines) == 1000
    assert FlakyLogServer.hits["/flaky/job-output.txt"] == 3


def test_persistent_5xx_gives_up_with_a_clear_error(server):
    with pytest.raises(FetchFailed, match="gave up after 4 attempts"):
        tree(server, "always-500").open("job-output.txt")


def test_missing_file_is_none(server):
    assert tree(server, "plain").open("nope.txt") is None


def test_redirect_to_a_host_not_allowed_is_refused(server):
    with pytest.raises(FetchRefused, match=re.escape("169.254.169.254")):
        tree(server, "redirect-out").open("job-output.txt")


def test_redirect_within_the_host_is_followed(server):
    assert len(lines_of(tree(server, "redirect-in").open("job-output.txt"))) == 1000


@pytest.mark.parametrize("path", ["swift", "plain"])
def test_gz_served_encoded_or_raw_reads_the_same(server, path):
    assert lines_of(tree(server, path).open("job-output.txt.gz"))[-1].endswith("line 999")


def test_base_url_on_a_host_not_configured_is_refused_before_any_request(server):
    settings = FetchSettings(log_hosts=["logs.example.org"])
    with pytest.raises(FetchRefused, match="not a configured log host"):
        HttpLogTree(f"{server}/plain/", settings, FetchBudget(10, 10))
