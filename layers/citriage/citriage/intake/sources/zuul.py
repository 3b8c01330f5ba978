"""Zuul: its MQTT reporter's messages, bridged to HTTP by the site.

Zuul has no HTTP reporter; sites forward the MQTT reporter payload (one message per buildset
report) to `POST /hooks/zuul`, signed with HMAC-SHA256 of the raw body in
`X-Citriage-Signature: sha256=<hex>`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citriage.errors import BadRequest
from citriage.intake.sources.auth import CITRIAGE_SIGNATURE_HEADER, HmacSignedSource
from citriage.intake.sources.payload import as_text, first_error, parse_payload
from citriage.models import RunEvent

SIGNATURE_HEADER = CITRIAGE_SIGNATURE_HEADER


class ZuulBuild(BaseModel):
    """One build of a buildset, as the MQTT reporter sends it."""

    model_config = ConfigDict(extra="ignore")

    job_name: str
    uuid: str
    result: str | None = None
    log_url: str | None = None
    web_url: str | None = None
    voting: bool | None = None
    start_time: float | str | None = None
    end_time: float | str | None = None


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
    buildset: ZuulBuildset

    _as_text = field_validator("change", "patchset", mode="before")(as_text)


class ZuulSource(HmacSignedSource):
    """Zuul MQTT-reporter payloads, HMAC-signed by the bridge."""

    name = "zuul"

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent per finished build that has a log URL."""
        message = parse_payload(ZuulMessage, payload, "a Zuul reporter message")
        runs = []
        for build in message.buildset.builds:
            if not build.log_url or not build.result or build.end_time in (None, ""):
                continue
            try:
                runs.append(
                    RunEvent(
                        source=self.name,
                        job=build.job_name,
                        build_id=build.uuid,
                        result=build.result,
                        log_url=build.log_url,
                        web_url=build.web_url,
                        tenant=message.tenant,
                        pipeline=message.pipeline,
                        project=message.project,
                        branch=message.branch,
                        change=message.change,
                        patchset=message.patchset,
                        change_url=message.change_url,
                        buildset_id=message.buildset.uuid,
                        voting=build.voting,
                        start_time=build.start_time,
                        end_time=build.end_time,
                    )
                )
            except ValidationError as exc:
                raise BadRequest(f"build {build.uuid}: {first_error(exc)}") from exc
        return runs
