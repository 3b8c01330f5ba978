"""Reading a GitLab pipeline through the REST API (v4): its jobs, the failed jobs' traces and
the pipeline's test report (GitLab's own parse of the jobs' JUnit report artifacts).

The RunEvent's log URL is the pipeline's API URL
(`https://gitlab.example.org/api/v4/projects/<project>/pipelines/<id>`). `GitLabPipelineRun` is
the pipeline as a LogTree rooted at the project's API: `failed-jobs.log` is the failed jobs'
traces one after the other, anything else a path of the project's API.
"""

from __future__ import annotations

from functools import partial
from typing import BinaryIO

from citriage.analyze.ci_api.common import ApiRunTree, concatenated, get_json
from citriage.analyze.logs.fetch import HttpLogTree
from citriage.analyze.logs.layouts import Discovery, FoundFile, ResultKind
from citriage.analyze.logs.streams import FetchBudget
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import FetchRefused
from citriage.models import RunEvent
from citriage.ports import LogTree

FAILED_JOBS_LOG = "failed-jobs.log"


def gitlab_api_headers(token: str | None) -> dict[str, str]:
    """The token header GitLab's API takes (nothing for a public project)."""
    return {"PRIVATE-TOKEN": token} if token else {}


def _pipeline_api(log_url: str) -> tuple[str, str]:
    prefix, sep, pipeline_id = log_url.rstrip("/").rpartition("/pipelines/")
    if not sep or not pipeline_id.isdigit() or "/projects/" not in prefix:
        raise FetchRefused(f"{log_url}: not the API URL of a GitLab pipeline")
    return prefix + "/", pipeline_id


class GitLabPipelineRun(ApiRunTree):
    """One pipeline, read through the project's API as a LogTree."""

    def __init__(
        self,
        log_url: str,
        web_url: str | None,
        settings: FetchSettings,
        budget: FetchBudget,
        token: str | None,
    ) -> None:
        project_api, self._pipeline = _pipeline_api(log_url)
        api = HttpLogTree(project_api, settings, budget, headers=gitlab_api_headers(token))
        super().__init__(api, web_url or log_url)

    @property
    def root(self) -> str:
        """The pipeline's API URL."""
        return self._api.url_for(f"pipelines/{self._pipeline}")

    def open(self, path: str, tail_bytes: int = 0) -> BinaryIO | None:
        """`failed-jobs.log`: the failed jobs' traces one after the other; other paths: the API."""
        if path != FAILED_JOBS_LOG:
            return self._api.open(path)
        document = get_json(self._api, f"pipelines/{self._pipeline}/jobs?per_page=100", self.budget.notes)
        jobs = [j for j in document or [] if isinstance(j, dict) and isinstance(j.get("id"), int)]
        failed = [j for j in jobs if j.get("status") == "failed"]
        if not failed:
            return None
        return concatenated(
            [
                (str(job.get("name", job["id"])), partial(self._api.open, f"jobs/{job['id']}/trace"))
                for job in failed
            ],
            self.budget.notes,
        )


class GitLabLayout:
    """Where a GitLab pipeline's results are: its test report, its failed jobs' traces."""

    def tree_location(self, run: RunEvent) -> str:
        """The project's API root (GitLabPipelineRun is rooted there)."""
        return _pipeline_api(run.log_url)[0]

    def discover(self, run: RunEvent, tree: LogTree, settings: LayoutSettings, notes: list[str]) -> Discovery:
        """The pipeline's test report and failed jobs' traces."""
        _, pipeline_id = _pipeline_api(run.log_url)
        return Discovery(
            results=[FoundFile(f"pipelines/{pipeline_id}/test_report", ResultKind.GITLAB_REPORT)],
            console=[FAILED_JOBS_LOG],
            probe=False,
            method="gitlab api",
        )
