"""Calls to a CI's API that change something (a recheck comment, a rebuild), without trusting the
URL they are built from.

The URL comes from a run a webhook described, so it is checked as a log URL is (the host among
LOG_HOSTS, plain http only where allowed, addresses public unless ALLOW_PRIVATE_ADDRESSES), the
connection goes to the checked address, redirects are not followed (a POST is not replayed
elsewhere), and the answer is read up to a cap. The caller sends credentials only to a host
the CI API tokens secret names (citriage.analyze.ci_api.credentials).
"""

from __future__ import annotations

import json as json_module
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from citriage.analyze.ci_api.credentials import credential_for
from citriage.analyze.logs.policy import PinnedAdapter, UrlPolicy, host_header
from citriage.config import FetchSettings
from citriage.errors import CitriageError, FetchFailed, FetchRefused
from citriage.models.run import without_credentials
from citriage.ports import Dedupe, TokenSource

# A CI's answer to an action is a small JSON document; more is not read.
MAX_ANSWER_BYTES = 256 * 1024

# The API URLs runs carry, as the sources write them (rechecks, reviews and sizes read them).
GITHUB_RUN = re.compile(r"^(?P<repo>https?://[^/]+(?:/api/v3)?/repos/[^/]+/[^/]+)/actions/runs/\d+$")
GITLAB_PIPELINE = re.compile(r"^(?P<project>https?://.+/projects/[^/]+)/pipelines/\d+$")
OPENQA_JOB = re.compile(r"^(?P<base>https?://[^?#]+?)/tests/(?P<id>\d+)/?$")


@dataclass(frozen=True)
class CiAnswer:
    """A CI API's status and (capped) body."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON (Gerrit's `)]}'` prefix taken off), or None when it is not JSON."""
        text = self.body.decode("utf-8", "replace")
        if text.startswith(")]}'"):
            text = text[4:]
        try:
            return json_module.loads(text)
        except ValueError:
            return None


class CiApi:
    """One request at a time to a CI's API, under the fetch policy."""

    def __init__(
        self,
        settings: FetchSettings,
        policy: UrlPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self._settings = settings
        self._policy = policy or UrlPolicy(settings)
        self._adapter = PinnedAdapter()
        self._session = session or requests.Session()
        self._session.trust_env = False  # an environment proxy would reach a host we did not check
        self._session.mount("http://", self._adapter)
        self._session.mount("https://", self._adapter)

    def call(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
    ) -> CiAnswer:
        """Send one request; FetchRefused when the policy refuses the URL, FetchFailed when no
        answer came (timeout, connection refused, cut off)."""
        addresses = self._policy.check(url)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._adapter.pin(host, port, addresses[0])
        sent = dict(headers) | {"Host": host_header(parts.scheme, host, port)}
        try:
            with self._session.request(
                method,
                url,
                headers=sent,
                json=json,
                data=data,
                timeout=(self._settings.connect_timeout, self._settings.read_timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                body = b""
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) >= MAX_ANSWER_BYTES:
                        body = body[:MAX_ANSWER_BYTES]
                        break
                return CiAnswer(response.status_code, body)
        except requests.RequestException as exc:
            raise FetchFailed(f"{method} {url}: {type(exc).__name__}") from exc


class CiActions:
    """Credentialed calls to CI APIs for one purpose (rechecks, reviews): `unavailable` is raised
    when the CI cannot be asked (no credential for the host, a URL the policy refuses, a 4xx
    answer), `failed` when it may work later (no answer, a 5xx, a 429)."""

    def __init__(
        self,
        api: CiApi,
        tokens: TokenSource | None,
        unavailable: type[CitriageError],
        failed: type[CitriageError],
    ) -> None:
        self._api = api
        self._tokens = tokens
        self._unavailable = unavailable
        self._failed = failed

    def credential(self, kind: str, url: str, required: bool = True) -> str:
        """The `kind` credential the CI API tokens secret names for the URL's host; `unavailable`
        when there is none and one is required ("" when not required)."""
        entry = self._tokens.entry_for(kind) if self._tokens is not None else None
        credential = credential_for(kind, entry, url)
        if credential is None and required:
            host = urlsplit(url).netloc.rsplit("@", 1)[-1]
            raise self._unavailable(f"the CI API tokens secret has no {kind} credential for {host}")
        return credential or ""

    def answer(self, method: str, url: str, headers: Mapping[str, str], **body: Any) -> CiAnswer:
        """The CI's answer, whatever its status."""
        try:
            return self._api.call(method, url, headers, **body)
        except FetchRefused as exc:
            raise self._unavailable(str(exc)) from exc
        except FetchFailed as exc:
            raise self._failed(str(exc)) from exc

    def send(self, method: str, url: str, headers: Mapping[str, str], **body: Any) -> CiAnswer:
        """A 2xx answer; `failed` on a 5xx or 429, `unavailable` on any other status."""
        answer = self.answer(method, url, headers, **body)
        shown = without_credentials(url)
        if answer.status >= 500 or answer.status == 429:
            raise self._failed(f"{method} {shown}: HTTP {answer.status}")
        if answer.status >= 300:
            raise self._unavailable(f"{method} {shown}: HTTP {answer.status}")
        return answer


_T = TypeVar("_T")


def once(
    dedupe: Dedupe, key: str, lease_seconds: int, act: Callable[[], _T], final: type[Exception]
) -> _T | None:
    """Do `act` once for `key` (a review, a gate decision): None when it was done, or is being
    done, under that key. A `final` error completes the claim too (asking again would be refused
    again); any other frees it, so a redelivery tries again."""
    if not dedupe.claim(key, lease_seconds):
        return None
    try:
        result = act()
    except final:
        dedupe.complete(key)
        raise
    except Exception:
        dedupe.release(key)
        raise
    dedupe.complete(key)
    return result
