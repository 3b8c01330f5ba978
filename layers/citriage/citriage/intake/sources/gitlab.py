"""GitLab CI: pipeline hooks (`object_kind: pipeline`).

GitLab cannot sign hooks; it sends the hook's secret token in `X-Gitlab-Token`, compared here
in constant time. GitLab repeats a hook with the same `Idempotency-Key` when it retries a
delivery; the pipeline id is the run id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citriage.errors import BadRequest
from citriage.intake.sources.auth import header, verify_token
from citriage.intake.sources.payload import as_text, first_error, parse_payload
from citriage.models import RunEvent, SourceName

AUTH_HEADER = "X-Gitlab-Token"
DELIVERY_HEADER = "Idempotency-Key"
FINISHED_STATUSES = frozenset({"success", "failed", "canceled"})


def _gitlab_time(value: object) -> object:
    # Hooks say "2026-11-20 10:00:00 UTC"; the API says ISO 8601.
    if isinstance(value, str) and value.endswith(" UTC"):
        return value[: -len(" UTC")].replace(" ", "T") + "+00:00"
    return value


class GitLabPipeline(BaseModel):
    """`object_attributes`: the pipeline."""

    model_config = ConfigDict(extra="ignore")

    id: int
    iid: int | None = None
    name: str | None = None
    ref: str | None = None
    source: str | None = None
    status: str
    sha: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    url: str | None = None

    _times = field_validator("created_at", "finished_at", mode="before")(_gitlab_time)


class GitLabProject(BaseModel):
    """The project the pipeline ran for."""

    model_config = ConfigDict(extra="ignore")

    id: int
    path_with_namespace: str = Field(min_length=1)
    web_url: str


class GitLabMergeRequest(BaseModel):
    """The merge request of a merge-request pipeline."""

    model_config = ConfigDict(extra="ignore")

    iid: int | str | None = None
    url: str | None = None

    _iid = field_validator("iid", mode="before")(as_text)


class GitLabPipelineHook(BaseModel):
    """A pipeline hook body."""

    model_config = ConfigDict(extra="ignore")

    object_kind: str
    object_attributes: GitLabPipeline
    project: GitLabProject
    merge_request: GitLabMergeRequest | None = None


def gitlab_api_base(project: GitLabProject) -> str:
    """The instance's API root (`https://gitlab.example.org/api/v4`), from the project's web URL."""
    web = project.web_url.rstrip("/")
    suffix = "/" + project.path_with_namespace
    if not web.endswith(suffix):
        raise BadRequest("project.web_url does not end with project.path_with_namespace")
    return web[: -len(suffix)] + "/api/v4"


class GitLabSource:
    """GitLab pipeline hooks, authenticated by the hook's secret token."""

    name = SourceName.GITLAB

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Check `X-Gitlab-Token` in constant time."""
        verify_token(header(headers, AUTH_HEADER), key)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """GitLab's idempotency key, the same on a retried delivery."""
        return header(headers, DELIVERY_HEADER)

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent for a finished pipeline; nothing for pending/running updates or other hooks."""
        if isinstance(payload, dict) and payload.get("object_kind") not in (None, "pipeline"):
            return []
        hook = parse_payload(GitLabPipelineHook, payload, "a GitLab pipeline hook")
        pipeline = hook.object_attributes
        if pipeline.status not in FINISHED_STATUSES:
            return []
        api = gitlab_api_base(hook.project)
        mr = hook.merge_request
        try:
            return [
                RunEvent(
                    source=self.name,
                    job=hook.project.path_with_namespace,
                    build_id=str(pipeline.id),
                    result=pipeline.status,
                    log_url=f"{api}/projects/{hook.project.id}/pipelines/{pipeline.id}",
                    web_url=pipeline.url,
                    pipeline=pipeline.source,
                    project=hook.project.path_with_namespace,
                    branch=pipeline.ref,
                    change=str(mr.iid) if mr and mr.iid else None,
                    change_url=mr.url if mr else None,
                    revision=pipeline.sha,
                    # A pipeline is its own buildset: its verdict notes the merge request.
                    buildset_id=str(pipeline.id),
                    buildset_size=1,
                    start_time=pipeline.created_at,
                    end_time=pipeline.finished_at,
                )
            ]
        except ValidationError as exc:
            raise BadRequest(f"pipeline {pipeline.id}: {first_error(exc)}") from exc
