"""HTTP servers on loopback for local mode and the tests: the local log server, the demo's
stand-in Gerrit, the tests' stand-in CIs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import BaseRequestHandler
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's parameter name
        """Keep the demo's output to its own lines."""


@contextmanager
def serving_on_loopback(handler: Callable[..., BaseRequestHandler]) -> Iterator[str]:
    """Run an HTTP request handler on 127.0.0.1 (a free port) for the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve_directory(directory: Path) -> AbstractContextManager[str]:
    """Serve a directory over HTTP on 127.0.0.1 (a local log server); yields its base URL."""
    return serving_on_loopback(partial(_QuietHandler, directory=str(directory)))
