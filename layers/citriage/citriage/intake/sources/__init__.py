"""Webhook sources: each authenticates its CI's requests and normalises the payload to RunEvents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from citriage.errors import UnknownSource
from citriage.intake.sources.generic import GenericSource
from citriage.intake.sources.github import GitHubSource
from citriage.intake.sources.gitlab import GitLabSource
from citriage.intake.sources.jenkins import JenkinsSource
from citriage.intake.sources.openqa import OpenQaSource
from citriage.intake.sources.zuul import ZuulSource
from citriage.models import RunEvent


class WebhookSource(Protocol):
    """What every CI source provides to the webhook."""

    name: str

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Raise Unauthorized unless the request is signed with `key` (or carries it as a token)."""

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """The CI's id of this delivery, the same on a redelivery (GitHub's X-GitHub-Delivery), if any."""

    def normalize(self, payload: Any) -> list[RunEvent]:
        """The finished builds to analyze (raise BadRequest for a malformed payload)."""


SOURCES: dict[str, WebhookSource] = {
    source.name: source
    for source in (
        ZuulSource(),
        JenkinsSource(),
        GitHubSource(),
        GitLabSource(),
        OpenQaSource(),
        GenericSource(),
    )
}


def get_source(name: str) -> WebhookSource:
    """The source of that name, or UnknownSource."""
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownSource(f"unknown webhook source {name!r}; known: {', '.join(sorted(SOURCES))}") from None
