"""Uploads (docs/in-job.md): a job pushes its own results with `citriage submit`, so citriage needs
no way to reach its log server."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from citriage.models.report import Verdict


class UploadManifest(BaseModel):
    """What `POST /uploads` is told about a finished job and the archive it will send."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(min_length=1, max_length=256)
    build_id: str = Field(min_length=1, max_length=256, description="Unique among the uploads' builds")
    result: str | None = Field(default=None, max_length=64, description="The CI's word, e.g. FAILURE")
    size: int = Field(gt=0, description="The archive's size in bytes (the upload must be exactly this)")
    project: str | None = None
    branch: str | None = None
    pipeline: str | None = None
    change: str | None = None
    patchset: str | None = None
    change_url: str | None = None
    voting: bool | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    links: dict[str, str] = Field(
        default_factory=dict,
        max_length=20,
        description="Named links (build, logs, change) shown with the run",
    )


class UploadTicket(BaseModel):
    """The answer to `POST /uploads`: where to PUT the archive, then `POST .../complete`."""

    run_id: str
    upload_id: str
    upload_url: str | None = Field(description="A presigned S3 PUT URL; None when the run was taken already")
    headers: dict[str, str] = Field(default_factory=dict, description="Headers the PUT must send as given")
    expires_in: int = Field(description="Seconds the URL stays valid")
    max_bytes: int
    duplicate: bool = Field(default=False, description="The run was queued before: nothing more to send")


class UploadStatus(BaseModel):
    """Where an upload is: waiting for its archive, queued, or analysed (with its verdict)."""

    run_id: str
    upload_id: str
    state: Literal["waiting", "queued", "analysed"]
    verdict: Verdict | None = None
    logs_read: bool | None = None
    notes: list[str] = Field(default_factory=list)
