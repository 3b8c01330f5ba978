"""Upload intake (docs/in-job.md): a job pushes its own results instead of citriage fetching them.

    POST /uploads                  the manifest -> a presigned PUT URL for the archive, a run id
    PUT  <upload_url>              the tar.gz itself, straight to S3 (exactly the declared size)
    POST /uploads/{id}/complete    the archive is there -> the run is queued (once)
    GET  /uploads/{id}             waiting, queued, or analysed with its verdict (`submit --wait`)

Each request is authenticated like the generic source: `X-Citriage-Signature` (the timestamped
HMAC of the body with the generic key; an empty body for GET), or `Authorization: Bearer` with
an API token of scope `submit` (or `admin`). An uploaded run's id is `upload:<build id>`; its
upload id is derived from it, so a retried submit reuses the same keys, and a run already
analysed is not uploaded again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from citriage import keys
from citriage.errors import BadRequest, Forbidden, IntakeInProgress, NotFound, PayloadTooLarge, Unauthorized
from citriage.intake.sources.auth import header, verify_citriage_signature
from citriage.intake.sources.payload import first_error
from citriage.intake.webhook import WebhookOutcome, enqueue_once, parse_json
from citriage.models import RunEvent, SourceName
from citriage.models.query import TokenScope
from citriage.models.upload import UploadManifest, UploadStatus, UploadTicket
from citriage.ports import Dedupe, KeySource, Queue, ReportReader, Tokens, Uploads
from citriage.query.auth import bearer, verified

# The manifest is small; the archive goes to S3, never through this function.
MAX_MANIFEST_BYTES = 64 * 1024
TICKET_SECONDS = 900


class UploadService:
    """Tickets, completions and statuses of uploads."""

    def __init__(
        self,
        keys: KeySource,
        tokens: Tokens | None,
        uploads: Uploads,
        dedupe: Dedupe,
        queue: Queue,
        reports: ReportReader,
        max_bytes: int,
    ) -> None:
        self._keys = keys
        self._tokens = tokens
        self._uploads = uploads
        self._dedupe = dedupe
        self._queue = queue
        self._reports = reports
        self._max_bytes = max_bytes

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        """A submit (or admin) token, or the generic source's timestamped HMAC of the body."""
        token = bearer(header(headers, "Authorization"))
        if token is not None:
            found = verified(token, self._tokens) if self._tokens is not None else None
            if found is None:
                raise Unauthorized("unknown or revoked token")
            if found.scope not in (TokenScope.SUBMIT, TokenScope.ADMIN):
                raise Forbidden("uploading needs a token with the submit scope")
            return
        key = self._keys.key_for(SourceName.GENERIC)
        if key is None:
            raise Unauthorized("no generic key is configured, and no token was given")
        verify_citriage_signature(headers, body, key)

    def ticket(self, headers: Mapping[str, str], body: bytes) -> UploadTicket:
        """Where to put the archive of the run a manifest describes."""
        if len(body) > MAX_MANIFEST_BYTES:
            raise PayloadTooLarge(f"the manifest is {len(body)} bytes; at most {MAX_MANIFEST_BYTES}")
        self.authenticate(headers, body)
        try:
            manifest = UploadManifest.model_validate(parse_json(body))
        except ValidationError as exc:
            raise BadRequest(f"not an upload manifest: {first_error(exc)}") from None
        if manifest.size > self._max_bytes:
            raise PayloadTooLarge(
                f"the archive is {manifest.size} bytes; uploads take at most {self._max_bytes}"
            )
        run = self._run(manifest)
        upload_id = keys.upload_id(run.run_id)
        common: dict[str, Any] = {"run_id": run.run_id, "upload_id": upload_id, "max_bytes": self._max_bytes}
        if self._reports.get_report(run.run_id) is not None:
            return UploadTicket(upload_url=None, expires_in=0, duplicate=True, **common)
        self._uploads.put_run(upload_id, run)
        url, put_headers = self._uploads.presign_archive(upload_id, manifest.size, TICKET_SECONDS)
        return UploadTicket(upload_url=url, headers=put_headers, expires_in=TICKET_SECONDS, **common)

    def complete(self, headers: Mapping[str, str], upload_id: str, body: bytes) -> WebhookOutcome:
        """Queue an upload's run once its archive is in the bucket."""
        self.authenticate(headers, body)
        run = self._known(upload_id)
        size = self._uploads.archive_size(upload_id)
        if size is None:
            raise IntakeInProgress(f"upload {upload_id}: no archive yet; PUT it to the upload URL first")
        if size > self._max_bytes:
            raise PayloadTooLarge(
                f"upload {upload_id}: the archive is {size} bytes; at most {self._max_bytes}"
            )
        queued = enqueue_once(run, self._dedupe, self._queue)
        return WebhookOutcome(
            accepted=[run.run_id] if queued else [], duplicates=[] if queued else [run.run_id]
        )

    def status(self, headers: Mapping[str, str], upload_id: str) -> UploadStatus:
        """Where an upload is."""
        self.authenticate(headers, b"")
        run = self._known(upload_id)
        report = self._reports.get_report(run.run_id)
        common: dict[str, Any] = {"run_id": run.run_id, "upload_id": upload_id}
        if report is not None:
            return UploadStatus(
                state="analysed",
                verdict=report.verdict,
                logs_read=report.logs_read,
                notes=report.notes[:20],
                **common,
            )
        state = "waiting" if self._uploads.archive_size(upload_id) is None else "queued"
        return UploadStatus(state=state, **common)

    def _known(self, upload_id: str) -> RunEvent:
        if len(upload_id) != 32 or not all(c in "0123456789abcdef" for c in upload_id):
            raise NotFound(f"no upload {upload_id!r}")
        run = self._uploads.get_run(upload_id)
        if run is None:
            raise NotFound(f"no upload {upload_id}")
        return run

    def _run(self, manifest: UploadManifest) -> RunEvent:
        links = manifest.links
        fields = manifest.model_dump(exclude={"size", "links"})
        try:
            return RunEvent.model_validate(
                fields
                | {
                    "source": SourceName.UPLOAD,
                    "log_url": self._uploads.location(
                        keys.upload_id(f"{SourceName.UPLOAD}:{manifest.build_id}")
                    ),
                    "web_url": links.get("build") or links.get("logs"),
                    "change_url": manifest.change_url or links.get("change"),
                }
            )
        except ValidationError as exc:
            raise BadRequest(f"build {manifest.build_id}: {first_error(exc)}") from None


def outcome_json(outcome: WebhookOutcome | UploadTicket | UploadStatus) -> str:
    """The answer's JSON body."""
    return json.dumps(outcome.model_dump(mode="json"))
