"""Known-issue signatures as the analysis uses them: checked, filtered to the active ones, compiled."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from citriage.analyze.matching.compiled import PLACEHOLDER, compile_pattern
from citriage.analyze.matching.engine import PatternSet
from citriage.errors import InvalidSignature
from citriage.models import KnownIssue, glob_match


class SignatureSet(PatternSet[KnownIssue]):
    """The known issues active today, compiled (cached across calls with the same patterns)."""

    def __init__(self, issues: Iterable[KnownIssue], today: date) -> None:
        super().__init__(issue for issue in issues if issue.is_active(today))

    def scoped_to(self, file: str) -> SignatureSet:
        """Only the signatures whose `files` scope names this file (not the unscoped ones): what may
        search a captured-output stream such as `stdout`."""
        view = self._view(
            i for i in self._indices() if self._all[i].files and glob_match(file, self._all[i].files)
        )
        assert isinstance(view, SignatureSet)
        return view

    def for_job(self, job: str) -> SignatureSet:
        """Only the signatures whose job scope admits `job` (sharing the compiled matcher)."""
        view = self._view(i for i in self._indices() if self._all[i].applies_to_job(job))
        assert isinstance(view, SignatureSet)
        return view


def check_signature(issue: KnownIssue) -> None:
    """Refuse a signature whose pattern RE2 cannot run, or whose message names a missing group."""
    try:
        regex = compile_pattern(issue.pattern, issue.multiline)
    except InvalidSignature as exc:
        raise InvalidSignature(f"signature {issue.id!r}: {exc}") from exc
    if issue.message:
        known = {str(n) for n in range(1, regex.groups + 1)} | set(regex.groupindex)
        missing = sorted(set(PLACEHOLDER.findall(issue.message)) - known)
        if missing:
            raise InvalidSignature(
                f"signature {issue.id!r}: its message uses {', '.join('{' + m + '}' for m in missing)}"
                f" but the pattern has no such capture group"
            )


class KnownIssueList:
    """Signatures held in memory (a YAML file the CLI read once): the `KnownIssues` port."""

    def __init__(self, issues: list[KnownIssue]) -> None:
        self._issues = list(issues)

    def list(self, problems: list[str] | None = None) -> list[KnownIssue]:
        """Every signature (they were checked when the file was read)."""
        return list(self._issues)


def usable_signatures(issues: list[KnownIssue], today: date, problems: list[str]) -> SignatureSet:
    """The signatures that compile. One bad stored item must not fail every analysis: it is
    left out and described in `problems` (the report's notes), and the rest still match."""
    try:
        return SignatureSet(issues, today)
    except InvalidSignature:
        good = []
        for issue in issues:
            try:
                compile_pattern(issue.pattern, issue.multiline)
            except InvalidSignature as exc:
                problems.append(f"known issue {issue.id} was skipped: {exc}")
            else:
                good.append(issue)
        return SignatureSet(good, today)
