"""Runs whose results live behind a CI's API rather than in a plain log tree.

Discovery knows each source's layout (Jenkins and openQA there; GitHub Actions and GitLab
registered here, with GitLab's test-report reader). `open_run_tree` opens the LogTree a run is
read from: GitHub and GitLab runs as trees over their APIs, and every source with the credential
the CI API tokens secret names for the run's host (Jenkins' `user:token` as basic auth). A run's
URL comes from a webhook, so a host the secret does not name gets no credential (credentials.py);
the report says so. Every request still goes through HttpLogTree: allowed hosts only, no private
addresses, byte and time caps, credentials to the API host only.
"""

from __future__ import annotations

import logging

from citriage.analyze.ci_api.common import TokenSource
from citriage.analyze.ci_api.credentials import credential_for, withheld_note
from citriage.analyze.ci_api.github import GitHubLayout, GitHubRun
from citriage.analyze.ci_api.gitlab import GITLAB_REPORT, GitLabLayout, GitLabPipelineRun, read_gitlab_report
from citriage.analyze.ci_api.jenkins import jenkins_headers
from citriage.analyze.logs.fetch import FetchBudget, LogTree, open_log_tree
from citriage.analyze.logs.layouts import register_layout, tree_location
from citriage.analyze.logs.readers import register_result_reader
from citriage.config import FetchSettings
from citriage.models import RunEvent

# Sources whose API reads take a token from the CI API tokens secret.
TOKEN_SOURCES = frozenset({"jenkins", "github", "gitlab"})
logger = logging.getLogger(__name__)

register_layout("github", GitHubLayout())
register_layout("gitlab", GitLabLayout())
register_result_reader(GITLAB_REPORT, read_gitlab_report)


def open_run_tree(
    run: RunEvent, settings: FetchSettings, budget: FetchBudget, tokens: TokenSource | None = None
) -> LogTree:
    """The tree a run is read from (raises FetchRefused when its URL may not be fetched)."""
    location = tree_location(run)
    token = _credential(run, location, budget, tokens)
    if run.source == "github":
        return GitHubRun(run, settings, budget, token)
    if run.source == "gitlab":
        return GitLabPipelineRun(run.log_url, run.web_url, settings, budget, token)
    headers = jenkins_headers(token) if run.source == "jenkins" else None
    return open_log_tree(location, settings, budget, headers=headers)


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
