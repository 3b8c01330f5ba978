"""Webhook sources: each authenticates its CI's requests and normalises the payload to RunEvents."""

from __future__ import annotations

from citriage.errors import UnknownSource
from citriage.intake.sources.generic import GenericSource
from citriage.intake.sources.github import GitHubSource
from citriage.intake.sources.gitlab import GitLabSource
from citriage.intake.sources.jenkins import JenkinsSource
from citriage.intake.sources.openqa import OpenQaSource
from citriage.intake.sources.zuul import ZuulSource
from citriage.ports import WebhookSource

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
