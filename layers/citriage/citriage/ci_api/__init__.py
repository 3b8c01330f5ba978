"""Runs whose results live behind a CI's API rather than in a plain log tree.

Discovery knows each source's layout (Jenkins and openQA there; GitHub Actions and GitLab
registered here, with GitLab's test-report reader). `open_run_tree` opens the LogTree a run is
read from: GitHub and GitLab runs as trees over their APIs, and every source with the token the
CI API tokens secret has for it (Jenkins' `user:token` as basic auth). Every request still goes
through HttpLogTree: allowed hosts only, no private addresses, byte and time caps, credentials
to the API host only.
"""

from __future__ import annotations

from citriage.ci_api.common import TokenSource
from citriage.ci_api.github import GitHubLayout, GitHubRun
from citriage.ci_api.gitlab import GITLAB_REPORT, GitLabLayout, GitLabPipelineRun, read_gitlab_report
from citriage.ci_api.jenkins import jenkins_headers
from citriage.config import FetchSettings
from citriage.discovery import register_layout, tree_location
from citriage.fetch import FetchBudget, LogTree, open_log_tree
from citriage.models import RunEvent
from citriage.results import register_result_reader

# Sources whose API reads take a token from the CI API tokens secret.
TOKEN_SOURCES = frozenset({"jenkins", "github", "gitlab"})

register_layout("github", GitHubLayout())
register_layout("gitlab", GitLabLayout())
register_result_reader(GITLAB_REPORT, read_gitlab_report)


def open_run_tree(
    run: RunEvent, settings: FetchSettings, budget: FetchBudget, tokens: TokenSource | None = None
) -> LogTree:
    """The tree a run is read from (raises FetchRefused when its URL may not be fetched)."""
    token = tokens.key_for(run.source) if tokens is not None and run.source in TOKEN_SOURCES else None
    if run.source == "github":
        return GitHubRun(run, settings, budget, token)
    if run.source == "gitlab":
        return GitLabPipelineRun(run.log_url, run.web_url, settings, budget, token)
    headers = jenkins_headers(token) if run.source == "jenkins" else None
    return open_log_tree(tree_location(run), settings, budget, headers=headers)
