"""A failure's text kept whole enough, and honestly: bounded head and tail, an explicit omission
marker, matching that never begins, ends or anchors at a cut, and the exception line found the
way each ecosystem writes it.

Readers keep up to `MAX_READ` characters of a failure's text (`bounded`); classification matches
signatures and rules over all of it, segment by segment (`matchable_segments`); the report keeps
`REPORT_HEAD` + `REPORT_TAIL` of it (`for_report`). Every cut is a marker line saying what was
left out. A cut falls at a line boundary when one is near; a line too long for that is cut inside,
and the marker says so, so that the broken line on either side of it is never matched: a `$` or a
`^` there would anchor at a place the test never printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# What a reader keeps of one failure's text: enough for any real traceback.
MAX_READ = 1024 * 1024
READ_HEAD = 64 * 1024
# What the stored report (and the mail) keeps: the start says where, the end says why.
REPORT_HEAD = 8 * 1024
REPORT_TAIL = 56 * 1024
# Captured output (stdout, stderr, logging) kept per stream in the report.
OUTPUT_HEAD = 2 * 1024
OUTPUT_TAIL = 6 * 1024
# A cut looks this far for a line boundary before cutting inside a line.
_SNAP = 4 * 1024

MARKER_PREFIX = "[citriage: "
_MARKER = re.compile(
    r"^\[citriage: (?P<lines>\d+) lines? \((?P<bytes>\d+) bytes\) omitted"
    r"(?:; cut inside the (?P<where>line above|line below|lines around it))?\]$"
)
_CUT_WHERE = {(True, False): "line above", (False, True): "line below", (True, True): "lines around it"}


def marker(lines: int, size: int, head_mid: bool, tail_mid: bool) -> str:
    """The line that stands for what a cut left out (`size` in bytes of UTF-8), saying when the
    line above it or below it is a fragment of a line the cut went through."""
    where = _CUT_WHERE.get((head_mid, tail_mid))
    inside = f"; cut inside the {where}" if where else ""
    return f"{MARKER_PREFIX}{lines} line{'s' if lines != 1 else ''} ({size} bytes) omitted{inside}]"


def _snap_back(text: str, end: int) -> tuple[int, bool]:
    """Where a head ending near `end` should end: after a newline when one is near."""
    newline = text.rfind("\n", max(0, end - _SNAP), end)
    return (newline + 1, False) if newline >= 0 else (end, True)


def _snap_forward(text: str, start: int) -> tuple[int, bool]:
    """Where a tail starting near `start` should start: after a newline when one is near."""
    newline = text.find("\n", start, start + _SNAP)
    return (newline + 1, False) if newline >= 0 and newline + 1 < len(text) else (start, True)


def cut(text: str, head: int, tail: int) -> str:
    """`text` if it fits in head + tail characters; else its head and tail around a marker line."""
    if len(text) <= head + tail:
        return text
    head_end, head_mid = _snap_back(text, head)
    tail_start, tail_mid = _snap_forward(text, len(text) - tail)
    if tail_start <= head_end:
        return text
    omitted = text[head_end:tail_start]
    kept_head = text[:head_end]
    if kept_head and not kept_head.endswith("\n"):
        kept_head += "\n"
    size = len(omitted.encode("utf-8", "replace"))
    return kept_head + marker(omitted.count("\n"), size, head_mid, tail_mid) + "\n" + text[tail_start:]


def bounded(text: str) -> str:
    """A failure's text as a reader keeps it (at most about MAX_READ characters)."""
    return cut(text, READ_HEAD, MAX_READ - READ_HEAD)


def for_report(text: str) -> str:
    """A failure's text as the report and the mail keep it."""
    return cut(text, REPORT_HEAD, REPORT_TAIL)


def for_report_output(text: str) -> str:
    """One captured-output stream as the report keeps it."""
    return cut(text, OUTPUT_HEAD, OUTPUT_TAIL)


class BoundedText:
    """A failure's text arriving in pieces (a subunit attachment): its head and tail are kept,
    about MAX_READ bytes in all, and what fell between them is counted for the marker."""

    def __init__(self, head: int = READ_HEAD, tail: int = MAX_READ - READ_HEAD) -> None:
        self._head_cap, self._tail_cap = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0
        self._dropped_lines = 0

    def add(self, data: bytes) -> None:
        """Append the next piece."""
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        self._tail += data
        if len(self._tail) > 2 * self._tail_cap:
            excess = len(self._tail) - self._tail_cap
            self._dropped += excess
            self._dropped_lines += self._tail.count(b"\n", 0, excess)
            del self._tail[:excess]

    def __len__(self) -> int:
        return len(self._head) + len(self._tail)

    def text(self) -> str:
        """The text kept, with a marker line where the middle was left out."""
        if not self._dropped:
            return bytes(self._head + self._tail).decode("utf-8", "replace")
        head = bytes(self._head).decode("utf-8", "replace")
        tail = bytes(self._tail).decode("utf-8", "replace")
        head_end, head_mid = _snap_back(head, len(head))
        tail_start, tail_mid = _snap_forward(tail, 0)
        size = self._dropped + len(head[head_end:].encode()) + len(tail[:tail_start].encode())
        lines = self._dropped_lines + head[head_end:].count("\n") + tail[:tail_start].count("\n")
        kept = head[:head_end]
        if kept and not kept.endswith("\n"):
            kept += "\n"
        return kept + marker(lines, size, head_mid, tail_mid) + "\n" + tail[tail_start:]


@dataclass(frozen=True)
class Segment:
    """A run of whole, uncut lines of a failure's text, and the line number of its first line."""

    first_line: int
    text: str


def matchable_segments(text: str) -> Iterator[Segment]:
    """The parts of `text` signatures may match: split at marker lines, without the line on either
    side of a cut inside a line (a fragment: matching it could anchor at the cut)."""
    lines = text.split("\n")
    drop: set[int] = set()
    cuts: list[int] = []
    for number, line in enumerate(lines):
        found = _MARKER.match(line) if line.startswith(MARKER_PREFIX) else None
        if found:
            cuts.append(number)
            where = found["where"] or ""
            if where in ("line above", "lines around it"):
                drop.add(number - 1)
            if where in ("line below", "lines around it"):
                drop.add(number + 1)
    start = 0
    for end in [*cuts, len(lines)]:
        kept = [(n, lines[n]) for n in range(start, end) if n not in drop]
        # A dropped fragment splits the segment too: nothing may span the gap it leaves.
        run: list[tuple[int, str]] = []
        for n, line in kept:
            if run and n != run[-1][0] + 1:
                yield Segment(run[0][0] + 1, "\n".join(x for _, x in run))
                run = []
            run.append((n, line))
        if run:
            yield Segment(run[0][0] + 1, "\n".join(x for _, x in run))
        start = end + 1


# ---- the exception line ----------------------------------------------------------------------

# A Python exception line: `ValueError: msg`, `socket.gaierror: msg`, or a bare exception name.
_PY_EXCEPTION = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*(?::(?:\s.*)?)?$")
# "Traceback (most recent call last):", or a writer's shortened "Traceback".
_PY_TRACEBACK_START = "Traceback"
_PY_TRACEBACK_FULL = "Traceback (most recent call last):"
# pytest's JUnit message for an error outside the test itself.
_PYTEST_PHASE = re.compile(r'^failed on (?:setup|teardown) with "(?P<inner>.*)"$')
# pytest's long representation: `E   AssertionError: ...` lines, then `path.py:12: AssertionError`.
_PYTEST_E = re.compile(r"^E {3}(?P<text>.*)$")
_PYTEST_WHERE = re.compile(r"^[^\s:][^:]*:\d+: (?P<exc>[A-Za-z_][\w.]*)$")


def _python_exception(lines: list[str]) -> str | None:
    """The exception after the last traceback (chained exceptions end there): the first line at
    column 0 after the traceback's last indented line (its frames), when it names an exception.
    A header may follow a writer's prefix (subunit2junitxml's `_StringException: Traceback ...`)."""
    header = max(
        (
            i
            for i, line in enumerate(lines)
            if line.startswith(_PY_TRACEBACK_START) or _PY_TRACEBACK_FULL in line
        ),
        default=None,
    )
    if header is None:
        return None
    after = lines[header + 1 :]
    last_frame = max((i for i, line in enumerate(after) if line[:1].isspace()), default=-1)
    exception = next((line.rstrip() for line in after[last_frame + 1 :] if line.strip()), None)
    return exception if exception and _PY_EXCEPTION.match(exception) else None


def _pytest_exception(lines: list[str]) -> str | None:
    """pytest's own report: the first `E` line (the exception), when a `path:line: Error` line ends it."""
    if not any(_PYTEST_WHERE.match(line) for line in lines[-3:]):
        return None
    first = next((m["text"] for line in lines if (m := _PYTEST_E.match(line))), None)
    return first.strip() if first else None


def _carries(first_line: str, given: str) -> bool:
    """Whether a text's first line is the message with its type: `Type[ ...]: message` (an XML
    attribute folds the message's own newlines into spaces, so words are compared)."""
    line, message = " ".join(first_line.split()), " ".join(given.split())
    if message in line:
        return True
    _, sep, rest = line.partition(": ")
    return bool(sep and rest) and message.startswith(rest)


def exception_line(text: str, junit_message: str | None = None) -> str:
    """The line that says what went wrong, the way the test's ecosystem writes it:

    1. a Python traceback in the text: its last exception line (unittest-xml-reporting, nose2,
       subunit's tracebacks, chained exceptions);
    2. JUnit's `message` attribute (its first line), or the text's first line when that line
       carries the message with its type (mocha's `AssertionError [ERR_ASSERTION]: ...`, Java's
       `org.opentest4j.AssertionFailedError: ...`);
    3. pytest's long form: its first `E` line;
    4. the text's first non-blank line (JavaScript, Java and Go put the message first).
    """
    lines = [line for line in text.splitlines() if not line.startswith(MARKER_PREFIX)]
    python = _python_exception(lines)
    if python:
        return python
    first_line = next((line.strip() for line in lines if line.strip()), "")
    message = (junit_message or "").strip()
    if message:
        given = message.splitlines()[0].strip()
        wrapped = _PYTEST_PHASE.match(given)
        if wrapped:
            given = wrapped["inner"]
        return first_line if given and _carries(first_line, given) else given
    return _pytest_exception(lines) or first_line
