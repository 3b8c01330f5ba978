"""Jenkins: the Notification plugin's JSON (`name`, `url`, `build{full_url, number, phase, status, ...}`).

The plugin cannot sign its requests, so Jenkins authenticates with a shared token, compared in
constant time: the `X-Citriage-Token` header, or a `token` query parameter on the endpoint URL
(`https://<api>/hooks/jenkins?token=<token>`, the only form the plugin itself can send).

The plugin reports a build in several phases. Only COMPLETED and FINALIZED are finished, and
both name the same build: the run id is the build's URL (host and path), so whichever arrives
first is analysed and the other is a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citriage.errors import BadRequest
from citriage.intake.sources.auth import header, verify_token
from citriage.intake.sources.payload import first_error, parse_payload, url_host
from citriage.models import RunEvent, SourceName

AUTH_HEADER = "X-Citriage-Token"
AUTH_QUERY_PARAM = "token"
FINISHED_PHASES = frozenset({"COMPLETED", "FINALIZED"})


class JenkinsScm(BaseModel):
    """The `build.scm` part (present for git jobs)."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = None
    branch: str | None = None
    commit: str | None = None


class JenkinsBuild(BaseModel):
    """The `build` part of a notification."""

    model_config = ConfigDict(extra="ignore")

    full_url: str | None = None
    number: int
    phase: str
    status: str | None = None
    url: str | None = None
    scm: JenkinsScm | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class JenkinsNotification(BaseModel):
    """A Notification plugin message."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    url: str | None = None
    build: JenkinsBuild


def jenkins_build_id(build_url: str) -> str:
    """The stable id of a Jenkins build: its URL's host and path (`jenkins.example.org/job/x/42`).

    The webhook and the sweep both derive it from the build URL, so they dedupe together.
    """
    parts = urlsplit(build_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{build_url!r} is not an absolute http(s) build URL")
    return f"{url_host(parts)}/{parts.path.strip('/')}"


def jenkins_run(job: str, build_url: str, result: str | None, branch: str | None = None) -> RunEvent:
    """The RunEvent of a finished Jenkins build (the build URL is the log URL: analysis reads
    `testReport/api/json` and `consoleText` under it)."""
    url = build_url if build_url.endswith("/") else build_url + "/"
    try:
        return RunEvent(
            source=JenkinsSource.name,
            job=job,
            build_id=jenkins_build_id(url),
            result=result,
            log_url=url,
            web_url=url,
            branch=branch,
        )
    except ValidationError as exc:
        raise BadRequest(f"build {url}: {first_error(exc)}") from exc


class JenkinsSource:
    """Jenkins Notification plugin messages, authenticated by a shared token."""

    name = SourceName.JENKINS

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Check the shared token (header first, then the `token` query parameter)."""
        given = header(headers, AUTH_HEADER) or (query or {}).get(AUTH_QUERY_PARAM)
        verify_token(given, key)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """The plugin sends no delivery id: runs are deduplicated by build."""
        return None

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent when the build is COMPLETED or FINALIZED; nothing for earlier phases."""
        message = parse_payload(JenkinsNotification, payload, "a Jenkins Notification plugin message")
        build = message.build
        if build.phase.upper() not in FINISHED_PHASES:
            return []
        if not build.full_url:
            raise BadRequest(
                "build.full_url is missing: set the Jenkins URL in Manage Jenkins > System, "
                "so notifications carry absolute build URLs"
            )
        branch = build.scm.branch if build.scm else None
        return [jenkins_run(message.name, build.full_url, build.status, branch)]
