"""Capped, decompressed streams of log bytes: a budget per file and per run, gzip inflated under
the cap (multi-member, bombs refused), lines read without ever holding a whole file."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import BinaryIO

_inflater: ModuleType
try:
    # ISA-L's inflate: zlib's format and interface, about three times as fast.
    from isal import isal_zlib as _inflater
except ImportError:  # a platform without its wheel: zlib does the same, slower
    _inflater = zlib

CHUNK = 256 * 1024


MAX_LINE = 64 * 1024


GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class FetchBudget:
    """Bytes a run may still read, and the notes about what was skipped."""

    max_file_bytes: int
    remaining_run_bytes: int
    notes: list[str] = field(default_factory=list)
    # Requests the fetch policy refused (a host not configured, a private address): with no
    # results read, such a run was not read at all, and is never judged a pass.
    refusals: list[str] = field(default_factory=list)
    # A console over its cap is read head and tail: this much of its end.
    console_tail_bytes: int = 16 * 1024 * 1024
    # A console (a file read head-and-tail) is read whole up to this, not max_file_bytes.
    max_console_bytes: int = 1024 * 1024 * 1024
    # No file is opened after this time (time.monotonic()): the run's own deadline, from the
    # Lambda's remaining time; a download under way is cut off at it.
    run_deadline: float = float("inf")
    # Told of every chunk read (file name, bytes): the CLI's progress display.
    progress: Callable[[str, int], None] | None = None

    def note(self, sentence: str) -> None:
        """Record one plain sentence for the report's `notes`, once."""
        if sentence not in self.notes:
            self.notes.append(sentence)


# A console read head-and-tail is still streamed through to its end (gzip cannot be entered in
# the middle): at most this much, bounded in time by the per-file deadline as well.
MAX_STREAMED_BYTES = 8 * 1024 * 1024 * 1024
SKIP_MARKER_PREFIX = "[citriage: "
_SKIP_MARKER = re.compile(
    r"^\[citriage: \d+ lines? \(\d+ bytes\) skipped; the next line is line (?P<next>\d+)\]$"
)


def next_line_after(line: str) -> int | None:
    """For a head-and-tail stream's marker line, the number of the line that follows it (None:
    not a marker), so that line numbers after a skip stay the file's own."""
    found = _SKIP_MARKER.match(line) if line.startswith(SKIP_MARKER_PREFIX) else None
    return int(found["next"]) if found else None


class CappedStream(io.RawIOBase):
    """A read-only stream that stops after `limit` bytes and notes the cut.

    With `tail_bytes`, a stream over its limit is read on to its end: the bytes past the head are
    dropped but for the last `tail_bytes` of them, which follow a marker line saying how many
    lines and bytes were skipped (jobs die at the end of their logs: the end must be read).
    """

    def __init__(self, raw: Iterator[bytes], name: str, budget: FetchBudget, tail_bytes: int = 0) -> None:
        self._chunks = raw
        self._name = name
        self._budget = budget
        cap = budget.max_console_bytes if tail_bytes else budget.max_file_bytes
        self._limit = min(cap, budget.remaining_run_bytes)
        self._tail_bytes = tail_bytes
        self._read = 0
        self._newlines = 0
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        """This stream is readable."""
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # RawIOBase's buffer type is wider than we need
        """Fill `buffer` from the underlying chunks, honouring the cap."""
        if not self._pending and not self._done:
            self._pending = self._next_chunk()
        if not self._pending:
            return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next_chunk(self) -> bytes:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._done = True
            return b""
        room = self._limit - self._read
        if len(chunk) >= room:
            rest, chunk = chunk[room:], chunk[:room]
            self._done = True
            if self._tail_bytes:
                self._newlines += chunk.count(b"\n")
                ends_line = not chunk or chunk.endswith(b"\n")
                chunk += self._tail(rest, ends_line)
            else:
                self._budget.note(
                    f"{self._name}: read only the first {self._limit // (1024 * 1024)} MiB "
                    "(file or run byte cap); the rest was skipped."
                )
        elif self._tail_bytes:
            self._newlines += chunk.count(b"\n")
        self._read += len(chunk)
        self._budget.remaining_run_bytes -= len(chunk)
        if self._budget.progress is not None:
            self._budget.progress(self._name, len(chunk))
        return chunk

    def _tail(self, first: bytes, ends_line: bool) -> bytes:
        """Stream on to the end keeping the last `tail_bytes`; a marker line, then that tail."""
        window = bytearray(first)
        skipped = skipped_newlines = 0
        streamed = len(first)
        for chunk in self._chunks:
            window += chunk
            streamed += len(chunk)
            if len(window) > 2 * self._tail_bytes:
                excess = len(window) - self._tail_bytes
                skipped += excess
                skipped_newlines += window.count(b"\n", 0, excess)
                del window[:excess]
            if streamed >= MAX_STREAMED_BYTES:
                self._budget.note(f"{self._name}: stopped after {streamed >> 30} GiB; its end was not read.")
                break
        if not skipped:
            return bytes(window)
        # The tail starts at a line boundary: the broken first line counts as skipped.
        cut = window.find(b"\n") + 1
        skipped += cut
        skipped_newlines += 1 if cut else 0
        head_mib, tail_mib = self._limit // (1024 * 1024), self._tail_bytes // (1024 * 1024)
        self._budget.note(
            f"{self._name}: read the first {head_mib} MiB and the last {tail_mib} MiB; "
            f"{skipped} bytes ({skipped_newlines} lines) between them were skipped."
        )
        next_line = self._newlines + skipped_newlines + 1
        marker = (
            f"{SKIP_MARKER_PREFIX}{skipped_newlines} lines ({skipped} bytes) skipped; "
            f"the next line is line {next_line}]\n"
        ).encode()
        return (b"" if ends_line else b"\n") + marker + bytes(window[cut:])


def _inflate(chunks: Iterator[bytes], name: str, budget: FetchBudget) -> Iterator[bytes]:
    """Stream-decompress gzip chunks; a truncated or corrupt member ends the stream with a note.

    Concatenated members (as `gzip -c a b` or pigz make) are decoded one after the other,
    without ever holding more than one input chunk and one output chunk in memory.
    """
    decoder = _inflater.decompressobj(16 + zlib.MAX_WBITS)
    member_started = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if decoder.eof:
                    if not data.startswith(GZIP_MAGIC[: len(data)]):
                        if data.strip(b"\0"):
                            budget.note(f"{name}: ignored bytes after the end of the gzip data.")
                        return
                    decoder = _inflater.decompressobj(16 + zlib.MAX_WBITS)
                member_started = True
                # max_length bounds what one call may inflate, so a bomb cannot balloon memory.
                out = decoder.decompress(data, CHUNK)
                if out:
                    yield out
                data = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
    except (zlib.error, _inflater.error) as exc:
        budget.note(f"{name}: gzip data is corrupt ({exc}); kept what was read before it.")
        return
    if member_started and not decoder.eof:
        budget.note(f"{name}: gzip stream is truncated; kept what was read before the cut.")


def maybe_inflate(chunks: Iterator[bytes], name: str, budget: FetchBudget) -> Iterator[bytes]:
    """Inflate when the bytes are gzip (by magic, not by name: servers often pre-decode .gz)."""
    first = b""
    for chunk in chunks:
        first = chunk
        if chunk:
            break
    if not first:
        return iter(())
    stream = _prepend(first, chunks)
    return _inflate(stream, name, budget) if first.startswith(GZIP_MAGIC) else stream


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def iter_lines(stream: BinaryIO) -> Iterator[str]:
    """Decode a stream into lines (no newline), replacing bad UTF-8 and splitting over-long lines."""
    while True:
        raw = stream.readline(MAX_LINE)
        if not raw:
            return
        yield raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


def open_stream(chunks: Iterator[bytes], name: str, budget: FetchBudget, tail_bytes: int = 0) -> BinaryIO:
    """A buffered, capped stream of the chunks (head and tail past the cap when `tail_bytes`)."""
    return io.BufferedReader(CappedStream(chunks, name, budget, tail_bytes), buffer_size=CHUNK)
