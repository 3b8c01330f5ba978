"""Building subunit v2 streams in tests with python-subunit's real writer."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import subunit

START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)


def subunit_stream(tests: list[tuple[str, str, str]], cut_after: int | None = None) -> bytes:
    """Bytes of a stream with (test_id, status, traceback) per test.

    status is a subunit status ('success', 'fail', 'skip') or 'inprogress' for a test that
    started and never ended. `cut_after` truncates the bytes (a killed writer).
    """
    buffer = io.BytesIO()
    writer = subunit.StreamResultToBytes(buffer)
    now = START
    for test_id, status, text in tests:
        writer.status(test_id=test_id, test_status="inprogress", timestamp=now)
        now += timedelta(seconds=1.5)
        if status == "inprogress":
            continue
        if text:
            writer.status(
                test_id=test_id,
                file_name="traceback" if status == "fail" else "reason",
                file_bytes=text.encode("utf-8"),
                mime_type="text/plain;charset=utf8",
                eof=True,
                timestamp=now,
            )
        writer.status(test_id=test_id, test_status=status, timestamp=now, test_tags={"worker-0"})
    data = buffer.getvalue()
    return data[:cut_after] if cut_after is not None else data
