"""Locating a run's logs: which layout its CI uses, and the LogTree its files are read from.

Every layout is listed once in `LAYOUTS` (no registration at import time): a source with no
layout of its own (generic, Gerrit) is read as a plain log tree. GitHub and GitLab runs are
trees over their APIs; every source gets the credential the CI API tokens secret names for the
run's host (Jenkins' `user:token` as basic auth). A run's URL comes from a webhook, so a host
the secret does not name gets no credential (ci_api/credentials.py); the report says so. Every
request still goes through HttpLogTree: allowed hosts only, no private addresses, byte and
time caps, credentials to the API host only.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Logger

from citriage import keys
from citriage.analyze.ci_api.credentials import credential_for, withheld_note
from citriage.analyze.ci_api.github import GitHubLayout, GitHubRun
from citriage.analyze.ci_api.gitlab import GitLabLayout, GitLabPipelineRun
from citriage.analyze.ci_api.jenkins import jenkins_headers
from citriage.analyze.logs.archive import ArchiveLogTree
from citriage.analyze.logs.fetch import open_log_tree
from citriage.analyze.logs.layouts import JenkinsLayout, LogTreeLayout, OpenQaLayout
from citriage.analyze.logs.streams import FetchBudget
from citriage.config import FetchSettings
from citriage.errors import FetchFailed, FetchRefused
from citriage.models import RunEvent, SourceName
from citriage.ports import Layout, LogTree, TokenSource, Uploads

# Sources whose API reads take a token from the CI API tokens secret.
TOKEN_SOURCES = frozenset({SourceName.JENKINS, SourceName.GITHUB, SourceName.GITLAB})
# A child of the function's Powertools Logger: structured, with the invocation's correlation id.
logger = Logger(child=True)

_LOG_TREE = LogTreeLayout()
LAYOUTS: Mapping[str, Layout] = {
    SourceName.ZUUL: _LOG_TREE,
    SourceName.JENKINS: JenkinsLayout(),
    SourceName.OPENQA: OpenQaLayout(),
    SourceName.GITHUB: GitHubLayout(),
    SourceName.GITLAB: GitLabLayout(),
}


def layout_for(source: str) -> Layout:
    """The layout of a source; a log tree when the source has none of its own."""
    return LAYOUTS.get(source, _LOG_TREE)


def tree_location(run: RunEvent) -> str:
    """Where the run's LogTree is rooted (what `open_log_tree` is given)."""
    return layout_for(run.source).tree_location(run)


def open_run_tree(
    run: RunEvent,
    settings: FetchSettings,
    budget: FetchBudget,
    tokens: TokenSource | None = None,
    allow_local: bool = False,
    uploads: Uploads | None = None,
) -> LogTree:
    """The tree a run is read from (raises FetchRefused when its URL may not be fetched).

    `allow_local` lets a log tree be a local directory or file:// URL (the CLI only); an uploaded
    run is read from its archive in `uploads` (never extracted: ArchiveLogTree)."""
    location = tree_location(run)
    token = _credential(run, location, budget, tokens)
    if run.source == SourceName.UPLOAD:
        if uploads is None:
            raise FetchRefused("uploaded runs are read from the uploads bucket, and none is configured")
        upload = keys.upload_id(run.run_id)
        try:
            archive = uploads.open_archive(upload, settings.max_upload_bytes)
            return ArchiveLogTree(archive, uploads.location(upload), budget, settings.max_run_bytes)
        except FetchFailed as exc:
            raise FetchRefused(str(exc)) from None
    if run.source == SourceName.GITHUB:
        return GitHubRun(run, settings, budget, token)
    if run.source == SourceName.GITLAB:
        return GitLabPipelineRun(run.log_url, run.web_url, settings, budget, token)
    headers = jenkins_headers(token) if run.source == SourceName.JENKINS else None
    return open_log_tree(location, settings, budget, allow_local=allow_local, headers=headers)


def _credential(run: RunEvent, url: str, budget: FetchBudget, tokens: TokenSource | None) -> str | None:
    """The source's credential for `url`'s host (the tree the run is read from); None, with a
    note, when the source has credentials but none for that host (the URL came from a webhook)."""
    if tokens is None or run.source not in TOKEN_SOURCES:
        return None
    entry = tokens.entry_for(run.source)
    token = credential_for(run.source, entry, url)
    if token is None and entry:
        note = withheld_note(run.source, url)
        logger.warning("%s (run %s)", note, run.run_id)
        budget.note(note)
    return token
