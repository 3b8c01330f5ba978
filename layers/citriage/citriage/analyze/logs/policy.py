"""Which URLs may be fetched: configured hosts only, each name resolved once and the connection
pinned to the checked address (no DNS rebinding); private, loopback and link-local addresses
refused unless a local mode allows them."""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from citriage.config import FetchSettings
from citriage.errors import FetchRefused
from citriage.models.run import without_credentials

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs


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
        url = without_credentials(url)  # a redirect's Location may carry some: never echo them
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
            if not is_public(ipaddress.ip_address(address)):
                raise FetchRefused(f"{url}: {host} resolves to non-public address {address}")
        return addresses


# IPv6 prefixes that carry an IPv4 address in their last 32 bits and reach it: NAT64 (RFC 6052,
# and the local-use prefix of RFC 8215).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it carries one: IPv4-mapped and
    -compatible forms, 6to4 (2002::/16), Teredo's client, NAT64."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64) or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address, and so is any IPv4 address it carries (127.0.0.1 written as
    64:ff9b::7f00:1 or 2002:7f00:1:: is loopback all the same)."""
    if not ip.is_global or ip.is_multicast:
        return False
    inner = embedded_ipv4(ip)
    return inner is None or (inner.is_global and not inner.is_multicast)


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


class Watchdog:
    """A file's wall-clock deadline, enforced at the socket: when it passes, every connection
    this download used is shut down, so a blocked connect, header or body read returns at once.
    (A read timeout restarts with every byte: a server dripping one byte a second never trips it.)"""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        """Seconds left (never below a small floor: urllib3 refuses a zero timeout)."""
        return max(0.01, self.deadline - time.monotonic())

    def watch(self, connection: Any) -> None:
        """Shut this connection's socket down at the deadline (or at once, if it has passed). The
        socket itself is kept: http.client lets go of it once a closing response's headers are in."""
        sock = getattr(connection, "sock", None)
        if sock is None:
            return
        with self._lock:
            self._connections.append(sock)
            fired = self.fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)

    def cancel(self) -> None:
        """The download ended in time: stop the timer."""
        self._timer.cancel()


def _shut(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# The watchdog of the download under way in this thread (contextvars: per thread and task).
CURRENT_WATCHDOG: contextvars.ContextVar[Watchdog | None] = contextvars.ContextVar("watchdog", default=None)


class _Watched:
    """Connections that put themselves under the current download's watchdog on every request."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # the mixin's partner has connect()
        self._watch()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._watch()  # a reused connection: connected before this download
        return super().request(*args, **kwargs)  # type: ignore[misc]  # the mixin's partner has request()

    def _watch(self) -> None:
        watchdog = CURRENT_WATCHDOG.get()
        if watchdog is not None:
            watchdog.watch(self)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def host_header(scheme: str, host: str, port: int) -> str:
    """The Host header of a request whose connection is pinned to an address: the URL's name
    (bracketed when an IPv6 literal), with the port unless it is the scheme's default."""
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"


class PinnedAdapter(HTTPAdapter):
    """Connects to the address the UrlPolicy checked, not to whatever DNS says next.

    The URL keeps its host name: the Host header, TLS SNI and the certificate check all use
    the name, while the TCP connection goes to the pinned address.
    """

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self._pins: dict[tuple[str, int], str] = {}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The pool manager, with connections a Watchdog can shut down."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

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
