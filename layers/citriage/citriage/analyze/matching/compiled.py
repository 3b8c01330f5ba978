"""Compiling patterns with RE2: one checked pattern, or a whole set as one automaton (cached per process).

Patterns are user input, so they run on RE2 (linear time, no backtracking): a signature cannot
hang the analyzer whatever it says. Compiled matchers are cached per process (warm Lambda
invocations reuse them) under a fingerprint of the patterns, so a changed signature gives a new
matcher.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import re2

from citriage.errors import InvalidSignature
from citriage.ports import Patterned

MAX_EXCERPT = 500


# The memory a combined automaton (an RE2 Set) may use: RE2 enforces it, for the program and
# the lazily built DFA together. RE2's default, 8 MB, is too small for thousands of patterns, so
# a Set gets SET_MIN_MEM plus SET_MEM_PER_PATTERN for each pattern, up to SET_MAX_MEM. When a
# Set does not compile within it, it is split into shards; when its DFA runs out at match time,
# the patterns are located one by one (slower, still linear).
SET_MAX_MEM = 256 << 20
SET_MIN_MEM = 8 << 20
SET_MEM_PER_PATTERN = 256 << 10

# The compiled matchers a warm process keeps (one per distinct signature list), bounded by the
# memory RE2 may use for them: the sum of their Sets' limits. The newest is always kept.
MATCHER_CACHE_BYTES = 512 << 20


PLACEHOLDER = re.compile(r"\{(\w+)\}")


ItemT = TypeVar("ItemT", bound=Patterned)


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


# Texts on which a pattern that can match the empty string shows it (`\b`, `x?`, `a|`, `\s*$`).
_EMPTY_PROBES = (b"a", b"ab cd", b"x-1.2 ok", b"   ", b"ERROR: it failed", b"0")
# Ordinary lines of CI logs: a signature that matches most of them is no signature.
_ORDINARY_LINES = tuple(
    line.encode()
    for line in (
        "2026-11-20 10:00:01.123456 | controller | ok: [controller]",
        "2026-11-20 10:00:02.000000 | controller | TASK [devstack : Install packages] ****",
        "2026-11-20 10:00:03.500000 | controller | changed: [controller] => (item=git)",
        "PLAY RECAP *********************************************************************",
        "controller                 : ok=102  changed=47   unreachable=0    failed=0    skipped=12",
        "Collecting oslo.config>=9.0.0 (from -r requirements.txt (line 4))",
        "  Downloading oslo_config-9.6.0-py3-none-any.whl (132 kB)",
        "Successfully installed oslo.config-9.6.0 pbr-6.1.0",
        "{0} tempest.api.compute.servers.test_servers.ServersTestJSON.test_list_servers [0.532s] ... ok",
        "{1} tempest.api.network.test_ports.PortsTestJSON.test_show_port [1.204s] ... ok",
        "Ran 1250 tests in 2534.224s",
        "OK",
        "+ sudo systemctl restart devstack@n-api.service",
        "+ echo 'Waiting for nova-api to start'",
        "Waiting for nova-api to start",
        "Started Devstack devstack@n-api.service.",
        "INFO nova.api.openstack.requestlog [None req-1] 10.0.0.5 GET /compute/v2.1/servers status: 200",
        "DEBUG oslo_concurrency.lockutils [-] Lock compute_resources acquired",
        "[  OK  ] Reached target Multi-User System.",
        "Cloning into '/opt/stack/nova'...",
        "Receiving objects: 100% (4521/4521), 12.04 MiB | 20.05 MiB/s, done.",
        "HEAD is now at 0a1b2c3 Merge change",
        "npm notice New minor version of npm available",
        "added 313 packages in 9s",
        "PASS src/sum.test.js",
        "[INFO] Building citriage 1.0",
        "BUILD SUCCESSFUL in 42s",
        "test_sum (tests.test_math.MathTest.test_sum) ... ok",
        "collected 27 items",
        "tests/test_a.py ......                                                   [ 22%]",
        "Finished: SUCCESS",
        "Uploading artifacts...",
    )
)


# `\A`, `\z` and turning off `m` anchor at the start or end of a block of lines, which depends on
# where a block began: a signature must anchor at lines (`^`, `$`).
_BLOCK_ANCHORS = re.compile(r"\\[Az]|\(\?[a-zA-Z]*-[a-zA-Z]*m")


def pattern_pieces(pattern: str) -> list[tuple[int, str]]:
    """A pattern cut into its pieces, each with where it starts: an escape (`\\x`), a whole
    character class (`[^]a-z[:alpha:]]`: its first `]` and POSIX classes do not end it), or one
    other character. What reads a pattern's syntax outside classes walks these."""
    pieces: list[tuple[int, str]] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "\\":
            end = i + 2
        elif pattern[i] == "[":
            end = i + 1
            if pattern.startswith("^", end):
                end += 1
            if pattern.startswith("]", end):
                end += 1
            while end < n and pattern[end] != "]":
                if pattern.startswith("[:", end):
                    close = pattern.find(":]", end + 2)
                    end = close + 2 if close != -1 else end + 1
                    continue
                end += 2 if pattern[end] == "\\" else 1
            end += 1
        else:
            end = i + 1
        pieces.append((i, pattern[i:end]))
        i = end
    return pieces


def _block_anchor(pattern: str) -> str | None:
    """A text anchor of `pattern` outside character classes and escapes, if it has one."""
    for start, _ in pattern_pieces(pattern):
        found = _BLOCK_ANCHORS.match(pattern, start)
        if found:
            return found.group()
    return None


def compile_pattern(pattern: str, multiline: bool = False) -> Any:
    """Compile a pattern with RE2; an invalid or unsupported one raises InvalidSignature.

    RE2 refuses what it cannot run in linear time (backreferences, lookaround), and says so.
    The compiled regex matches within one line unless `multiline` is set.
    """
    anchor = _block_anchor(pattern)
    if anchor is not None:
        raise InvalidSignature(
            f"pattern {pattern!r} uses {anchor!r}, which anchors at the start or end of a block of log "
            "lines, not of a line; use ^ and $"
        )
    try:
        regex = re2.compile(_anchored_per_line(pattern), _options(multiline=multiline))
    except re2.error as exc:
        raise InvalidSignature(f"pattern {pattern!r} is not valid RE2: {_reason(exc)}") from exc
    if regex.search(b"") is not None:
        raise InvalidSignature(f"pattern {pattern!r} matches an empty line, so it would match every line")
    for probe in _EMPTY_PROBES:
        found = regex.search(probe)
        if found is not None and found.start() == found.end():
            raise InvalidSignature(
                f"pattern {pattern!r} can match an empty string (at {probe.decode()!r}), so it would match "
                "every line; anchor it to the text it is about"
            )
    hits = sum(1 for line in _ORDINARY_LINES if regex.search(line) is not None)
    if hits * 2 > len(_ORDINARY_LINES):
        raise InvalidSignature(
            f"pattern {pattern!r} matches {hits} of {len(_ORDINARY_LINES)} ordinary log lines; a signature "
            "must describe one problem, not most of a log"
        )
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
    return PLACEHOLDER.sub(lambda m: captures.get(m.group(1), m.group(0)), template)


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


def captures_of(match: Any, names: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
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
        # What RE2 may use for this Set, at most: what the matcher cache counts.
        self.max_mem = min(SET_MAX_MEM, SET_MIN_MEM + SET_MEM_PER_PATTERN * len(self.indices))
        rset = re2.Set.SearchSet(_options(multiline=multiline, max_mem=self.max_mem))
        for index in self.indices:
            rset.Add(_anchored_per_line(patterns[index]))
        # `\A` matches every text, at its start: a result without it means RE2 gave up (its
        # automaton ran out of memory), never that nothing matched. (The empty pattern would say
        # the same, but it matches at every byte, which doubles the cost of a Set's scan.)
        self.sentinel = rset.Add(r"\A")
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


class Matcher:
    """The compiled form of a pattern list: one regex per pattern plus the combined Sets. With
    `sets_only`, the Sets alone (a filter that only says which patterns may match; its patterns
    are derived from ones checked already, so they are not checked again)."""

    def __init__(self, patterns: Sequence[tuple[str, bool]], sets_only: bool = False) -> None:
        self.regexes = (
            [] if sets_only else [compile_pattern(pattern, multiline) for pattern, multiline in patterns]
        )
        self.names = [dict(rx.groupindex) for rx in self.regexes]
        texts = [pattern for pattern, _ in patterns]
        self.single = _shards([i for i, (_, m) in enumerate(patterns) if not m], texts, multiline=False)
        self.multi = _shards([i for i, (_, m) in enumerate(patterns) if m], texts, multiline=True)
        self.has_multiline = bool(self.multi)
        # An upper bound of the memory RE2 uses for this matcher's Sets.
        self.max_mem = sum(shard.max_mem for shard in [*self.single, *self.multi])

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


_MATCHERS: OrderedDict[str, Matcher] = OrderedDict()


def fingerprint(patterns: Iterable[tuple[str, bool]]) -> str:
    """A digest of a pattern list (pattern text and multiline flag, in order)."""
    digest = hashlib.sha256()
    for pattern, multiline in patterns:
        digest.update(f"{int(multiline)}{len(pattern)}:{pattern}".encode())
    return digest.hexdigest()


def matcher_for(patterns: Sequence[tuple[str, bool]], sets_only: bool = False) -> Matcher:
    """The compiled matcher of a pattern list, from the process-wide cache when it was built before.
    A pattern RE2 refuses raises InvalidSignature."""
    key = fingerprint(patterns) + (":sets" if sets_only else "")
    matcher = _MATCHERS.get(key)
    if matcher is None:
        try:
            matcher = Matcher(patterns, sets_only)
        except re2.error as exc:
            raise InvalidSignature(f"a pattern is not valid RE2: {_reason(exc)}") from exc
        _MATCHERS[key] = matcher
        # The least recently used go first; the newest stays whatever it costs.
        while len(_MATCHERS) > 1 and matcher_cache_bytes() > MATCHER_CACHE_BYTES:
            _MATCHERS.popitem(last=False)
    else:
        _MATCHERS.move_to_end(key)
    return matcher


def matcher_cache_bytes() -> int:
    """The memory RE2 may use, at most, for the matchers this process keeps."""
    return sum(matcher.max_mem for matcher in _MATCHERS.values())


def matcher_cache_info() -> tuple[int, list[str]]:
    """How many compiled matchers this process holds, and their fingerprints (oldest first)."""
    return len(_MATCHERS), list(_MATCHERS)
