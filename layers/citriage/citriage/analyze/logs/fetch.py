"""Reading a job's log tree, local or over HTTP, without trusting it.

Logs arrive by URLs that came in a webhook: only configured hosts are fetched, private,
loopback and link-local addresses are refused, every redirect is checked again, bytes are
capped per file and per run, and gzip is inflated as a stream with a cap on what comes out.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from citriage.analyze.logs.policy import CURRENT_WATCHDOG, PinnedAdapter, UrlPolicy, Watchdog, host_header
from citriage.analyze.logs.streams import CHUNK, FetchBudget, maybe_inflate, open_stream
from citriage.config import FetchSettings
from citriage.errors import FetchDenied, FetchFailed, FetchRefused
from citriage.ports import LogTree

if TYPE_CHECKING:
    pass


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


# A local tree is listed like a log server's index: bounded in depth and count.
MAX_LIST_DEPTH = 8
MAX_LISTED_FILES = 20_000
SKIPPED_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "site-packages",
        "dist-packages",
        "__pycache__",
        ".venv",
        "venv",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".cache",
    }
)


class LocalLogTree:
    """A log tree in a local directory laid out like the log server's."""

    def __init__(self, root: Path, budget: FetchBudget) -> None:
        self._root = root.resolve()
        self.budget = budget

    @property
    def root(self) -> str:
        """The directory."""
        return str(self._root)

    def open(self, path: str, tail_bytes: int = 0) -> BinaryIO | None:
        """Open a file below the root; symlinks out of the tree are refused."""
        target = (self._root / _clean_relative(path)).resolve()
        if not target.is_relative_to(self._root) or not target.is_file():
            return None
        handle = target.open("rb")
        chunks = iter(lambda: handle.read(CHUNK), b"")
        return open_stream(maybe_inflate(chunks, path, self.budget), path, self.budget, tail_bytes)

    def url_for(self, path: str) -> str:
        """A file:// URL of the file."""
        return (self._root / _clean_relative(path)).as_uri()

    def listing(self, notes: list[str]) -> list[str]:
        """Every file below the root, as relative paths: at most MAX_LISTED_FILES, MAX_LIST_DEPTH
        directories deep, skipping what no CI writes results into (VCS, virtualenv and package
        folders) and links that lead out of the tree."""
        found: list[str] = []
        pending: list[tuple[Path, int]] = [(self._root, 0)]
        while pending:
            directory, depth = pending.pop()
            try:
                entries = sorted(directory.iterdir(), key=lambda p: p.name, reverse=True)
            except OSError:
                continue
            for entry in entries:
                if entry.is_symlink() and not entry.resolve().is_relative_to(self._root):
                    continue
                if entry.is_dir():
                    if entry.name not in SKIPPED_DIRECTORIES and depth < MAX_LIST_DEPTH:
                        pending.append((entry, depth + 1))
                elif entry.is_file():
                    if len(found) >= MAX_LISTED_FILES:
                        notes.append(
                            f"Listed the first {MAX_LISTED_FILES} files of {self._root}; point at results "
                            "with --results if they were not among them."
                        )
                        return sorted(found)
                    found.append(entry.relative_to(self._root).as_posix())
        return sorted(found)


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

    def listing(self, notes: list[str]) -> list[str] | None:
        """None: this tree cannot list itself (its layout lists or probes it)."""
        return None

    def url_for(self, path: str) -> str:
        """The file's URL under the base."""
        return urljoin(self._base, _clean_relative(path))

    def open(self, path: str, tail_bytes: int = 0) -> BinaryIO | None:
        """GET the file (None on 404); retries timeouts and 5xx, then raises FetchFailed. A
        request the fetch policy refuses raises FetchRefused, and is kept in the budget.

        The whole file (connect, headers, body) is bounded by MAX_FILE_SECONDS and by the run's
        deadline, at the socket: a server that drips, never answers or never closes is cut off
        there, and what was read in time is kept, with a note."""
        now = time.monotonic()
        if now >= self.budget.run_deadline:
            raise FetchFailed(f"{path}: not read, the run's time was up")
        watchdog = Watchdog(min(now + self._settings.max_file_seconds, self.budget.run_deadline))
        token = CURRENT_WATCHDOG.set(watchdog)
        try:
            response = self._get(self.url_for(path), watchdog)
        except FetchRefused as exc:
            watchdog.cancel()
            self.budget.refusals.append(str(exc))
            raise
        except BaseException:
            watchdog.cancel()
            raise
        finally:
            CURRENT_WATCHDOG.reset(token)
        if response is None:
            watchdog.cancel()
            return None
        # Raw bytes, not requests' Content-Encoding decoding: that inflates a whole chunk at
        # once with no cap. A gzip body (encoded or not) is inflated by maybe_inflate, capped.
        raw = response.raw.stream(CHUNK, decode_content=False)
        chunks = _until(raw, watchdog, path, self.budget)
        return open_stream(maybe_inflate(chunks, path, self.budget), path, self.budget, tail_bytes)

    def _get(self, url: str, watchdog: Watchdog) -> requests.Response | None:
        last_error = ""
        for attempt in range(self._settings.retries + 1):
            if attempt:
                pause = self._backoff * 2 ** (attempt - 1)
                if pause >= watchdog.remaining():
                    break
                time.sleep(pause)
            if watchdog.fired:
                break
            try:
                response = self._get_following_redirects(url, attempt, watchdog)
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
        if watchdog.fired:
            raise FetchFailed(f"{url}: no answer within its deadline ({last_error or 'cut off'})")
        raise FetchFailed(f"{url}: gave up after {self._settings.retries + 1} attempts ({last_error})")

    def _get_following_redirects(self, url: str, attempt: int, watchdog: Watchdog) -> requests.Response:
        left = watchdog.remaining()
        timeout = (min(self._settings.connect_timeout, left), min(self._settings.read_timeout, left))
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
            headers["Host"] = host_header(scheme, host, port)
            response = self._session.get(
                url, stream=True, timeout=timeout, allow_redirects=False, headers=headers
            )
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                response.close()
                continue
            return response
        raise FetchRefused(f"{url}: too many redirects")


def _until(chunks: Iterator[bytes], watchdog: Watchdog, name: str, budget: FetchBudget) -> Iterator[bytes]:
    """The body's chunks until its deadline (the watchdog cuts a blocked read at the socket)."""
    try:
        for chunk in chunks:
            if watchdog.fired:
                break
            yield chunk
            if time.monotonic() > watchdog.deadline:
                break
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if not watchdog.fired:
            budget.note(f"{name}: download broke off ({type(exc).__name__}); kept what was read before it.")
    finally:
        watchdog.cancel()
    if watchdog.fired or time.monotonic() > watchdog.deadline:
        budget.note(f"{name}: download stopped at its deadline; kept what was read in time.")


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
