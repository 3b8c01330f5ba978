"""Reading a job's log tree, local or over HTTP, without trusting it.

Logs arrive by URLs that came in a webhook: only configured hosts are fetched, private,
loopback and link-local addresses are refused, every redirect is checked again, bytes are
capped per file and per run, and gzip is inflated as a stream with a cap on what comes out.
"""

from __future__ import annotations

import io
import ipaddress
import posixpath
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urljoin, urlsplit

import requests

from citriage.config import FetchSettings
from citriage.errors import FetchFailed, FetchRefused

CHUNK = 256 * 1024
MAX_LINE = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class FetchBudget:
    """Bytes a run may still read, and the notes about what was skipped."""

    max_file_bytes: int
    remaining_run_bytes: int
    notes: list[str] = field(default_factory=list)

    def note(self, sentence: str) -> None:
        """Record one plain sentence for the report's `notes`, once."""
        if sentence not in self.notes:
            self.notes.append(sentence)


class CappedStream(io.RawIOBase):
    """A read-only stream that stops after `limit` bytes and notes the cut."""

    def __init__(self, raw: Iterator[bytes], name: str, budget: FetchBudget) -> None:
        self._chunks = raw
        self._name = name
        self._budget = budget
        self._limit = min(budget.max_file_bytes, budget.remaining_run_bytes)
        self._read = 0
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        """This stream is readable."""
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # RawIOBase's buffer type is wider than we need
        """Fill `buffer` from the underlying chunks, honouring the cap."""
        if not self._pending and not self._done:
            self._pending = self._next_chunk()
        if not self._pending:
            return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next_chunk(self) -> bytes:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._done = True
            return b""
        room = self._limit - self._read
        if len(chunk) >= room:
            chunk = chunk[:room]
            self._done = True
            self._budget.note(
                f"{self._name}: read only the first {self._limit // (1024 * 1024)} MiB "
                "(file or run byte cap); the rest was skipped."
            )
        self._read += len(chunk)
        self._budget.remaining_run_bytes -= len(chunk)
        return chunk


def _inflate(chunks: Iterator[bytes], name: str, budget: FetchBudget) -> Iterator[bytes]:
    """Stream-decompress gzip chunks; a truncated or corrupt member ends the stream with a note."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        for chunk in chunks:
            # max_length bounds what one call may inflate, so a bomb cannot balloon memory.
            data = decoder.decompress(chunk, CHUNK)
            while data:
                yield data
                if decoder.eof:
                    break
                data = decoder.decompress(decoder.unconsumed_tail, CHUNK)
            if decoder.eof:
                rest = decoder.unused_data
                if rest.startswith(GZIP_MAGIC):
                    # A concatenated member (as `gzip -c a b` makes): keep going.
                    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    yield from _inflate(iter([rest, *chunks]), name, budget)
                return
    except zlib.error as exc:
        budget.note(f"{name}: gzip data is corrupt ({exc}); kept what was read before it.")
        return
    if not decoder.eof:
        budget.note(f"{name}: gzip stream is truncated; kept what was read before the cut.")


def _maybe_inflate(chunks: Iterator[bytes], name: str, budget: FetchBudget) -> Iterator[bytes]:
    """Inflate when the bytes are gzip (by magic, not by name: servers often pre-decode .gz)."""
    first = b""
    for chunk in chunks:
        first = chunk
        if chunk:
            break
    if not first:
        return iter(())
    stream = _prepend(first, chunks)
    return _inflate(stream, name, budget) if first.startswith(GZIP_MAGIC) else stream


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def iter_lines(stream: BinaryIO) -> Iterator[str]:
    """Decode a stream into lines (no newline), replacing bad UTF-8 and splitting over-long lines."""
    while True:
        raw = stream.readline(MAX_LINE)
        if not raw:
            return
        yield raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


class LogTree(Protocol):
    """A job's log tree: files by relative path, read as capped, decompressed streams."""

    budget: FetchBudget

    def open(self, path: str) -> BinaryIO | None:
        """The file's (decompressed) bytes, or None when it does not exist."""

    def url_for(self, path: str) -> str:
        """Where a person can read the file."""

    @property
    def root(self) -> str:
        """The tree's location, for messages."""


def open_first(tree: LogTree, candidates: list[str]) -> tuple[str, BinaryIO] | None:
    """Open the first existing file among `candidates`, trying each one's `.gz` too."""
    for path in candidates:
        for variant in (path, f"{path}.gz"):
            stream = tree.open(variant)
            if stream is not None:
                return variant, stream
    return None


def _clean_relative(path: str) -> str:
    normal = posixpath.normpath("/" + path.lstrip("/")).lstrip("/")
    if normal.startswith("..") or "\x00" in normal:
        raise FetchRefused(f"path {path!r} leaves the log tree")
    return normal


class LocalLogTree:
    """A log tree in a local directory laid out like the log server's."""

    def __init__(self, root: Path, budget: FetchBudget) -> None:
        self._root = root.resolve()
        self.budget = budget

    @property
    def root(self) -> str:
        """The directory."""
        return str(self._root)

    def open(self, path: str) -> BinaryIO | None:
        """Open a file below the root; symlinks out of the tree are refused."""
        target = (self._root / _clean_relative(path)).resolve()
        if not target.is_relative_to(self._root) or not target.is_file():
            return None
        handle = target.open("rb")
        chunks = iter(lambda: handle.read(CHUNK), b"")
        return _stream(_maybe_inflate(chunks, path, self.budget), path, self.budget)

    def url_for(self, path: str) -> str:
        """A file:// URL of the file."""
        return (self._root / _clean_relative(path)).as_uri()


def _stream(chunks: Iterator[bytes], name: str, budget: FetchBudget) -> BinaryIO:
    return io.BufferedReader(CappedStream(chunks, name, budget), buffer_size=CHUNK)


@dataclass(frozen=True)
class AllowedHost:
    """A log host citriage may fetch from; `insecure` allows plain http for it."""

    host: str
    port: int | None
    insecure: bool

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        """`logs.example.org`, `logs.example.org:8443` or `http://127.0.0.1:8081`."""
        insecure = entry.startswith("http://")
        parts = urlsplit(entry if "://" in entry else f"https://{entry}")
        if not parts.hostname:
            raise ValueError(f"log host entry {entry!r} has no host name")
        return cls(host=parts.hostname.lower(), port=parts.port, insecure=insecure)


class UrlPolicy:
    """Decides whether a URL may be fetched: scheme, host allow-list, resolved addresses."""

    def __init__(
        self,
        settings: FetchSettings,
        resolve: Callable[[str, int], list[str]] | None = None,
    ) -> None:
        self._hosts = [AllowedHost.parse(entry) for entry in settings.log_hosts]
        self._allow_private = settings.allow_private_addresses
        self._resolve = resolve or _resolve

    def check(self, url: str) -> None:
        """Raise FetchRefused, with the reason, when `url` must not be fetched."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise FetchRefused(f"{url}: only http(s) URLs with a host can be fetched")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchRefused(f"{url}: bad port") from exc
        entry = next(
            (h for h in self._hosts if h.host == host and (h.port is None or h.port == port)),
            None,
        )
        if entry is None:
            raise FetchRefused(f"{url}: host {host} is not a configured log host")
        if parts.scheme == "http" and not entry.insecure:
            raise FetchRefused(f"{url}: plain http is not allowed for {host}")
        if self._allow_private:
            return
        for address in self._resolve(host, port):
            ip = ipaddress.ip_address(address)
            if not ip.is_global or ip.is_multicast:
                raise FetchRefused(f"{url}: {host} resolves to non-public address {address}")


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve log host {host}: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})


class HttpLogTree:
    """A log tree under an http(s) base URL, fetched under a UrlPolicy."""

    def __init__(
        self,
        base_url: str,
        settings: FetchSettings,
        budget: FetchBudget,
        session: requests.Session | None = None,
        policy: UrlPolicy | None = None,
        backoff: float = 0.5,
    ) -> None:
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._settings = settings
        self._session = session or requests.Session()
        self._policy = policy or UrlPolicy(settings)
        self._backoff = backoff
        self.budget = budget
        self._policy.check(self._base)

    @property
    def root(self) -> str:
        """The base URL."""
        return self._base

    def url_for(self, path: str) -> str:
        """The file's URL under the base."""
        return urljoin(self._base, _clean_relative(path))

    def open(self, path: str) -> BinaryIO | None:
        """GET the file (None on 404); retries timeouts and 5xx, then raises FetchFailed."""
        response = self._get(self.url_for(path))
        if response is None:
            return None
        chunks = response.iter_content(CHUNK)
        return _stream(_maybe_inflate(chunks, path, self.budget), path, self.budget)

    def _get(self, url: str) -> requests.Response | None:
        last_error = ""
        for attempt in range(self._settings.retries + 1):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = self._get_following_redirects(url)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_error = type(exc).__name__
                continue
            if response.status_code in (404, 410):
                response.close()
                return None
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                response.close()
                continue
            if response.status_code >= 400:
                response.close()
                raise FetchFailed(f"{url}: HTTP {response.status_code}")
            return response
        raise FetchFailed(f"{url}: gave up after {self._settings.retries + 1} attempts ({last_error})")

    def _get_following_redirects(self, url: str) -> requests.Response:
        timeout = (self._settings.connect_timeout, self._settings.read_timeout)
        for _ in range(5):
            self._policy.check(url)
            response = self._session.get(url, stream=True, timeout=timeout, allow_redirects=False)
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                response.close()
                continue
            return response
        raise FetchRefused(f"{url}: too many redirects")


def open_log_tree(
    location: str,
    settings: FetchSettings,
    budget: FetchBudget | None = None,
    allow_local: bool = False,
) -> LogTree:
    """A LogTree for an http(s) URL, or for a local directory when `allow_local` (the CLI only).

    A log URL that arrived in a webhook is never allowed to name a local path.
    """
    budget = budget or FetchBudget(settings.max_file_bytes, settings.max_run_bytes)
    parts = urlsplit(location)
    if parts.scheme in ("http", "https"):
        return HttpLogTree(location, settings, budget)
    if not allow_local:
        raise FetchRefused(f"{location}: only http(s) log URLs can be fetched")
    if parts.scheme == "file":
        return LocalLogTree(Path(parts.path), budget)
    if parts.scheme:
        raise FetchRefused(f"{location}: unsupported URL scheme {parts.scheme!r}")
    return LocalLogTree(Path(location), budget)
