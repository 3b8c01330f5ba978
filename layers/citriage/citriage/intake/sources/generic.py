"""Any CI: a documented JSON shape, HMAC-signed, so one `curl` in a post-build step reports a build.

    {"job": "nightly-integration", "build_id": "ci.example.org/nightly/1234",
     "result": "FAILURE", "log_url": "https://logs.example.org/nightly/1234/",
     "links": {"build": "https://ci.example.org/nightly/1234", "change": "https://..."},
     "project": "example/app", "branch": "main", "pipeline": "periodic",
     "start_time": "2026-11-20T10:00:00Z", "end_time": 1795168800}

Required: `job`, `build_id` (unique across everything reported as generic), `result` (the CI's
word; SUCCESS/PASSED mean passed) and `log_url` (a log tree laid out like Zuul's: results in
`testrepository.subunit`, console in `job-output.txt`). Signed like Zuul's bridge:
`X-Citriage-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. docs/sources.md shows the curl.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citriage.errors import BadRequest
from citriage.intake.sources.auth import CITRIAGE_SIGNATURE_HEADER, HmacSignedSource
from citriage.intake.sources.payload import as_text, first_error, parse_payload
from citriage.models import RunEvent, SourceName

SIGNATURE_HEADER = CITRIAGE_SIGNATURE_HEADER


class GenericLinks(BaseModel):
    """Where a person can see the build and the change it tested."""

    model_config = ConfigDict(extra="ignore")

    build: str | None = None
    change: str | None = None


class GenericBuild(BaseModel):
    """The generic build report."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(min_length=1, max_length=256)
    build_id: str = Field(min_length=1, max_length=256)
    result: str = Field(min_length=1, max_length=64)
    log_url: str = Field(min_length=1, max_length=2048)
    links: GenericLinks = Field(default_factory=GenericLinks)
    project: str | None = None
    branch: str | None = None
    pipeline: str | None = None
    change: str | None = None
    start_time: datetime | float | str | None = None
    end_time: datetime | float | str | None = None

    _text = field_validator("build_id", "change", mode="before")(as_text)


class GenericSource(HmacSignedSource):
    """The documented generic shape, HMAC-signed."""

    name = SourceName.GENERIC

    def normalize(self, payload: Any) -> list[RunEvent]:
        """Exactly one RunEvent: a generic report is sent when the build has finished."""
        build = parse_payload(GenericBuild, payload, "a generic build report")
        try:
            return [
                RunEvent(
                    source=self.name,
                    job=build.job,
                    build_id=build.build_id,
                    result=build.result,
                    log_url=build.log_url,
                    web_url=build.links.build,
                    change_url=build.links.change,
                    project=build.project,
                    branch=build.branch,
                    pipeline=build.pipeline,
                    change=build.change,
                    start_time=build.start_time,
                    end_time=build.end_time,
                )
            ]
        except ValidationError as exc:
            raise BadRequest(f"build {build.build_id}: {first_error(exc)}") from exc
