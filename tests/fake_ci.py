"""A local HTTP server that plays a CI's API in tests: canned documents by path (query string
included), redirects, failures (bodies cut off too), actions (POSTs, answered by path), and a
record of every request's method, headers and body."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from citriage.local.loopback import serving_on_loopback


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # Answer 500 this many times before the canned answer (a flaky API).
    fail_times: int = 0
    # Send the body chunked and hang up halfway through it (a server or proxy that died mid-answer).
    cut_off: bool = False


@dataclass
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    method: str = "GET"
    body: bytes = b""


class FakeCi:
    """Routes and the requests seen; `url` is the server's base URL."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        # Paths answered by a function of the query string (e.g. a paged API).
        self.handlers: dict[str, Callable[[dict[str, str]], Route]] = {}
        self.seen: list[Seen] = []
        # POST routes by path: what an action (a review, a rebuild, a restart) is answered.
        self.actions: dict[str, Route] = {}
        self.url = ""
        self._lock = threading.Lock()

    def json(self, path: str, document: Any, **kwargs: Any) -> None:
        """Serve a JSON document at a path."""
        self.routes[path] = Route(body=json.dumps(document).encode(), **kwargs)

    def text(self, path: str, text: str | bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        """Serve text (or bytes) at a path."""
        body = text.encode() if isinstance(text, str) else text
        self.routes[path] = Route(body=body, content_type=content_type)

    def redirect(self, path: str, location: str) -> None:
        """Answer a path with a 302 to another URL (as GitHub does for logs and artifacts)."""
        self.routes[path] = Route(status=302, headers={"Location": location})

    def action(self, path: str, status: int = 200, document: Any = None, fail_times: int = 0) -> None:
        """Answer POSTs to a path (its query string aside) with a status and a JSON document."""
        body = json.dumps(document if document is not None else {}).encode()
        self.actions[path] = Route(body=body, status=status, fail_times=fail_times)

    def requests_to(self, prefix: str) -> list[Seen]:
        """The requests whose path starts with `prefix`."""
        return [s for s in self.seen if s.path.startswith(prefix)]

    def posts(self) -> list[Seen]:
        """The POSTs received, in order."""
        return [s for s in self.seen if s.method == "POST"]


def _handler(ci: FakeCi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ci.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            path, _, query = self.path.partition("?")
            handler = ci.handlers.get(path)
            route = handler(dict(parse_qsl(query))) if handler else ci.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.fail_times > 0:
                route.fail_times -= 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", route.content_type)
            if route.cut_off:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"%x\r\n" % len(route.body) + route.body[: len(route.body) // 2])
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.partition("?")[0]
            with ci._lock:
                ci.seen.append(Seen(self.path, headers, "POST", body))
                route = ci.actions.get(path)
                failing = route is not None and route.fail_times > 0
                if failing and route is not None:
                    route.fail_times -= 1
            status = 404 if route is None else 503 if failing else route.status
            answer = b"" if route is None or failing else route.body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@contextmanager
def fake_ci() -> Iterator[FakeCi]:
    """Run a FakeCi on 127.0.0.1 for the duration of the block."""
    ci = FakeCi()
    with serving_on_loopback(_handler(ci)) as ci.url:
        yield ci
