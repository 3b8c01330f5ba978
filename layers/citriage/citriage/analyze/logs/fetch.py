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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from citriage.config import FetchSettings
from citriage.errors import FetchDenied, FetchFailed, FetchRefused
from citriage.ports import LogTree

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

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
    """Stream-decompress gzip chunks; a truncated or corrupt member ends the stream with a note.

    Concatenated members (as `gzip -c a b` or pigz make) are decoded one after the other,
    without ever holding more than one input chunk and one output chunk in memory.
    """
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    member_started = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if decoder.eof:
                    if not data.startswith(GZIP_MAGIC[: len(data)]):
                        if data.strip(b"\0"):
                            budget.note(f"{name}: ignored bytes after the end of the gzip data.")
                        return
                    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                member_started = True
                # max_length bounds what one call may inflate, so a bomb cannot balloon memory.
                out = decoder.decompress(data, CHUNK)
                if out:
                    yield out
                data = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
    except zlib.error as exc:
        budget.note(f"{name}: gzip data is corrupt ({exc}); kept what was read before it.")
        return
    if member_started and not decoder.eof:
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

    def matches(self, host: str, port: int) -> bool:
        """True for this host (or, for `*.example.org`, any host under it) on the allowed port."""
        if self.port is not None and self.port != port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        """`logs.example.org`, `logs.example.org:8443`, `http://127.0.0.1:8081`, or `*.example.org`
        (any host under example.org: CI blob storage such as GitHub's uses numbered hosts)."""
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

    def check(self, url: str) -> list[str]:
        """Raise FetchRefused, with the reason, when `url` must not be fetched.

        Returns the addresses the host resolved to and that were checked: the caller must
        connect to one of them (not resolve again), or DNS rebinding could swap them.
        """
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise FetchRefused(f"{url}: only http(s) URLs with a host can be fetched")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchRefused(f"{url}: bad port") from exc
        entry = next((h for h in self._hosts if h.matches(host, port)), None)
        if entry is None:
            raise FetchRefused(f"{url}: host {host} is not a configured log host")
        if parts.scheme == "http" and not entry.insecure:
            raise FetchRefused(f"{url}: plain http is not allowed for {host}")
        addresses = _literal_address(host) or self._resolve(host, port)
        if not addresses:
            raise FetchRefused(f"{url}: {host} resolves to no address")
        if self._allow_private:
            return addresses
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if not ip.is_global or ip.is_multicast:
                raise FetchRefused(f"{url}: {host} resolves to non-public address {address}")
        return addresses


def _literal_address(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return []


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve log host {host}: {exc}") from exc
    addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    # IPv4 first: the connection goes to the first address, and Lambda has no IPv6 egress.
    return [str(ip) for ip in sorted(addresses, key=lambda ip: (ip.version, int(ip)))]


class PinnedAdapter(HTTPAdapter):
    """Connects to the address the UrlPolicy checked, not to whatever DNS says next.

    The URL keeps its host name: the Host header, TLS SNI and the certificate check all use
    the name, while the TCP connection goes to the pinned address.
    """

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self._pins: dict[tuple[str, int], str] = {}

    def pin(self, host: str, port: int, address: str) -> None:
        """Make the next connections to host:port go to `address`."""
        self._pins[(host.lower(), port)] = address

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: tuple[str, str] | str | None = None,
    ) -> tuple[_HostParams, _PoolKwargs]:
        """The pool key of `request`, with the host swapped for its pinned address."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        parts = urlsplit(request.url or "")
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self._pins.get((host, port))
        if address is None:
            raise FetchRefused(f"{request.url}: no checked address for {host}; refusing to resolve it again")
        host_params["host"] = address
        if parts.scheme == "https":
            tls = cast(dict[str, Any], pool_kwargs)  # urllib3 takes these; requests' stub omits them
            tls["server_hostname"] = host
            tls["assert_hostname"] = host
        return host_params, pool_kwargs


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


class HttpLogTree:
    """A log tree under an http(s) base URL, fetched under a UrlPolicy.

    `headers` (e.g. an Authorization header for a CI's API) go only to the base URL's own
    scheme, host and port: never to another host after a redirect.
    """

    def __init__(
        self,
        base_url: str,
        settings: FetchSettings,
        budget: FetchBudget,
        session: requests.Session | None = None,
        policy: UrlPolicy | None = None,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._settings = settings
        self._adapter = PinnedAdapter()
        self._session = session or requests.Session()
        # Proxies from the environment would connect to a host we did not check.
        self._session.trust_env = False
        self._session.mount("http://", self._adapter)
        self._session.mount("https://", self._adapter)
        self._policy = policy or UrlPolicy(settings)
        self._backoff = backoff
        self._headers = dict(headers or {})
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
        deadline = time.monotonic() + self._settings.max_file_seconds
        # Raw bytes, not requests' Content-Encoding decoding: that inflates a whole chunk at
        # once with no cap. A gzip body (encoded or not) is inflated by _maybe_inflate, capped.
        raw = response.raw.stream(CHUNK, decode_content=False)
        chunks = _until(raw, deadline, path, self.budget)
        return _stream(_maybe_inflate(chunks, path, self.budget), path, self.budget)

    def _get(self, url: str) -> requests.Response | None:
        last_error = ""
        for attempt in range(self._settings.retries + 1):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = self._get_following_redirects(url, attempt)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_error = type(exc).__name__
                continue
            if response.status_code in (404, 410):
                response.close()
                return None
            if response.status_code >= 500 or response.status_code == 429:
                last_error = f"HTTP {response.status_code}"
                response.close()
                continue
            if response.status_code >= 400:
                response.close()
                raise FetchDenied(f"{url}: HTTP {response.status_code}")
            return response
        raise FetchFailed(f"{url}: gave up after {self._settings.retries + 1} attempts ({last_error})")

    def _get_following_redirects(self, url: str, attempt: int = 0) -> requests.Response:
        timeout = (self._settings.connect_timeout, self._settings.read_timeout)
        base_origin = _origin(self._base)
        for _ in range(5):
            addresses = self._policy.check(url)
            scheme, host, port = _origin(url)
            # A retry tries the host's next checked address (one may be down).
            self._adapter.pin(host, port, addresses[attempt % len(addresses)])
            headers = dict(self._headers) if (scheme, host, port) == base_origin else {}
            # Only gzip is inflated here (streamed and capped); never ask for br/zstd/deflate.
            headers["Accept-Encoding"] = "gzip"
            # The Host header carries the name while the connection goes to the pinned address.
            name = f"[{host}]" if ":" in host else host
            headers["Host"] = name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"
            response = self._session.get(
                url, stream=True, timeout=timeout, allow_redirects=False, headers=headers
            )
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                response.close()
                continue
            return response
        raise FetchRefused(f"{url}: too many redirects")


def _until(chunks: Iterator[bytes], deadline: float, name: str, budget: FetchBudget) -> Iterator[bytes]:
    """Stop a download that drips past its deadline (a read timeout alone resets per chunk)."""
    try:
        for chunk in chunks:
            yield chunk
            if time.monotonic() > deadline:
                budget.note(f"{name}: download took too long; kept what was read in time.")
                return
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        budget.note(f"{name}: download broke off ({type(exc).__name__}); kept what was read before it.")


def open_log_tree(
    location: str,
    settings: FetchSettings,
    budget: FetchBudget | None = None,
    allow_local: bool = False,
    headers: Mapping[str, str] | None = None,
) -> LogTree:
    """A LogTree for an http(s) URL, or for a local directory when `allow_local` (the CLI only).

    A log URL that arrived in a webhook is never allowed to name a local path. `headers`
    (credentials for a CI's API) are sent to the URL's own host only.
    """
    budget = budget or FetchBudget(settings.max_file_bytes, settings.max_run_bytes)
    parts = urlsplit(location)
    if parts.scheme in ("http", "https"):
        return HttpLogTree(location, settings, budget, headers=headers)
    if not allow_local:
        raise FetchRefused(f"{location}: only http(s) log URLs can be fetched")
    if parts.scheme == "file":
        return LocalLogTree(Path(parts.path), budget)
    if parts.scheme:
        raise FetchRefused(f"{location}: unsupported URL scheme {parts.scheme!r}")
    return LocalLogTree(Path(location), budget)
