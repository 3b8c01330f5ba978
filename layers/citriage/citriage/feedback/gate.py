"""The release gate (qem-bot style): a `BuildsetAnalyzed` event accepts or declines the review of
a release request on an OBS-style API, when testing is finished, without polling
(docs/feedback.md).

    POST {ReleaseGateUrl}/request/{id}?cmd=changereviewstate&by_group={group}
         &newstate=accepted|declined&comment=...

The request id comes from the buildset's own id (by default from an openQA `BUILD` such as
`:41234:kernel`) through `ReleaseGateRequestPattern`'s `request` group; a buildset it does not
match is none of the gate's business. An approvable buildset accepts; one with a
new failure declines, naming each blocking failure; an incomplete one is left to a person. The
decision is claimed in the dedupe table first, so a redelivered event decides nothing twice.
The credential is the CI API tokens secret's `obs` entry (`user:password`) for the API's host.
Any bot can follow the same pattern: a rule on `BuildsetAnalyzed`, a queue, one decision each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import re2
from pydantic import BaseModel, Field

from citriage import keys
from citriage.analyze.ci_api.jenkins import jenkins_headers
from citriage.errors import CitriageError, InputError
from citriage.feedback.http import CiActions, CiApi, once
from citriage.feedback.reviews import headline
from citriage.models.buildset import BuildsetAnalyzed, BuildsetFailure
from citriage.ports import Dedupe, TokenSource

# OBS keeps a review comment in a query string: it is cut to stay well under URL limits.
MAX_COMMENT = 4000
DECISION_LEASE_SECONDS = 300


class GateUnavailable(CitriageError):
    """The gate cannot decide this request (no credential, refused): skipped and logged."""


class GateFailed(CitriageError):
    """The decision did not get through (no answer, 5xx): the event is delivered again."""


class GateDecision(BaseModel):
    """What the gate told the release API about one request."""

    buildset: str
    request: str
    state: str = Field(description="accepted or declined")
    comment: str
    status: int
    at: datetime


class ReleaseGate:
    """Accepts or declines a release request's review from its buildset's verdict."""

    def __init__(
        self,
        api: CiApi,
        tokens: TokenSource | None,
        dedupe: Dedupe,
        base_url: str,
        group: str,
        request_pattern: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._calls = CiActions(api, tokens, GateUnavailable, GateFailed)
        self._dedupe = dedupe
        self._base = base_url.rstrip("/")
        self._group = group
        try:
            self._pattern: Any = re2.compile(request_pattern)
        except re2.error as exc:
            raise InputError(f"ReleaseGateRequestPattern is not a usable RE2 pattern: {exc}") from None
        if "request" not in self._pattern.groupindex:
            raise InputError("ReleaseGateRequestPattern has no (?P<request>...) group")
        self._clock = clock

    def request_of(self, event: BuildsetAnalyzed) -> str | None:
        """The release request a buildset tested, or None."""
        ci_id = event.id.split(":", 1)[-1]
        match = self._pattern.search(ci_id)
        request = match.group("request") if match else None
        return request if request and request.isalnum() else None

    def decide(self, event: BuildsetAnalyzed) -> GateDecision | None:
        """Accept or decline once; None when the buildset is not the gate's, incomplete, or
        decided already."""
        request = self.request_of(event)
        if request is None or event.incomplete:
            return None
        state = "accepted" if event.approvable else "declined"
        comment = gate_comment(event)[:MAX_COMMENT]
        query = urlencode(
            {"cmd": "changereviewstate", "by_group": self._group, "newstate": state, "comment": comment}
        )
        url = f"{self._base}/request/{quote(request, safe='')}?{query}"

        def post() -> GateDecision:
            answer = self._calls.send("POST", url, jenkins_headers(self._calls.credential("obs", url)))
            at = self._clock()
            return GateDecision(
                buildset=event.id, request=request, state=state, comment=comment, status=answer.status, at=at
            )

        key = keys.gate_decision(event.id, request)
        return once(self._dedupe, key, DECISION_LEASE_SECONDS, post, GateUnavailable)


def _line(failure: BuildsetFailure) -> str:
    test = f" {failure.test_id}" if failure.test_id else ""
    message = f": {failure.message}" if failure.message else ""
    return f"- {failure.job}{test}{message} ({failure.log_url})"


def gate_comment(event: BuildsetAnalyzed) -> str:
    """The review comment: the verdict, then each blocking failure (or the waived ones)."""
    lines = [headline(event)]
    if event.blocking:
        lines.append("Blocking:")
        lines.extend(_line(f) for f in event.blocking)
    if event.waived:
        lines.append("Waived (known or infrastructure):")
        lines.extend(
            f"- {f.job} {f.test_id or ''}: {f.issue or f.classification}".replace("  ", " ")
            for f in event.waived
        )
    return "\n".join(lines)
