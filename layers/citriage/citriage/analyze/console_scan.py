"""The one pass over a run's console: known-issue signatures, infrastructure rules, the job's own
error lines, and (when no result file was found) tempest's results.

The console is read a block of about `CONSOLE_BLOCK` bytes at a time, never line by line, into
the lines `iter_lines` would give (bad UTF-8 replaced, trailing carriage returns dropped, lines
over MAX_LINE split, a head-and-tail read's marker followed). A gate, one RE2 Set over the raw
bytes (each pattern's `^` tolerant of Zuul's columns, plus the error-line pattern), says which
signatures and rules may hit the block and whether it may hold an error line: a block where
nothing may is not decoded at all. The others are decoded once, one regex substitution drops
Zuul's timestamp and host columns from the whole block, the items the gate named are located
with their exact patterns (signatures and rules together: a Set costs per byte), and substring
searches find the few lines that may be error lines before the error-line pattern decides on
each. What it finds is what a line-by-line pass finds, line for line
(tests/unit/analyze/test_console_scan.py compares the two).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from citriage.analyze.logs.streams import MAX_LINE, SKIP_MARKER_PREFIX, iter_lines, next_line_after
from citriage.analyze.matching.compiled import Hit, Matcher, excerpt_of, matcher_for, pattern_pieces
from citriage.analyze.matching.engine import PatternSet
from citriage.analyze.matching.infra_rules import InfraRuleSet, service_of
from citriage.analyze.parsers.console import ZUUL_COLUMNS, is_summary_start, parse_tempest_console
from citriage.errors import InvalidSignature
from citriage.known_issues.signatures import SignatureSet
from citriage.models import Evidence, InfraFinding, InfraRule, KnownIssue, TestResult

# Lines that say where a job broke, used as evidence when no test explains a failed build.
_ERROR_LINE = re.compile(r"fatal: \[[^\]]*\]: FAILED!|\bstack\.sh failed\b|^ERROR\b|^Error: ")
MAX_ERROR_LINES = 3
# Substrings one of which every error line holds (at its start, for the last two).
_ERROR_ANYWHERE = ("FAILED!", "stack.sh failed")
_ERROR_AT_START = ("ERROR", "Error: ")

# About this many bytes of console are worked on at once.
CONSOLE_BLOCK = 1 << 20
# Zuul's timestamp and host columns after each newline of a block ("2026-11-20 10:00:01.123456 |
# controller | "), as parsers.console.strip_console_prefix drops them from a line. Searched from
# the newline: a pattern that starts with a literal is found far faster than one with `^`.
_ZUUL_COLUMNS = re.compile("\n" + ZUUL_COLUMNS)
_CARRIAGE_RETURNS = re.compile(rb"\r+\n")
_MARKER = SKIP_MARKER_PREFIX.encode()


def strip_columns(block: str) -> str:
    """A block of lines without Zuul's columns (each line as strip_console_prefix leaves it)."""
    return _ZUUL_COLUMNS.sub("\n", "\n" + block)[1:]


def line_blocks(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """The stream's lines exactly as `iter_lines` gives them (once decoded), joined by newlines a
    block at a time, each block with the number of its first line (a head-and-tail read's marker
    is followed, not given)."""
    number = 1
    pending = b""
    while chunk := stream.read(CONSOLE_BLOCK):
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        if not cut:
            # No line ends here: what a line reader would have cut at MAX_LINE goes on now.
            whole = len(data) - len(data) % MAX_LINE
            data, pending = data[:whole], data[whole:]
        else:
            data, pending = data[:cut], data[cut:]
        for first, lines, count in _parts(data, number):
            number = first + count
            if lines is not None:
                yield first, lines
    if pending:
        for first, lines, _ in _parts(pending, number):
            if lines is not None:
                yield first, lines


# (first line number, the lines joined, how many); no lines: only where numbering goes on.
_Part = tuple[int, bytes | None, int]


def _may_hold_a_long_line(data: bytes) -> bool:
    """Whether a line of MAX_LINE bytes or more may be in `data`: one holds a whole half-window."""
    half = MAX_LINE // 2
    return any(data.find(b"\n", start, start + half) == -1 for start in range(0, len(data), half))


def _parts(data: bytes, number: int) -> Iterator[_Part]:
    """Whole lines of bytes as parts."""
    if not data:
        return
    if _MARKER in data or (_may_hold_a_long_line(data) and max(map(len, data.split(b"\n"))) >= MAX_LINE):
        # Rare (a marker, an over-long line): the line reader's own way, line by line.
        yield from _line_by_line(data, number)
        return
    if b"\r" in data:
        data = _CARRIAGE_RETURNS.sub(b"\n", data)
    data = data[:-1] if data.endswith(b"\n") else data.rstrip(b"\r")
    yield number, data, data.count(b"\n") + 1


def _line_by_line(data: bytes, number: int) -> Iterator[_Part]:
    lines: list[str] = []
    first = number
    for line in iter_lines(io.BytesIO(data)):
        jump = next_line_after(line)
        if jump is None:
            lines.append(line)
            number += 1
            continue
        if lines:
            yield first, "\n".join(lines).encode(), len(lines)
        lines, first, number = [], jump, jump
    if lines:
        yield first, "\n".join(lines).encode(), len(lines)
    else:
        # Ended on a marker: the next part starts at the line it named.
        yield number, None, 0


def _error_line_starts(text: str) -> list[int]:
    """Where the lines of `text` that may be error lines start, in order (a superset)."""
    starts: set[int] = set()
    for word in _ERROR_ANYWHERE:
        pos = text.find(word)
        while pos != -1:
            start = text.rfind("\n", 0, pos) + 1
            starts.add(start)
            end = text.find("\n", pos)
            pos = -1 if end == -1 else text.find(word, end)
    for word in _ERROR_AT_START:
        starts.update(_line_starts(text, word))
    return sorted(starts)


def _line_starts(text: str, word: str) -> Iterator[int]:
    """Where the lines of `text` that start with `word` start, in order."""
    if text.startswith(word):
        yield 0
    pos = text.find("\n" + word)
    while pos != -1:
        yield pos + 1
        pos = text.find("\n" + word, pos + 1)


def _line_at(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start:] if end == -1 else text[start:end]


# Zuul's columns in RE2 syntax, for patterns to tolerate them before a line (Python's \d in a
# str pattern is any Unicode digit: \p{Nd} in RE2).
_COLUMNS_RE2 = "(?:" + ZUUL_COLUMNS.replace(r"\d", r"\p{Nd}") + ")?"


def tolerant(pattern: str) -> str | None:
    """A pattern that matches a line with Zuul's columns wherever `pattern` matches it without
    them: each `^` outside a character class may be followed by the columns (what is not
    anchored finds its text after them anyway; `\\A` and `\\z` are refused in signatures).
    None when the pattern cannot be read so (quoted text with `\\Q`)."""
    pieces = [piece for _, piece in pattern_pieces(pattern)]
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if piece == "\\Q":
            return None
        out.append(piece)
        if piece == "^":
            anchor = _anchor_columns(pieces[index + 1] if index + 1 < len(pieces) else "")
            if anchor is None:
                return None
            out.append(anchor)
    return "".join(out)


def _anchor_columns(following: str) -> str | None:
    """What goes after an anchor followed by `following`: the columns; nothing when the anchor is
    made optional (`^?`, `^*` match with or without it); None when it is repeated (`^+`, `^{2}`)."""
    if following in ("?", "*"):
        return ""
    if following in ("+", "{"):
        return None
    return _COLUMNS_RE2


def _gate_for(items: list[KnownIssue | InfraRule]) -> Matcher | None:
    """One RE2 set, over raw lines, that says which items may hit a block and whether it may
    hold an error line (its last pattern), a superset of what the exact set says on the block
    without Zuul's columns; None when some pattern spans lines or cannot be made tolerant (every
    block is then decoded, stripped and scanned by the exact set)."""
    if any(getattr(item, "multiline", False) or not item.pattern for item in items):
        return None
    # The last pattern: the error-line pattern, tolerant like the others.
    rewritten = [tolerant(item.pattern or "") for item in items] + [tolerant(_ERROR_LINE.pattern)]
    if any(pattern is None for pattern in rewritten):
        return None
    try:
        return matcher_for([(pattern or "", False) for pattern in rewritten], sets_only=True)
    except InvalidSignature:
        return None


class _ConsoleScan:
    """One pass over the console: signature and rule hits, and the job's own error lines."""

    def __init__(self, name: str, signatures: SignatureSet, rules: InfraRuleSet) -> None:
        # One Set for both: the signatures in scope for the job, and the rules.
        both: PatternSet[KnownIssue | InfraRule] = PatternSet([*signatures.items, *rules.items])
        self.scanner = both.scanner(name)
        # Gate index i is the set's item i; the last one is the error-line pattern.
        self._gate = _gate_for(both.items)
        self._error_index = len(both.items)
        self.name = name
        self.error_lines: list[Evidence] = []
        self._summary_seen = False

    def blocks(self, stream: BinaryIO, want_lines: bool) -> Iterator[list[str]]:
        """Scan the console a block at a time; yield each block's lines without Zuul's columns
        when `want_lines` (a parser reads them), else nothing per block."""
        for first, data in line_blocks(stream):
            yield self._block(data, first, want_lines)

    def _block(self, data: bytes, first: int, want_lines: bool) -> list[str]:
        candidates: set[int] | None = None
        errors = True
        if not want_lines and self._gate is not None:
            found, complete = self._gate.which(data, multiline=False)
            if complete:
                if not found:
                    # Nothing in it could hit, nor be an error line: no need to decode it.
                    return []
                errors = self._error_index in found
                candidates = found - {self._error_index}
        text = strip_columns(data.decode("utf-8", "replace"))
        self.scanner.feed_block(text.encode("utf-8", "replace"), first, candidates)
        if errors:
            self._find_error_lines(text, first)
        return self._parser_lines(text) if want_lines else []

    def _parser_lines(self, text: str) -> list[str]:
        """The lines the tempest parser needs: until its failure summary starts, only result
        lines (`{0} test ... ok`; the parser passes over the others there), then every line."""
        if self._summary_seen:
            return text.split("\n")
        summary = next(
            (start for start in _line_starts(text, "Failed ") if is_summary_start(_line_at(text, start))),
            None,
        )
        before = text if summary is None else text[:summary]
        lines = [_line_at(before, start) for start in _line_starts(before, "{")]
        if summary is not None:
            self._summary_seen = True
            lines += text[summary:].split("\n")
        return lines

    def _find_error_lines(self, text: str, first: int) -> None:
        number, counted = first, 0
        for start in _error_line_starts(text):
            end = text.find("\n", start)
            line = text[start : len(text) if end == -1 else end]
            if _ERROR_LINE.search(line):
                number += text.count("\n", counted, start)
                counted = start
                self.error_lines.append(
                    Evidence(kind="unexplained", file=self.name, line=number, excerpt=excerpt_of(line))
                )
                del self.error_lines[:-MAX_ERROR_LINES]

    def known_hits(self) -> list[Hit[KnownIssue]]:
        """The signatures' hits, in line order."""
        return [cast(Hit[KnownIssue], h) for h in self.scanner.hits if isinstance(h.item, KnownIssue)]

    def infra_hits(self) -> list[Hit[InfraRule]]:
        """The infrastructure rules' hits, in line order."""
        return [cast(Hit[InfraRule], h) for h in self.scanner.hits if isinstance(h.item, InfraRule)]


@dataclass
class ConsoleScan:
    """What one pass over the console found: signature and rule hits, the job's own error lines,
    and tempest results when the console was asked for them."""

    found: bool = False
    name: str | None = None
    known_hits: list[Hit[KnownIssue]] = field(default_factory=list)
    infra: list[InfraFinding] = field(default_factory=list)
    error_lines: list[Evidence] = field(default_factory=list)
    results: list[TestResult] = field(default_factory=list)


def scan_console_stream(
    name: str, stream: BinaryIO, signatures: SignatureSet, rules: InfraRuleSet, parse_tests: bool
) -> tuple[ConsoleScan, list[str]]:
    """The pass over one console; with `parse_tests`, tempest results are read from it in the
    same pass. Returns what it found and its notes."""
    scan = _ConsoleScan(name, signatures, rules)
    blocks = scan.blocks(stream, want_lines=parse_tests)
    results: list[TestResult] = []
    if parse_tests:
        results = parse_tempest_console((line for block in blocks for line in block), prefixed=False)
    else:
        for _ in blocks:
            pass
    found = ConsoleScan(
        found=True,
        name=name,
        known_hits=scan.known_hits(),
        infra=[
            InfraFinding(
                rule=h.item.id,
                category=h.item.category,
                service=service_of(h.groups),
                file=h.file,
                line=h.line,
                excerpt=h.excerpt,
            )
            for h in scan.infra_hits()
        ],
        error_lines=scan.error_lines,
        results=results,
    )
    return found, list(scan.scanner.notes)
