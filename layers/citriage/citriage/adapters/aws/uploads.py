"""S3: the uploads bucket (docs/in-job.md).

    uploads/<upload id>/run.json        the run the manifest described (written by citriage)
    uploads/<upload id>/archive.tar.gz  the job's archive (PUT by the job, through a presigned URL)

Every key is under the upload's own prefix; the bucket's lifecycle rule expires them.
"""

from __future__ import annotations

import tempfile
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from citriage.errors import FetchFailed
from citriage.models import RunEvent

# An archive is kept in memory up to this, then in a temporary file of the run's own.
SPOOL_BYTES = 8 * 1024 * 1024


def _prefix(upload_id: str) -> str:
    return f"uploads/{upload_id}/"


def archive_key(upload_id: str) -> str:
    """Where an upload's archive is put."""
    return f"{_prefix(upload_id)}archive.tar.gz"


class UploadStore:
    """The uploads bucket: presigned PUTs for archives, the runs they belong to, and reads."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def location(self, upload_id: str) -> str:
        """The archive's `s3://` URL (a run's log URL)."""
        return f"s3://{self._bucket}/{archive_key(upload_id)}"

    def presign_archive(self, upload_id: str, size: int, expires_in: int) -> tuple[str, dict[str, str]]:
        """A PUT URL for exactly `size` bytes of gzip at the upload's archive key, and the headers
        the PUT must send (they are signed: another length or type is refused by S3)."""
        headers = {"Content-Type": "application/gzip", "Content-Length": str(size)}
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket,
                "Key": archive_key(upload_id),
                "ContentType": headers["Content-Type"],
                "ContentLength": size,
            },
            ExpiresIn=expires_in,
        )
        return str(url), headers

    def put_run(self, upload_id: str, run: RunEvent) -> None:
        """Keep the run an upload's manifest described, until its archive is complete."""
        self._s3.put_object(
            Bucket=self._bucket,
            Key=f"{_prefix(upload_id)}run.json",
            Body=run.model_dump_json().encode("utf-8"),
            ContentType="application/json",
        )

    def get_run(self, upload_id: str) -> RunEvent | None:
        """The run of an upload, or None when there is no such upload."""
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=f"{_prefix(upload_id)}run.json")["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return RunEvent.model_validate_json(body.read(64 * 1024))

    def archive_size(self, upload_id: str) -> int | None:
        """The archive's size, or None when it has not been put."""
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=archive_key(upload_id))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def open_archive(self, upload_id: str, max_bytes: int) -> BinaryIO:
        """The archive, read whole into a spooled temporary file (FetchFailed over `max_bytes`)."""
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=archive_key(upload_id))
        except ClientError as exc:
            raise FetchFailed(
                f"{self.location(upload_id)}: {exc.response.get('Error', {}).get('Code')}"
            ) from None
        if int(response.get("ContentLength") or 0) > max_bytes:
            raise FetchFailed(f"{self.location(upload_id)}: over the {max_bytes}-byte upload cap")
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
        read = 0
        for chunk in response["Body"].iter_chunks(1024 * 1024):
            read += len(chunk)
            if read > max_bytes:
                spool.close()
                raise FetchFailed(f"{self.location(upload_id)}: over the {max_bytes}-byte upload cap")
            spool.write(chunk)
        spool.seek(0)
        return spool  # type: ignore[return-value]  # a SpooledTemporaryFile is a binary file
