"""Zuul: its MQTT reporter's messages, bridged to HTTP by the site.

Zuul has no HTTP reporter; sites forward the MQTT reporter payload (one message per buildset
report) to `POST /hooks/zuul`, signed with HMAC-SHA256 of the raw body in
`X-Citriage-Signature: sha256=<hex>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citriage.errors import BadRequest
from citriage.intake.sources.auth import CITRIAGE_SIGNATURE_HEADER, HmacSignedSource
from citriage.intake.sources.payload import as_text, first_error, parse_payload
from citriage.models import RunEvent, SourceName, parse_time

SIGNATURE_HEADER = CITRIAGE_SIGNATURE_HEADER


class ZuulRef(BaseModel):
    """The `ref` object of an API build (Zuul 10+); older Zuul has these fields on the build."""

    model_config = ConfigDict(extra="ignore")

    project: str | None = None
    branch: str | None = None
    change: str | None = None
    patchset: str | None = None
    ref_url: str | None = None

    _text = field_validator("change", "patchset", mode="before")(as_text)


class ZuulBuild(BaseModel):
    """One Zuul build: in a buildset of the MQTT reporter's message, or listed by the builds API
    (`/api/tenant/{tenant}/builds`), which also carries the build's project, change and pipeline.
    Times may be epoch seconds or ISO strings; a time without a zone is UTC (Zuul writes UTC)."""

    model_config = ConfigDict(extra="ignore")

    job_name: str
    uuid: str
    result: str | None = None
    log_url: str | None = None
    web_url: str | None = None
    voting: bool | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    # The builds API's own context; the reporter gives it on the message instead.
    pipeline: str | None = None
    project: str | None = None
    branch: str | None = None
    change: str | None = None
    patchset: str | None = None
    ref_url: str | None = None
    ref: ZuulRef | str | None = None
    buildset: dict[str, Any] | None = None

    _text = field_validator("change", "patchset", mode="before")(as_text)
    _times = field_validator("start_time", "end_time", mode="before")(parse_time)

    @property
    def finished(self) -> bool:
        """Whether the build ended with a result and logs to read."""
        return bool(self.log_url and self.result and self.end_time)

    def run_event(self, tenant: str | None, context: ZuulRef | None = None, **extra: Any) -> RunEvent:
        """The RunEvent of this build. `context` (project, branch, change) comes from the reporter's
        message; without it, the build's own `ref` (or its older flat fields) is used. `extra`
        sets RunEvent fields the caller knows better (web_url, pipeline, buildset_id)."""
        ref = context or (self.ref if isinstance(self.ref, ZuulRef) else ZuulRef())
        fields: dict[str, Any] = {
            "source": "zuul",
            "job": self.job_name,
            "build_id": self.uuid,
            "result": self.result,
            "log_url": self.log_url or "",
            "web_url": self.web_url,
            "tenant": tenant,
            "pipeline": self.pipeline,
            "project": ref.project or self.project,
            "branch": ref.branch or self.branch,
            "change": ref.change or self.change,
            "patchset": ref.patchset or self.patchset,
            "change_url": ref.ref_url or self.ref_url,
            "buildset_id": str(self.buildset["uuid"])
            if self.buildset and self.buildset.get("uuid")
            else None,
            "voting": self.voting,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }
        return RunEvent.model_validate(fields | extra)


class ZuulBuildset(BaseModel):
    """The buildset part of the message."""

    model_config = ConfigDict(extra="ignore")

    uuid: str | None = None
    result: str | None = None
    builds: list[ZuulBuild] = Field(default_factory=list)


class ZuulMessage(BaseModel):
    """The MQTT reporter message (the fields citriage uses)."""

    model_config = ConfigDict(extra="ignore")

    action: str | None = None
    tenant: str | None = None
    pipeline: str | None = None
    project: str | None = None
    branch: str | None = None
    change_url: str | None = None
    change: str | None = None
    patchset: str | None = None
    commit_id: str | None = None
    buildset: ZuulBuildset

    _as_text = field_validator("change", "patchset", mode="before")(as_text)


class ZuulSource(HmacSignedSource):
    """Zuul MQTT-reporter payloads, HMAC-signed by the bridge."""

    name = SourceName.ZUUL

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent per finished build that has a log URL."""
        message = parse_payload(ZuulMessage, payload, "a Zuul reporter message")
        runs = []
        context = ZuulRef(
            project=message.project,
            branch=message.branch,
            change=message.change,
            patchset=message.patchset,
            ref_url=message.change_url,
        )
        finished = [build for build in message.buildset.builds if build.finished]
        for build in finished:
            try:
                runs.append(
                    build.run_event(
                        message.tenant,
                        context,
                        pipeline=message.pipeline,
                        buildset_id=message.buildset.uuid,
                        revision=message.commit_id,
                        # Its finished builds complete the buildset (a skipped one has no logs).
                        buildset_size=len(finished) if message.buildset.uuid else None,
                    )
                )
            except ValidationError as exc:
                raise BadRequest(f"build {build.uuid}: {first_error(exc)}") from exc
        return runs
