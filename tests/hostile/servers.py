"""Hostile log servers on loopback: raw sockets that misbehave on purpose, each bounded in time
so a test that goes wrong still ends."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Behaviour = Callable[[socket.socket], None]


def _read_request(conn: socket.socket) -> None:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def _drip(conn: socket.socket, head: bytes, byte: bytes, seconds: float) -> None:
    """Read the request, send `head` at once, then `byte` once a second for `seconds`."""
    _read_request(conn)
    conn.sendall(head)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        conn.sendall(byte)
        time.sleep(1)


def drip_body(conn: socket.socket, seconds: float = 20) -> None:
    """Headers at once, then one byte a second, never finishing the body."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
    _drip(conn, head, b"x", seconds)


def drip_headers(conn: socket.socket, seconds: float = 20) -> None:
    """The status line, then a header byte a second: the headers never end."""
    _drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: ", b"a", seconds)


def black_hole(conn: socket.socket, seconds: float = 20) -> None:
    """Accepts, reads the request, and never answers."""
    _read_request(conn)
    time.sleep(seconds)


def never_close(conn: socket.socket, seconds: float = 20) -> None:
    """A body with no length that keeps coming, line after line, and never closes."""
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        conn.sendall(f"line {n}: still going\n".encode())
        n += 1
        time.sleep(0.05)


@contextmanager
def hostile_server(behaviour: Behaviour) -> Iterator[str]:
    """Serve `behaviour` to every connection on 127.0.0.1; yields the base URL."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.5)
    stopping = threading.Event()

    def handle(conn: socket.socket) -> None:
        try:
            behaviour(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stopping.set()
        server.close()
        thread.join(timeout=5)
