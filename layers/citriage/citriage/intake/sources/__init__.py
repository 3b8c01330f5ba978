"""Webhook sources: each authenticates its CI's requests and normalises the payload to RunEvents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from citriage.errors import UnknownSource
from citriage.intake.sources.generic import GenericSource
from citriage.intake.sources.gerrit import GerritSource
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
        GerritSource(),
        GenericSource(),
    )
}


def configured_sources(gerrit_ci_accounts: Sequence[str]) -> dict[str, WebhookSource]:
    """The sources, with the Gerrit accounts whose comments list job results."""
    return SOURCES | {GerritSource.name: GerritSource(gerrit_ci_accounts)}


def get_source(name: str, sources: Mapping[str, WebhookSource] = SOURCES) -> WebhookSource:
    """The source of that name, or UnknownSource."""
    try:
        return sources[name]
    except KeyError:
        raise UnknownSource(f"unknown webhook source {name!r}; known: {', '.join(sorted(sources))}") from None
