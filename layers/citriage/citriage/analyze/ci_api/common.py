"""Pieces the CI API readers share: JSON documents, concatenated logs, tokens."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from citriage.analyze.logs.fetch import HttpLogTree
from citriage.analyze.logs.streams import CHUNK
from citriage.analyze.parsers.jenkins import read_json
from citriage.errors import FetchFailed, FetchRefused
from citriage.ports import LogTree

# CI API listings (jobs, artifacts) are small; a bigger one is refused rather than parsed.
MAX_API_JSON_BYTES = 8 * 1024 * 1024


class ApiRunTree:
    """A run read through its CI's API, as a LogTree: paths are API paths under `api`, a person
    reads the run on its web page, and the tree cannot list itself (its layout probes it)."""

    def __init__(self, api: HttpLogTree, web_url: str) -> None:
        self._api = api
        self._web_url = web_url
        self.budget = api.budget

    def listing(self, notes: list[str]) -> list[str] | None:
        """None: this tree cannot list itself (its layout lists or probes it)."""
        return None

    def url_for(self, path: str) -> str:
        """Where a person reads the run: its page on the CI."""
        return self._web_url


def get_json(tree: LogTree, path: str, notes: list[str]) -> Any | None:
    """A JSON document under the tree, or None (404, too large, not JSON: with a note)."""
    stream = tree.open(path)
    if stream is None:
        return None
    with stream:
        return read_json(stream, path.split("?", 1)[0], notes, MAX_API_JSON_BYTES)


class _ChunkStream(io.RawIOBase):
    """A readable stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        """This stream is readable."""
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # RawIOBase's buffer type is wider than we need
        """Fill `buffer` from the chunks."""
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def concatenated(parts: list[tuple[str, Callable[[], BinaryIO | None]]], notes: list[str]) -> BinaryIO:
    """One stream of several logs, each opened only when the previous one is read, under a
    `==== <name> ====` line (the console scanner reads one stream per run). A log that cannot
    be fetched is skipped with a note; the others are still read."""

    def chunks() -> Iterator[bytes]:
        """Each part's header line and bytes, in order."""
        for name, opener in parts:
            yield f"==== {name} ====\n".encode()
            try:
                stream = opener()
            except (FetchFailed, FetchRefused) as exc:
                notes.append(f"Log of {name} unavailable: {exc}")
                yield b"(log unavailable)\n"
                continue
            if stream is None:
                yield b"(log not found)\n"
                continue
            with stream:
                while data := stream.read(CHUNK):
                    yield data
            yield b"\n"

    return io.BufferedReader(_ChunkStream(chunks()), buffer_size=CHUNK)
