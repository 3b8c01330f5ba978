"""subunit v2 streams (what stestr and tempest write), read with python-subunit.

A test's result is handed on as soon as its final status arrives, so what the parser holds is
the tests in progress, never the whole run.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, cast

from citriage.analyze.failure_text import BoundedText, exception_line
from citriage.models import TestResult, TestStatus

_STATUS = {
    "success": TestStatus.PASSED,
    "xfail": TestStatus.PASSED,
    "fail": TestStatus.FAILED,
    "uxsuccess": TestStatus.FAILED,
    "skip": TestStatus.SKIPPED,
}
# Attachments that are the failure's own text; the others (stdout, stderr, pythonlogging) are
# captured output, kept apart.
_FAILURE_TEXT = ("traceback", "reason")


@dataclass
class _TestRecord:
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    tags: set[str] = field(default_factory=set)
    attachments: dict[str, BoundedText] = field(default_factory=dict)
    # subunit v1 reports a test cut off by the end of the stream as an error.
    lost: bool = False


class _Collector:
    """Gathers status events per test id, and hands each test on when it ends (a testtools
    StreamResult by its methods, so that python-subunit is imported only when a stream is read)."""

    def __init__(self, emit: Callable[[TestResult], None]) -> None:
        self.emit = emit
        self.tests: dict[str, _TestRecord] = {}
        self.lost = False
        self.parser_errors: list[str] = []
        self.non_subunit_bytes = 0

    def status(
        self,
        test_id: str | None = None,
        test_status: str | None = None,
        test_tags: set[str] | None = None,
        runnable: bool = True,
        file_name: str | None = None,
        file_bytes: bytes | None = None,
        eof: bool = False,
        mime_type: str | None = None,
        route_code: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        """One subunit event."""
        if file_name == "Parser Error" or test_id == "subunit.parser":
            # python-subunit reports damage as a failing pseudo-test "subunit.parser".
            if file_bytes:
                self.parser_errors.append(bytes(file_bytes).decode("utf-8", "replace"))
            return
        if test_id is None:
            if file_bytes:
                self.non_subunit_bytes += len(file_bytes)
            return
        record = self.tests.setdefault(test_id, _TestRecord())
        if test_tags:
            record.tags.update(test_tags)
        if timestamp is not None:
            record.start = record.start or timestamp
            if test_status in _STATUS:
                record.end = timestamp
        if test_status in _STATUS:
            record.status = test_status
        if file_name and file_bytes and _V1_LOST in file_bytes:
            record.lost = True
        if file_name and file_bytes:
            record.attachments.setdefault(file_name, BoundedText()).add(bytes(file_bytes))
        if test_status in _STATUS:
            # Attachments come before the status that ends a test (testtools sends them first).
            self.emit(_result(test_id, self.tests.pop(test_id)))
            self.lost = self.lost or record.lost

    def startTestRun(self) -> None:  # testtools' method name
        """A run starts: nothing to prepare."""

    def stopTestRun(self) -> None:  # testtools' method name
        """A run ends: the tests still open are handed on by `unfinished`."""

    def unfinished(self) -> None:
        """Hand on the tests that never ended: the stream was cut off under them."""
        for test_id, record in self.tests.items():
            self.lost = self.lost or record.lost
            self.emit(_result(test_id, record))
        self.tests.clear()


_V1_LOST = b"lost connection during test"
_V1_START = re.compile(
    rb"^(?:test|testing|time|tags|progress|success|successful|failure|error|skip|xfail|uxsuccess)[: ]"
)


class _Discard(io.RawIOBase):
    """Where v1 parsing sends the bytes that are not subunit: nowhere."""

    def writable(self) -> bool:
        """Writable, and forgetful."""
        return True

    def write(self, data: object) -> int:
        """Drop the bytes."""
        return len(data) if isinstance(data, bytes | bytearray) else 0


def _looks_like_v1(stream: BinaryIO) -> bool:
    """True when the stream starts like subunit v1 (text) rather than v2 (0xB3 packets)."""
    peek = getattr(stream, "peek", None)
    head = peek(64)[:64] if peek is not None else b""
    return bool(head) and head[0] != 0xB3 and _V1_START.match(head) is not None


def _texts(record: _TestRecord) -> tuple[str, dict[str, str]]:
    """The failure's text (its traceback and reason) and its captured output, by attachment name.
    With no traceback or reason, the first output that says anything stands in for the text."""
    attached = {n: t.text().strip() for n, t in record.attachments.items()}
    attached = {n: t for n, t in attached.items() if t}
    text = "\n".join(attached.pop(n) for n in _FAILURE_TEXT if n in attached)
    if not text and attached:
        text = attached.pop(next(iter(sorted(attached))))
    return text, attached


def _result(test_id: str, record: _TestRecord) -> TestResult:
    status = _STATUS.get(record.status or "", TestStatus.INTERRUPTED)
    if record.lost:
        status = TestStatus.INTERRUPTED
    duration: float | None = None
    if record.start and record.end:
        duration = max(0.0, (record.end - record.start).total_seconds())
    text, output = _texts(record) if status is not TestStatus.PASSED else ("", {})
    failed = status in (TestStatus.FAILED, TestStatus.INTERRUPTED)
    return TestResult(
        test_id=test_id,
        status=status,
        duration=duration,
        details=text,
        message=(exception_line(text) or None) if failed and text else None,
        output=output if failed else {},
        tags=sorted(record.tags),
    )


def stream_subunit(stream: BinaryIO, name: str, notes: list[str], emit: Callable[[TestResult], None]) -> None:
    """Read a subunit stream (v2, or stestr's v1), handing each test's result to `emit` as it ends.

    Tests that started but never ended (the job was killed) come last, as INTERRUPTED. A cut or
    corrupt stream keeps every test recorded before the damage and adds a note.
    """
    # python-subunit and testtools take 26 ms to import: only a run with a stream pays for them.
    import subunit  # noqa: PLC0415  # lazily, see above
    import testtools  # noqa: PLC0415  # lazily, see above

    collector = _Collector(emit)
    collector.startTestRun()
    try:
        if _looks_like_v1(stream):
            # stestr's repository files are subunit v1: convert events on the fly.
            v1 = subunit.ProtocolTestCase(stream, passthrough=_Discard())
            v1.run(testtools.ExtendedToStreamDecorator(cast("testtools.StreamResult", collector)))
        else:
            subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout").run(collector)
    except Exception as exc:  # a hostile stream must not lose what was already read
        notes.append(f"{name}: subunit stream could not be read to the end ({type(exc).__name__}).")
    collector.stopTestRun()
    collector.unfinished()
    if collector.parser_errors:
        notes.append(
            f"{name}: subunit stream is damaged or truncated ({collector.parser_errors[0][:120]}); "
            "kept the tests recorded before it."
        )
    if collector.lost:
        notes.append(f"{name}: subunit v1 stream ends in the middle of a test; kept what came before.")
    if collector.non_subunit_bytes:
        notes.append(f"{name}: skipped {collector.non_subunit_bytes} bytes that are not subunit v2.")
