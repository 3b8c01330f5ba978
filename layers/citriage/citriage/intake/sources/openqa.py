"""openQA: `job.done` AMQP messages, bridged to HTTP by the site.

openQA publishes job events on AMQP (`<prefix>.openqa.job.done`); the message has `id`,
`result`, `reason`, `BUILD`, `TEST`, `ARCH`, `MACHINE`, `FLAVOR`, `DISTRI`, `VERSION`,
`group_id`, ... but not the instance's URL, so the bridge adds `openqa_url` (the instance's
base URL) and signs the raw body with HMAC-SHA256 in `X-Citriage-Signature: sha256=<hex>`.
A bridge that forwards every event may add `event` (the routing key); only `job.done` counts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from citriage.errors import BadRequest
from citriage.intake.sources.auth import CITRIAGE_SIGNATURE_HEADER, HmacSignedSource
from citriage.intake.sources.payload import as_text, first_error, parse_payload, url_host
from citriage.models import RunEvent, SourceName

SIGNATURE_HEADER = CITRIAGE_SIGNATURE_HEADER


class OpenQaJobDone(BaseModel):
    """A bridged `job.done` message."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    openqa_url: str = Field(min_length=1)
    event: str | None = None
    id: str
    result: str | None = None
    reason: str | None = None
    build: str | None = Field(default=None, validation_alias=AliasChoices("BUILD", "build"))
    test: str = Field(min_length=1, validation_alias=AliasChoices("TEST", "test"))
    arch: str | None = Field(default=None, validation_alias=AliasChoices("ARCH", "arch"))
    machine: str | None = Field(default=None, validation_alias=AliasChoices("MACHINE", "machine"))
    flavor: str | None = Field(default=None, validation_alias=AliasChoices("FLAVOR", "flavor"))
    distri: str | None = Field(default=None, validation_alias=AliasChoices("DISTRI", "distri"))
    version: str | None = Field(default=None, validation_alias=AliasChoices("VERSION", "version"))
    group_id: str | None = None

    _text = field_validator("id", "build", "version", "group_id", mode="before")(as_text)


class OpenQaSource(HmacSignedSource):
    """openQA job.done messages, HMAC-signed by the AMQP bridge."""

    name = SourceName.OPENQA

    def normalize(self, payload: Any) -> list[RunEvent]:
        """One RunEvent per job.done message (the log URL is the job's page, `/tests/<id>`)."""
        message = parse_payload(OpenQaJobDone, payload, "an openQA job.done message")
        if message.event and not message.event.endswith("job.done"):
            return []
        base = message.openqa_url.rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest("openqa_url must be the instance's absolute http(s) URL")
        if not message.id.isdigit():
            raise BadRequest("id must be an openQA job number")
        product = "-".join(p for p in (message.distri, message.version, message.flavor, message.arch) if p)
        try:
            return [
                RunEvent(
                    source=self.name,
                    job=message.test,
                    build_id=f"{url_host(parts)}/{message.id}",
                    result=message.result,
                    log_url=f"{base}/tests/{message.id}",
                    web_url=f"{base}/tests/{message.id}",
                    pipeline=f"group {message.group_id}" if message.group_id else None,
                    project=product or None,
                    # The jobs of one BUILD in one job group of one instance are a buildset;
                    # openQA's API says how many (citriage.feedback.sizes).
                    buildset_id=f"{url_host(parts)}/{message.group_id or '-'}/{message.build}"
                    if message.build
                    else None,
                )
            ]
        except ValidationError as exc:
            raise BadRequest(f"openQA job {message.id}: {first_error(exc)}") from exc
