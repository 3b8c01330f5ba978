"""Matching known-issue signatures and infrastructure rules against text and log lines.

Patterns are user input, so they run on RE2 (linear time, no backtracking): a signature
cannot hang the analyzer whatever it says.

The engine compiles every pattern of a set into one RE2 `Set` (a single automaton that says
*which* patterns match a text). Log lines are buffered into blocks of about 256 KB; the Set
runs once over each block, and lines, excerpts and capture groups are located only for the
signatures it reports. The cost therefore grows with the size of the logs, not with the
number of signatures. Compiled matchers are cached per process (warm Lambda invocations reuse
them) under a fingerprint of the patterns, so a changed signature gives a new matcher.

Matching rules:
- a signature matches within one line (`^` and `$` are line anchors, and nothing in it can
  match a newline), unless it is `multiline`: then it may span up to `MULTILINE_WINDOW` lines;
- each signature keeps at most `LineScanner.max_hits_per_item` hits per file, and the work per
  block is bounded, so a noisy signature cannot make a file expensive.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any, BinaryIO, Generic

from citriage.analyze.matching.compiled import Hit, ItemT, captures_of, excerpt_of, matcher_for
from citriage.models import glob_match

# About this many bytes of log go through the Set per call: large enough that the per-call
# overhead vanishes, small enough that locating a hit inside a block stays cheap.
BLOCK_BYTES = 256 * 1024
# A multiline signature matches when its match starts within this many lines of its end.
MULTILINE_WINDOW = 20


class _Block:
    """A block of log lines as bytes, with lazily computed line offsets."""

    def __init__(self, data: bytes, first_line: int) -> None:
        self.data = data
        self.first_line = first_line
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        """Byte offset where each line of the block starts."""
        if self._starts is None:
            starts = [0]
            find = self.data.find
            pos = find(b"\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find(b"\n", pos + 1)
            self._starts = starts
        return self._starts

    def line_index(self, offset: int) -> int:
        """0-based index of the line holding byte `offset`."""
        return bisect.bisect_right(self.starts, offset) - 1

    def line_end(self, index: int) -> int:
        """Byte offset just past line `index` (before its newline)."""
        starts = self.starts
        return starts[index + 1] - 1 if index + 1 < len(starts) else len(self.data)

    def line_text(self, index: int) -> str:
        """Line `index`, decoded."""
        return self.data[self.starts[index] : self.line_end(index)].decode("utf-8", "replace")


class PatternSet(Generic[ItemT]):
    """A compiled set of signatures or rules, searched over texts and streamed log lines.

    Views made by `for_job` or `scanner` share the compiled matcher and only filter its answers.
    """

    def __init__(self, items: Iterable[ItemT]) -> None:
        # Items without a pattern (an infrastructure rule that only names CI result words)
        # take no part in matching.
        self._all: list[ItemT] = sorted((item for item in items if item.pattern), key=lambda item: item.id)
        self._matcher = matcher_for([(item.pattern or "", _is_multiline(item)) for item in self._all])
        self._allowed: frozenset[int] | None = None

    def _view(self, allowed: Iterable[int]) -> PatternSet[ItemT]:
        view = self.__class__.__new__(self.__class__)
        view.__dict__.update(self.__dict__)
        view._allowed = frozenset(allowed)
        return view

    def _indices(self) -> list[int]:
        if self._allowed is None:
            return list(range(len(self._all)))
        return sorted(self._allowed)

    def __len__(self) -> int:
        return len(self._all) if self._allowed is None else len(self._allowed)

    @property
    def items(self) -> list[ItemT]:
        """The signatures or rules in the set (or in this view of it)."""
        return [self._all[i] for i in self._indices()]

    def search_text(self, text: str, file: str | None = None) -> list[Hit[ItemT]]:
        """Every item that matches somewhere in `text` (a traceback), with its first matching line.

        Hits come in the order of the items (sorted by id), so the first is deterministic.
        """
        scanner = LineScanner(file, self, max_hits_per_item=1)
        scanner.feed_block(text.encode("utf-8", "replace"), 1)
        # Items are sorted by id, so the id orders the hits the same way.
        return sorted(scanner.hits, key=lambda hit: hit.item.id)

    def scanner(self, file: str) -> LineScanner[ItemT]:
        """A scanner for the lines of one log file (only items whose `files` scope admits it)."""
        items = self._all
        indices = [i for i in self._indices() if not items[i].files or glob_match(file, items[i].files)]
        return LineScanner(file, self._view(indices))


def _is_multiline(item: object) -> bool:
    return bool(getattr(item, "multiline", False))


class LineScanner(Generic[ItemT]):
    """Scans one log file's lines, fed one by one or as blocks; keeps each item's first few hits.

    Lines fed one at a time are buffered into blocks; `hits` (or `close()`) flushes the buffer.
    """

    max_hits_per_item = 3

    def __init__(
        self, file: str | None, patterns: PatternSet[ItemT], max_hits_per_item: int | None = None
    ) -> None:
        self.file = file
        self._items = patterns._all
        self._matcher = patterns._matcher
        self._allowed = patterns._allowed
        if max_hits_per_item is not None:
            self.max_hits_per_item = max_hits_per_item
        self._hits: list[Hit[ItemT]] = []
        self._counts: dict[int, int] = {}
        self._saturated: set[int] = set()
        self._open = len(self._items) if self._allowed is None else len(self._allowed)
        self._seen_multiline: set[tuple[int, int]] = set()
        self._lines: list[str] = []
        self._buffered = 0
        self._first = 1
        self._next = 1
        # The last lines of the previous block, so a multiline match may cross blocks.
        self._tail = b""
        self._tail_first = 1
        self._tail_next = 1
        self.notes: list[str] = []
        self.bytes_scanned = 0

    @property
    def hits(self) -> list[Hit[ItemT]]:
        """Every hit so far, in line order (flushes buffered lines first)."""
        self.close()
        return self._hits

    def feed(self, number: int, line: str) -> None:
        """Take one line (1-based `number`); lines are matched a block at a time."""
        if number != self._next and self._lines:
            self._flush()
        if not self._lines:
            self._first = number
        self._lines.append(line)
        self._buffered += len(line) + 1
        self._next = number + 1
        if self._buffered >= BLOCK_BYTES:
            self._flush()

    def close(self) -> None:
        """Match whatever is still buffered."""
        if self._lines:
            self._flush()

    def _flush(self) -> None:
        lines, self._lines, self._buffered = self._lines, [], 0
        data = "\n".join(lines).encode("utf-8", "replace")
        if data.count(b"\n") != len(lines) - 1:
            # A fed "line" held a newline: keep the numbering right by flattening it.
            data = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8", "replace")
        self.feed_block(data, self._first)

    def feed_block(self, data: bytes, first_line: int, candidates: Iterable[int] | None = None) -> None:
        """Match a block of whole lines (joined by newlines; `first_line` is the first one's number).

        `candidates`, when given, are the only items that may match it (a wider set said so, by
        the items' indices in the set): they are located without running the set again.
        """
        self.bytes_scanned += len(data)
        if self._open == 0:
            return
        block = _Block(data, first_line)
        if candidates is not None:
            found, complete = set(candidates), True
        else:
            found, complete = self._matcher.which(data, multiline=False)
        if not complete:
            self._note_incomplete()
        new_hits: list[tuple[int, int, Hit[ItemT]]] = []
        for index in self._wanted(found):
            new_hits.extend(self._locate_single(block, index))
        if self._matcher.has_multiline:
            new_hits.extend(self._scan_multiline(block))
        new_hits.sort(key=lambda entry: (entry[0], entry[1]))
        self._hits.extend(hit for _, _, hit in new_hits)

    def scan_stream(self, stream: BinaryIO, first_line: int = 1) -> None:
        """Scan a whole (decompressed) file stream, a block at a time, without splitting it into str lines.

        Carriage returns before newlines are dropped; a block with no newline for 4 blocks' worth
        of bytes is cut there (an over-long line counts as several).
        """
        pending = b""
        line = first_line
        while True:
            chunk = stream.read(BLOCK_BYTES)
            if not chunk:
                break
            pending += chunk
            cut = pending.rfind(b"\n")
            if cut == -1:
                if len(pending) < 4 * BLOCK_BYTES:
                    continue
                data, pending = pending, b""
            else:
                # Cut after the newline, so a CR before it goes with it.
                data = pending[: cut + 1].replace(b"\r\n", b"\n")[:-1]
                pending = pending[cut + 1 :]
            self.feed_block(data, line)
            line += data.count(b"\n") + 1
        if pending:
            self.feed_block(pending.replace(b"\r\n", b"\n").rstrip(b"\r"), line)

    def _wanted(self, found: Iterable[int]) -> list[int]:
        """The reported items that this scanner may use and that still want hits, in order."""
        allowed, full = self._allowed, self._saturated
        return sorted(i for i in found if (allowed is None or i in allowed) and i not in full)

    def _note_incomplete(self) -> None:
        note = (
            f"The combined signature matcher ran out of memory on {self.file or 'a text'}; "
            "signatures were matched one by one there instead."
        )
        if note not in self.notes:
            self.notes.append(note)

    def _hit(self, index: int, block: _Block, line_index: int, match: Any) -> tuple[int, int, Hit[ItemT]]:
        self._counts[index] = count = self._counts.get(index, 0) + 1
        if count >= self.max_hits_per_item:
            self._saturated.add(index)
            self._open -= 1
        number = block.first_line + line_index
        hit = Hit(
            self._items[index],
            self.file,
            number,
            excerpt_of(block.line_text(line_index)),
            captures_of(match, self._matcher.names[index]),
        )
        return number, index, hit

    def _locate_single(self, block: _Block, index: int) -> list[tuple[int, int, Hit[ItemT]]]:
        regex = self._matcher.regexes[index]
        found = []
        pos = 0
        while self._counts.get(index, 0) < self.max_hits_per_item:
            match = regex.search(block.data, pos)
            if match is None:
                break
            line_index = block.line_index(match.start())
            found.append(self._hit(index, block, line_index, match))
            pos = block.line_end(line_index) + 1
            if pos >= len(block.data):
                break
        return found

    def _scan_multiline(self, block: _Block) -> list[tuple[int, int, Hit[ItemT]]]:
        # Search the previous block's last lines and this block together, so a match that
        # crosses the boundary is found; then keep this block's last lines for the next one.
        if self._tail and self._tail_next == block.first_line:
            joined = _Block(self._tail + block.data, self._tail_first)
        else:
            joined = block
        starts = joined.starts
        keep = max(0, len(starts) - (MULTILINE_WINDOW - 1))
        self._tail = joined.data[starts[keep] :] + b"\n"
        self._tail_first = joined.first_line + keep
        self._tail_next = joined.first_line + len(starts)
        found, complete = self._matcher.which(joined.data, multiline=True)
        if not complete:
            self._note_incomplete()
        wanted = self._wanted(found)
        if not wanted:
            return []
        # Windows of 2W lines, every W lines: a match spanning at most W lines lies wholly
        # inside one of them, and each line is searched at most twice (linear).
        hits: list[tuple[int, int, Hit[ItemT]]] = []
        total = len(starts)
        for first in range(0, total, MULTILINE_WINDOW):
            last = min(first + 2 * MULTILINE_WINDOW, total)
            end = joined.line_end(last - 1)
            in_window, _ = self._matcher.which(joined.data[starts[first] : end], multiline=True)
            for index in wanted:
                if index not in in_window:
                    continue
                # Every match in the window, not only its first: a second one a few lines after
                # another (seen in the window before) must not depend on where a block began.
                pos = starts[first]
                while index not in self._saturated:
                    match = self._matcher.regexes[index].search(joined.data, pos, end)
                    if match is None:
                        break
                    line_index = joined.line_index(match.start())
                    pos = joined.line_end(line_index) + 1
                    key = (index, joined.first_line + line_index)
                    if key not in self._seen_multiline:
                        self._seen_multiline.add(key)
                        hits.append(self._hit(index, joined, line_index, match))
            if last == total:
                break
        return hits
