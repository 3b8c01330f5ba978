"""Signatures read once per version: a warm analyze function reads the known-issues table whole
only when the signatures changed.

Every change through citriage (the CLI's add, import, remove; a bug-status refresh) bumps the
table's version item. Each analysis reads that one item (half a read unit) and reuses the
signatures it read before while the version is the same. A change made around citriage (an item
edited in the console) bumps nothing: the table is read whole again at the latest
`REREAD_SECONDS` after the last read, so such an edit is seen within 15 minutes, and one through
citriage by the next analysis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from citriage.models import KnownIssue
from citriage.ports import VersionedKnownIssues

REREAD_SECONDS = 15 * 60


class ReadOncePerVersion:
    """A `KnownIssues` that lists the source's signatures again only when its version moved
    (or `reread_seconds` passed); the problems of the last read are said again each time."""

    def __init__(
        self,
        source: VersionedKnownIssues,
        reread_seconds: float = REREAD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._reread = reread_seconds
        self._clock = clock
        self._version: str | None = None
        self._read_at: float | None = None
        self._issues: list[KnownIssue] = []
        self._problems: list[str] = []
        self.reads = 0

    def list(self, problems: list[str] | None = None) -> list[KnownIssue]:
        """The signatures, from the last read while the version stands."""
        version = self._source.version()
        now = self._clock()
        if self._read_at is None or version != self._version or now - self._read_at >= self._reread:
            found: list[str] = []
            self._issues = self._source.list(found)
            self._problems, self._version, self._read_at = found, version, now
            self.reads += 1
        if problems is not None:
            problems.extend(self._problems)
        return list(self._issues)
