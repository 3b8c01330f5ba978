"""Zuul: its MQTT reporter's messages, bridged to HTTP by the site.

Zuul has no HTTP reporter; sites forward the MQTT reporter payload (one message per buildset
report) to `POST /hooks/zuul`, signed with HMAC-SHA256 of the raw body in
`X-Citriage-Signature: sha256=<hex>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citriage.errors import BadRequest
from citriage.models import RunEvent
from citriage.sources.auth import verify_hmac_sha256

SIGNATURE_HEADER = "X-Citriage-Signature"


def _text(value: object) -> object:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


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

    _as_text = field_validator("change", "patchset", mode="before")(_text)


class ZuulSource:
    """Zuul MQTT-reporter payloads, HMAC-signed by the bridge."""

    name = "zuul"

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Check the bridge's HMAC-SHA256 signature."""
        verify_hmac_sha256(headers, SIGNATURE_HEADER, body, key)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """MQTT carries no delivery id through the bridge: runs are deduplicated by build."""
        return None

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent per finished build that has a log URL."""
        try:
            message = ZuulMessage.model_validate(payload)
        except ValidationError as exc:
            raise BadRequest(f"not a Zuul reporter message: {_first_error(exc)}") from exc
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
                raise BadRequest(f"build {build.uuid}: {_first_error(exc)}") from exc
        return runs


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
