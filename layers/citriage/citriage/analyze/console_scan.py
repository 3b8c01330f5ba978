"""The one pass over a run's console: known-issue signatures, infrastructure rules, the job's own
error lines, and (when no result file was found) tempest's results."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from citriage.analyze.logs.streams import next_line_after
from citriage.analyze.matching.compiled import Hit, excerpt_of
from citriage.analyze.matching.engine import LineScanner
from citriage.analyze.matching.infra_rules import InfraRuleSet
from citriage.analyze.parsers.console import strip_console_prefix
from citriage.known_issues.signatures import SignatureSet
from citriage.models import Evidence, InfraFinding, KnownIssue, TestResult

# Lines that say where a job broke, used as evidence when no test explains a failed build.
_ERROR_LINE = re.compile(r"fatal: \[[^\]]*\]: FAILED!|\bstack\.sh failed\b|^ERROR\b|^Error: ")
MAX_ERROR_LINES = 3


def _may_be_error_line(text: str) -> bool:
    """A cheap test that rules out most lines before _ERROR_LINE's regex decides."""
    return text.startswith(("ERROR", "Error: ")) or "FAILED!" in text or "stack.sh failed" in text


class _ConsoleScan:
    """One pass over the console: signature and rule hits, and the job's own error lines."""

    def __init__(self, name: str, signatures: SignatureSet, rules: InfraRuleSet) -> None:
        self.known: LineScanner[KnownIssue] = signatures.scanner(name)
        self.infra = rules.scanner(name)
        self.name = name
        self.error_lines: list[Evidence] = []

    def lines(self, raw_lines: Iterable[str]) -> Iterator[str]:
        """Yield the lines, without Zuul's columns, on to a parser while scanning each."""
        number = 0
        for line in raw_lines:
            number += 1
            jump = next_line_after(line)
            if jump is not None:
                # A head-and-tail read skipped the middle: carry on with the file's own numbers.
                number = jump - 1
                continue
            # Zuul's timestamp and host columns are not part of what a signature describes.
            text = strip_console_prefix(line)
            self.known.feed(number, text)
            self.infra.feed(number, text)
            if _may_be_error_line(text) and _ERROR_LINE.search(text):
                self.error_lines.append(
                    Evidence(kind="unexplained", file=self.name, line=number, excerpt=excerpt_of(text))
                )
                del self.error_lines[:-MAX_ERROR_LINES]
            yield text


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
