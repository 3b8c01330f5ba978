"""GitHub Actions: `workflow_run` webhooks (action `completed`).

Verified as GitHub signs them: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
body with the webhook's secret. A redelivery carries the same `X-GitHub-Delivery` id and is
dropped on it; a run is also deduplicated on its id and attempt, so a re-run (a new attempt)
is analysed, and the same attempt reported twice is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citriage.errors import BadRequest
from citriage.intake.sources.auth import header, verify_hmac_sha256
from citriage.intake.sources.payload import first_error, parse_payload
from citriage.models import RunEvent, SourceName

SIGNATURE_HEADER = "X-Hub-Signature-256"
DELIVERY_HEADER = "X-GitHub-Delivery"


class GitHubRepository(BaseModel):
    """The repository a run belongs to."""

    model_config = ConfigDict(extra="ignore")

    full_name: str
    html_url: str | None = None


class GitHubPullRequest(BaseModel):
    """A pull request the run was for (number only is needed)."""

    model_config = ConfigDict(extra="ignore")

    number: int


class GitHubWorkflowRun(BaseModel):
    """The `workflow_run` object (the fields citriage uses)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    name: str | None = None
    run_attempt: int = Field(default=1, ge=1)
    status: str | None = None
    conclusion: str | None = None
    event: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    html_url: str | None = None
    url: str
    run_started_at: datetime | None = None
    updated_at: datetime | None = None
    pull_requests: list[GitHubPullRequest] = Field(default_factory=list)
    repository: GitHubRepository


class GitHubWorkflowRunEvent(BaseModel):
    """A `workflow_run` webhook delivery."""

    model_config = ConfigDict(extra="ignore")

    action: str
    workflow_run: GitHubWorkflowRun


class GitHubSource:
    """GitHub `workflow_run` webhooks, HMAC-signed by GitHub."""

    name = SourceName.GITHUB

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Check `X-Hub-Signature-256`."""
        verify_hmac_sha256(headers, SIGNATURE_HEADER, body, key)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """GitHub's delivery GUID, the same on a redelivery."""
        return header(headers, DELIVERY_HEADER)

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent for a completed run; nothing for a ping or a requested/in-progress run."""
        if isinstance(payload, dict) and "zen" in payload and "workflow_run" not in payload:
            return []  # the ping GitHub sends when the hook is created
        event = parse_payload(GitHubWorkflowRunEvent, payload, "a GitHub workflow_run event")
        run = event.workflow_run
        if event.action != "completed" or run.status not in (None, "completed") or not run.conclusion:
            return []
        repo = run.repository.full_name
        change = run.pull_requests[0].number if run.pull_requests else None
        base = (run.repository.html_url or f"https://github.com/{repo}").rstrip("/")
        try:
            return [
                RunEvent(
                    source=self.name,
                    job=f"{repo}/{run.name or 'workflow'}",
                    build_id=f"{run.id}-{run.run_attempt}",
                    result=run.conclusion,
                    log_url=run.url,
                    web_url=run.html_url,
                    pipeline=run.event,
                    project=repo,
                    branch=run.head_branch,
                    change=str(change) if change else None,
                    change_url=f"{base}/pull/{change}" if change else None,
                    revision=run.head_sha,
                    # A workflow run is its own buildset: its verdict becomes a check run.
                    buildset_id=f"{run.id}-{run.run_attempt}",
                    buildset_size=1,
                    start_time=run.run_started_at,
                    end_time=run.updated_at,
                )
            ]
        except ValidationError as exc:
            raise BadRequest(f"workflow run {run.id}: {first_error(exc)}") from exc
