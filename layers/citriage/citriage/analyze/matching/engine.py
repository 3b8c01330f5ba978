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
import hashlib
import importlib.resources
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Generic, Protocol, TypeVar

import re2
import yaml

from citriage.errors import InvalidSignature
from citriage.models import InfraRule, KnownIssue, glob_match

MAX_EXCERPT = 500
# About this many bytes of log go through the Set per call: large enough that the per-call
# overhead vanishes, small enough that locating a hit inside a block stays cheap.
BLOCK_BYTES = 256 * 1024
# A multiline signature matches when its match starts within this many lines of its end.
MULTILINE_WINDOW = 20
# The combined automaton may use this much memory (RE2's default, 8 MB, is too small for
# thousands of patterns). When a Set still does not fit, it is split into shards.
SET_MAX_MEM = 256 << 20
# How many compiled matchers a warm process keeps (one per distinct signature list).
MATCHER_CACHE_SIZE = 8
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class _Patterned(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def pattern(self) -> str | None: ...

    @property
    def files(self) -> list[str]: ...


ItemT = TypeVar("ItemT", bound=_Patterned)


def _options(*, multiline: bool, max_mem: int | None = None) -> Any:
    options = re2.Options()
    options.log_errors = False
    # A single-line signature can never match across a newline, even through `\s` or
    # `[^x]`: that is what lets a block of lines be searched as one text.
    options.never_nl = not multiline
    if max_mem is not None:
        options.max_mem = max_mem
    return options


def _anchored_per_line(pattern: str) -> str:
    # `(?m)`: `^` and `$` mean start and end of a line, as they would on a single line.
    return f"(?m){pattern}"


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else str(exc)
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    return str(reason)


def compile_pattern(pattern: str, multiline: bool = False) -> Any:
    """Compile a pattern with RE2; an invalid or unsupported one raises InvalidSignature.

    RE2 refuses what it cannot run in linear time (backreferences, lookaround), and says so.
    The compiled regex matches within one line unless `multiline` is set.
    """
    try:
        regex = re2.compile(_anchored_per_line(pattern), _options(multiline=multiline))
    except re2.error as exc:
        raise InvalidSignature(f"pattern {pattern!r} is not valid RE2: {_reason(exc)}") from exc
    if regex.search(b"") is not None:
        raise InvalidSignature(f"pattern {pattern!r} matches an empty line, so it would match every line")
    return regex


def excerpt_of(line: str) -> str:
    """A line trimmed for reports and mails."""
    line = line.strip()
    return line if len(line) <= MAX_EXCERPT else line[: MAX_EXCERPT - 1] + "…"


def render_message(template: str, captures: Mapping[str, str]) -> str:
    """Fill `{1}`, `{name}` placeholders of a message with capture groups.

    Only plain names and numbers are replaced (no attribute or index access, unlike
    `str.format`); an unknown placeholder is left as written.
    """
    return _PLACEHOLDER.sub(lambda m: captures.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True)
class Hit(Generic[ItemT]):
    """One place where a signature or rule matched, with its capture groups."""

    item: ItemT
    file: str | None
    line: int | None
    excerpt: str
    captures: tuple[tuple[str, str], ...] = ()

    @property
    def groups(self) -> dict[str, str]:
        """Capture groups by number ("1", "2", ...) and by name."""
        return dict(self.captures)

    def message(self, template: str | None) -> str | None:
        """`template` with this hit's capture groups filled in (None when there is none)."""
        return render_message(template, self.groups) if template else None


def _captures(match: Any, names: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
    groups = match.groups()
    if not groups:
        return ()
    values = [g.decode("utf-8", "replace")[:MAX_EXCERPT] if g is not None else "" for g in groups]
    pairs = [(str(n), v) for n, v in enumerate(values, 1)]
    pairs += [(name, values[index - 1]) for name, index in names.items()]
    return tuple(pairs)


class _Shard:
    """One RE2 Set over some of the patterns; index `sentinel` always matches."""

    def __init__(self, indices: Sequence[int], patterns: Sequence[str], multiline: bool) -> None:
        self.indices = list(indices)
        rset = re2.Set.SearchSet(_options(multiline=multiline, max_mem=SET_MAX_MEM))
        for index in self.indices:
            rset.Add(_anchored_per_line(patterns[index]))
        # The empty pattern matches every text: a result without it means RE2 gave up (its
        # automaton ran out of memory), never that nothing matched.
        self.sentinel = rset.Add("")
        rset.Compile()
        self._set = rset

    def match(self, data: bytes) -> list[int] | None:
        """Indices (into the whole pattern list) that match `data`; None when RE2 failed."""
        found = self._set.Match(data)
        if not found or self.sentinel not in found:
            return None
        return [self.indices[i] for i in found if i != self.sentinel]


def _shards(indices: Sequence[int], patterns: Sequence[str], multiline: bool) -> list[_Shard]:
    if not indices:
        return []
    try:
        return [_Shard(indices, patterns, multiline)]
    except re2.error:
        if len(indices) == 1:
            raise
        half = len(indices) // 2
        return _shards(indices[:half], patterns, multiline) + _shards(indices[half:], patterns, multiline)


class _Matcher:
    """The compiled form of a pattern list: one regex per pattern plus the combined Sets."""

    def __init__(self, patterns: Sequence[tuple[str, bool]]) -> None:
        self.regexes = [compile_pattern(pattern, multiline) for pattern, multiline in patterns]
        self.names = [dict(rx.groupindex) for rx in self.regexes]
        texts = [pattern for pattern, _ in patterns]
        self.single = _shards([i for i, (_, m) in enumerate(patterns) if not m], texts, multiline=False)
        self.multi = _shards([i for i, (_, m) in enumerate(patterns) if m], texts, multiline=True)
        self.has_multiline = bool(self.multi)

    def which(self, data: bytes, multiline: bool) -> tuple[set[int], bool]:
        """Pattern indices that match somewhere in `data`, and whether the Set answered.

        When RE2 could not answer (out of memory), every pattern of the failed shard is
        returned: the caller then locates them one by one, which is slower but still linear.
        """
        found: set[int] = set()
        complete = True
        for shard in self.multi if multiline else self.single:
            matched = shard.match(data)
            if matched is None:
                complete = False
                found.update(shard.indices)
            else:
                found.update(matched)
        return found, complete


_MATCHERS: OrderedDict[str, _Matcher] = OrderedDict()


def fingerprint(patterns: Iterable[tuple[str, bool]]) -> str:
    """A digest of a pattern list (pattern text and multiline flag, in order)."""
    digest = hashlib.sha256()
    for pattern, multiline in patterns:
        digest.update(f"{int(multiline)}{len(pattern)}:{pattern}".encode())
    return digest.hexdigest()


def _matcher_for(patterns: Sequence[tuple[str, bool]]) -> _Matcher:
    """The compiled matcher of a pattern list, from the process-wide cache when it was built before."""
    key = fingerprint(patterns)
    matcher = _MATCHERS.get(key)
    if matcher is None:
        matcher = _Matcher(patterns)
        _MATCHERS[key] = matcher
        while len(_MATCHERS) > MATCHER_CACHE_SIZE:
            _MATCHERS.popitem(last=False)
    else:
        _MATCHERS.move_to_end(key)
    return matcher


def matcher_cache_info() -> tuple[int, list[str]]:
    """How many compiled matchers this process holds, and their fingerprints (oldest first)."""
    return len(_MATCHERS), list(_MATCHERS)


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
        self._matcher = _matcher_for([(item.pattern or "", _is_multiline(item)) for item in self._all])
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

    def feed_block(self, data: bytes, first_line: int) -> None:
        """Match a block of whole lines (joined by newlines; `first_line` is the first one's number)."""
        self.bytes_scanned += len(data)
        if self._open == 0:
            return
        block = _Block(data, first_line)
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
            _captures(match, self._matcher.names[index]),
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
                if index not in in_window or index in self._saturated:
                    continue
                match = self._matcher.regexes[index].search(joined.data, starts[first], end)
                if match is None:
                    continue
                line_index = joined.line_index(match.start())
                key = (index, joined.first_line + line_index)
                if key in self._seen_multiline:
                    continue
                self._seen_multiline.add(key)
                hits.append(self._hit(index, joined, line_index, match))
            if last == total:
                break
        return hits


class SignatureSet(PatternSet[KnownIssue]):
    """The known issues active today, compiled (cached across calls with the same patterns)."""

    def __init__(self, issues: Iterable[KnownIssue], today: date) -> None:
        super().__init__(issue for issue in issues if issue.is_active(today))

    def for_job(self, job: str) -> SignatureSet:
        """Only the signatures whose job scope admits `job` (sharing the compiled matcher)."""
        view = self._view(i for i in self._indices() if self._all[i].applies_to_job(job))
        assert isinstance(view, SignatureSet)
        return view


class InfraRuleSet(PatternSet[InfraRule]):
    """Infrastructure rules, compiled; rules that only name CI result words are kept aside."""

    def __init__(self, rules: Iterable[InfraRule]) -> None:
        rules = [rule for rule in rules if rule.enabled]
        super().__init__(rules)
        self.result_rules = [rule for rule in rules if rule.results]

    def for_result(self, result: str) -> InfraRule | None:
        """The rule that says a CI result word (any case) means infrastructure failure, or None."""
        word = result.upper()
        return next((rule for rule in self.result_rules if word in (r.upper() for r in rule.results)), None)


def load_builtin_rules() -> list[InfraRule]:
    """The infrastructure rule pack shipped with citriage (rules/infra.yaml)."""
    text = (
        importlib.resources.files("citriage.analyze.matching").joinpath("rules/infra.yaml").read_text("utf-8")
    )
    return parse_rules_yaml(text, "rules/infra.yaml")


def parse_rules_yaml(text: str, origin: str) -> list[InfraRule]:
    """Infrastructure rules from a YAML list; each pattern is checked with RE2."""
    data = yaml.safe_load(text) or []
    if not isinstance(data, list):
        raise InvalidSignature(f"{origin}: a rules file holds a YAML list of rules")
    rules = []
    for position, item in enumerate(data, 1):
        try:
            rule = InfraRule.model_validate(item)
        except ValueError as exc:
            raise InvalidSignature(f"{origin}: rule #{position}: {exc}") from exc
        try:
            if rule.pattern:
                compile_pattern(rule.pattern)
        except InvalidSignature as exc:
            raise InvalidSignature(f"{origin}: rule {rule.id!r}: {exc}") from exc
        rules.append(rule)
    return rules


def merge_rules(builtin: Sequence[InfraRule], site: Sequence[InfraRule]) -> list[InfraRule]:
    """The built-in pack with a site's rules applied by id: same id replaces, new id adds,
    `enabled: false` removes."""
    merged = {rule.id: rule for rule in builtin}
    for rule in site:
        merged[rule.id] = rule
    return [rule for rule in merged.values() if rule.enabled]


def load_site_rules(location: str) -> list[InfraRule]:
    """Site rules from a YAML file, or from every `*.yaml`/`*.yml` file of a directory (by name)."""
    path = Path(location)
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    elif path.is_file():
        files = [path]
    else:
        raise InvalidSignature(f"site rules {location!r}: no such file or directory")
    rules: list[InfraRule] = []
    for file in files:
        rules.extend(parse_rules_yaml(file.read_text("utf-8"), str(file)))
    return rules


def load_known_issues_yaml(text: str) -> list[KnownIssue]:
    """Known issues from a YAML list; each pattern is checked with RE2 before it is accepted."""
    data = yaml.safe_load(text) or []
    if not isinstance(data, list):
        raise InvalidSignature("a known-issues file holds a YAML list of signatures")
    issues = []
    for position, item in enumerate(data, 1):
        try:
            issue = KnownIssue.model_validate(item)
        except ValueError as exc:
            raise InvalidSignature(f"signature #{position}: {exc}") from exc
        check_signature(issue)
        issues.append(issue)
    return issues


def check_signature(issue: KnownIssue) -> None:
    """Refuse a signature whose pattern RE2 cannot run, or whose message names a missing group."""
    try:
        regex = compile_pattern(issue.pattern, issue.multiline)
    except InvalidSignature as exc:
        raise InvalidSignature(f"signature {issue.id!r}: {exc}") from exc
    if issue.message:
        known = {str(n) for n in range(1, regex.groups + 1)} | set(regex.groupindex)
        missing = sorted(set(_PLACEHOLDER.findall(issue.message)) - known)
        if missing:
            raise InvalidSignature(
                f"signature {issue.id!r}: its message uses {', '.join('{' + m + '}' for m in missing)}"
                f" but the pattern has no such capture group"
            )
