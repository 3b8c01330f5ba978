"""Matching known-issue signatures and infrastructure rules against text and log lines.

Patterns are user input, so they run on RE2 (linear time, no backtracking): a signature
cannot hang the analyzer whatever it says.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

import re2
import yaml

from citriage.errors import InvalidSignature
from citriage.models import InfraRule, KnownIssue, glob_match

MAX_EXCERPT = 500


class _Patterned(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def pattern(self) -> str: ...

    @property
    def files(self) -> list[str]: ...


ItemT = TypeVar("ItemT", bound=_Patterned)


def compile_pattern(pattern: str) -> Any:
    """Compile a pattern with RE2; an invalid or unsupported one raises InvalidSignature.

    RE2 refuses what it cannot run in linear time (backreferences, lookaround), and says so.
    """
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidSignature(f"pattern {pattern!r} is not valid RE2: {reason}") from exc


@dataclass(frozen=True)
class Hit(Generic[ItemT]):
    """One place where a signature or rule matched."""

    item: ItemT
    file: str | None
    line: int | None
    excerpt: str


def excerpt_of(line: str) -> str:
    """A line trimmed for reports and mails."""
    line = line.strip()
    return line if len(line) <= MAX_EXCERPT else line[: MAX_EXCERPT - 1] + "…"


class PatternSet(Generic[ItemT]):
    """A compiled set of signatures or rules, searched over texts and streamed log lines."""

    def __init__(self, items: Iterable[ItemT]) -> None:
        self._entries = [(item, compile_pattern(item.pattern)) for item in items]

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def items(self) -> list[ItemT]:
        """The signatures or rules in the set."""
        return [item for item, _ in self._entries]

    def search_text(self, text: str, file: str | None = None) -> list[Hit[ItemT]]:
        """Every item that matches somewhere in `text` (a traceback), with the matching line."""
        hits = []
        for item, compiled in self._entries:
            match = compiled.search(text)
            if match is None:
                continue
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            line_text = text[start : end if end != -1 else len(text)]
            hits.append(Hit(item, file, text.count("\n", 0, start) + 1, excerpt_of(line_text)))
        return hits

    def scanner(self, file: str) -> LineScanner[ItemT]:
        """A scanner for the lines of one log file (only items whose `files` scope admits it)."""
        entries = [(item, rx) for item, rx in self._entries if not item.files or glob_match(file, item.files)]
        return LineScanner(file, entries)


class LineScanner(Generic[ItemT]):
    """Feeds log lines one by one; keeps the first few hits of each item."""

    max_hits_per_item = 3

    def __init__(self, file: str, entries: Sequence[tuple[ItemT, Any]]) -> None:
        self.file = file
        self._entries = entries
        self.hits: list[Hit[ItemT]] = []
        self._counts: dict[str, int] = {}

    def feed(self, number: int, line: str) -> None:
        """Match one line (1-based `number`) against every item."""
        for item, compiled in self._entries:
            if self._counts.get(item.id, 0) >= self.max_hits_per_item:
                continue
            if compiled.search(line) is not None:
                self._counts[item.id] = self._counts.get(item.id, 0) + 1
                self.hits.append(Hit(item, self.file, number, excerpt_of(line)))


class SignatureSet(PatternSet[KnownIssue]):
    """The known issues active today, compiled."""

    def __init__(self, issues: Iterable[KnownIssue], today: date) -> None:
        super().__init__(issue for issue in issues if issue.is_active(today))

    def for_job(self, job: str) -> SignatureSet:
        """Only the signatures whose job scope admits `job`."""
        subset = SignatureSet.__new__(SignatureSet)
        subset._entries = [(i, rx) for i, rx in self._entries if i.applies_to_job(job)]
        return subset


class InfraRuleSet(PatternSet[InfraRule]):
    """Infrastructure rules, compiled."""


def load_builtin_rules() -> list[InfraRule]:
    """The infrastructure rule pack shipped with citriage (rules/infra.yaml)."""
    text = importlib.resources.files("citriage").joinpath("rules/infra.yaml").read_text("utf-8")
    return [InfraRule.model_validate(item) for item in yaml.safe_load(text)]


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
        compile_pattern(issue.pattern)
        issues.append(issue)
    return issues
