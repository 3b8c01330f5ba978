"""S3: site files (infrastructure rules, mail templates) read by URL."""

from __future__ import annotations

from typing import Any


def read_s3_text(s3: Any, url: str, max_bytes: int = 1_048_576) -> str:
    """The UTF-8 text of an `s3://bucket/key` object (site rules), refusing one over `max_bytes`."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise ValueError(f"{url!r} is not an s3://bucket/key URL")
    bucket, key = url[5:].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes}")["Body"].read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ValueError(f"{url} is over {max_bytes} bytes")
    return str(body.decode("utf-8"))
