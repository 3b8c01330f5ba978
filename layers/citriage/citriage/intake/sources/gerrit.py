"""Gerrit: events as the webhooks plugin (or a `stream-events` bridge) posts them.

The way elastic-recheck finds its work: a `comment-added` event by one of the configured CI
accounts (`GerritCiAccounts`, `zuul` by default) whose message lists job results becomes one
run per failed job, with the job's log URL. Two list styles are read:

    - tempest-full https://logs.example.org/45/912345/3/check/tempest-full/1a2b3c4/ : FAILURE in 1h 02m 03s
    - nova-lint https://logs.example.org/.../ : SUCCESS in 4m 10s (non-voting)

(Zuul's Gerrit reporter) and

    https://jenkins.example.org/job/nova-unit/231/ : FAILURE

(the Gerrit Trigger plugin of Jenkins: the build is then a Jenkins run, read through the Jenkins
layout and deduplicated with the Jenkins webhook). A passing job is the CI's own word and is not
fetched. Every other event, and a comment by anyone else, answers 202 and queues nothing.

The webhooks plugin cannot sign or add headers, so Gerrit authenticates like Jenkins: the shared
token in `X-Citriage-Token`, or a `token` query parameter on the endpoint URL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citriage.errors import BadRequest
from citriage.intake.sources.auth import header, verify_token
from citriage.intake.sources.jenkins import AUTH_HEADER, AUTH_QUERY_PARAM, jenkins_run
from citriage.intake.sources.payload import as_text, first_error, parse_payload, url_host
from citriage.models import RunEvent, SourceName, parse_time

# The result words a CI writes for a job that passed or did not run: no run is made of them.
NOT_FAILED = frozenset({"SUCCESS", "SKIPPED", "CANCELED", "CANCELLED", "ABORTED", "NOT_BUILT", "DEQUEUED"})
# A comment's lines are bounded before any pattern sees them.
MAX_COMMENT_CHARS = 256 * 1024
MAX_LINE_CHARS = 4096

_ZUUL_LINE = re.compile(r"^- (?P<job>[^\s]+) (?P<url>https?://[^\s]+) : (?P<result>[A-Z_]+)(?P<rest>.*)$")
_JENKINS_LINE = re.compile(r"^(?P<url>https?://[^\s]+) : (?P<result>[A-Z_]+)(?P<rest>.*)$")
_PIPELINE = re.compile(r"\((?P<pipeline>[\w.-]{1,64}) pipeline\)")
_JENKINS_JOB = re.compile(r"/job/(?P<name>[^/]+(?:/job/[^/]+)*)/\d+/?$")
# Zuul's build page (`report-build-page`): it is not a log tree, and a run would read nothing.
_BUILD_PAGE = re.compile(r"/t/[^/]+/build/[0-9a-f]{16,}/?$")


class GerritAccount(BaseModel):
    """Who wrote the comment."""

    model_config = ConfigDict(extra="ignore")

    username: str | None = None
    name: str | None = None
    email: str | None = None


class GerritChange(BaseModel):
    """The change the event is about."""

    model_config = ConfigDict(extra="ignore")

    project: str | None = None
    branch: str | None = None
    number: str | None = None
    url: str | None = None

    _text = field_validator("number", mode="before")(as_text)


class GerritPatchSet(BaseModel):
    """The patch set the comment is on."""

    model_config = ConfigDict(extra="ignore")

    number: str | None = None
    revision: str | None = None

    _text = field_validator("number", mode="before")(as_text)


class GerritEvent(BaseModel):
    """A Gerrit stream event (the fields citriage uses)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str = Field(min_length=1, max_length=64)
    change: GerritChange | None = None
    patch_set: GerritPatchSet | None = Field(default=None, alias="patchSet")
    author: GerritAccount | None = None
    comment: str | None = None
    event_created_on: float | None = Field(default=None, alias="eventCreatedOn")


class JobResult(BaseModel):
    """One job line of a CI's comment."""

    job: str
    url: str
    result: str
    voting: bool
    jenkins: bool = Field(default=False, description="A Gerrit Trigger line: the URL is a Jenkins build")


def job_results(comment: str) -> list[JobResult]:
    """The job lines of a CI comment, in order (Zuul's `- job url : RESULT …` and the Gerrit
    Trigger's `url : RESULT`). Lines that are not job results are ignored."""
    results = []
    for raw in comment[:MAX_COMMENT_CHARS].splitlines():
        line = raw.strip()[:MAX_LINE_CHARS]
        zuul = _ZUUL_LINE.match(line)
        match = zuul or _JENKINS_LINE.match(line)
        if not match:
            continue
        url = match.group("url")
        named = None if zuul else _JENKINS_JOB.search(urlsplit(url).path)
        if zuul:
            job = zuul.group("job")
        elif named:
            job = named.group("name").replace("/job/", "/")
        else:
            continue  # a bare URL that names no job: nothing to call the run
        results.append(
            JobResult(
                job=job,
                url=url,
                result=match.group("result"),
                voting="(non-voting)" not in match.group("rest"),
                jenkins=named is not None,
            )
        )
    return results


class GerritSource:
    """Gerrit stream events; the job results of a CI account's `comment-added` become runs."""

    name = SourceName.GERRIT

    def __init__(self, ci_accounts: Sequence[str] = ("zuul",)) -> None:
        self._accounts = frozenset(a.lower() for a in ci_accounts)

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Check the shared token (header first, then the `token` query parameter)."""
        verify_token(header(headers, AUTH_HEADER) or (query or {}).get(AUTH_QUERY_PARAM), key)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """Gerrit sends no delivery id: runs are deduplicated by their log URL."""
        return None

    def is_ci_account(self, author: GerritAccount | None) -> bool:
        """Whether the comment's author is one of the configured CI accounts (by username,
        e-mail or full name, case-insensitive)."""
        if author is None:
            return False
        names = {(v or "").lower() for v in (author.username, author.email, author.name)}
        return bool(names & self._accounts)

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent per failed job listed in a CI account's comment; none for anything else."""
        event = parse_payload(GerritEvent, payload, "a Gerrit event")
        if event.type != "comment-added" or not event.comment or not self.is_ci_account(event.author):
            return []
        change, patch_set = event.change or GerritChange(), event.patch_set or GerritPatchSet()
        failed = [r for r in job_results(event.comment) if r.result not in NOT_FAILED]
        failed = [r for r in failed if not _BUILD_PAGE.search(urlsplit(r.url).path)]
        if not failed:
            return []
        pipeline = _PIPELINE.search(event.comment[:MAX_LINE_CHARS])
        stamp = parse_time(event.event_created_on)
        # One comment is one buildset: its change, patch set, pipeline and time name it.
        fingerprint = hashlib.sha256(event.comment.encode("utf-8", "replace")).hexdigest()[:12]
        buildset = f"{change.number or '-'},{patch_set.number or '-'}:{fingerprint}"
        context = {
            "project": change.project,
            "branch": change.branch,
            "change": change.number,
            "patchset": patch_set.number,
            "change_url": change.url,
            "revision": patch_set.revision,
            "pipeline": pipeline.group("pipeline") if pipeline else None,
            "buildset_id": buildset,
            "buildset_size": len(failed),
            "end_time": stamp,
        }
        runs = []
        for result in failed:
            try:
                runs.append(_run(result, context))
            except ValidationError as exc:
                raise BadRequest(f"job {result.job}: {first_error(exc)}") from exc
        return runs


def _run(result: JobResult, context: dict[str, Any]) -> RunEvent:
    if result.jenkins:
        # The Jenkins layout reads it, under the id the Jenkins webhook and sweep give it.
        base = jenkins_run(result.job, result.url, result.result)
        return RunEvent.model_validate(base.model_dump() | context | {"voting": result.voting})
    parts = urlsplit(result.url)
    return RunEvent(
        source=SourceName.GERRIT,
        job=result.job,
        build_id=f"{url_host(parts)}/{parts.path.strip('/')}",
        result=result.result,
        log_url=result.url if result.url.endswith("/") else result.url + "/",
        voting=result.voting,
        **context,
    )
