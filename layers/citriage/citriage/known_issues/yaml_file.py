"""Known-issue signatures in YAML files: the shape the table's items have, read and written."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from citriage.errors import InvalidSignature
from citriage.known_issues.signatures import check_signature
from citriage.models import KnownIssue, SignatureStats


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


def dump_known_issues_yaml(issues: Iterable[KnownIssue]) -> str:
    """A YAML list of signatures, sorted by id, in the shape `load_known_issues_yaml` reads."""
    # Required fields have no default, so they always stay; defaults (empty scopes) are left out.
    ordered = [
        issue.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        for issue in sorted(issues, key=lambda issue: issue.id)
    ]
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)


class YamlKnownIssues:
    """Signatures in a YAML file (created on first write)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _load(self) -> list[KnownIssue]:
        if not self._path.exists():
            return []
        return load_known_issues_yaml(self._path.read_text("utf-8"))

    def _save(self, issues: list[KnownIssue]) -> None:
        self._path.write_text(dump_known_issues_yaml(issues), "utf-8")

    def list_with_stats(self) -> list[tuple[KnownIssue, SignatureStats]]:
        """Every signature in the file (a file keeps no statistics)."""
        return [(issue, SignatureStats()) for issue in self._load()]

    def get(self, issue_id: str) -> KnownIssue | None:
        """One signature, or None."""
        return next((issue for issue in self._load() if issue.id == issue_id), None)

    def put(self, issue: KnownIssue) -> None:
        """Add or replace a signature."""
        check_signature(issue)
        self._save([i for i in self._load() if i.id != issue.id] + [issue])

    def delete(self, issue_id: str) -> None:
        """Remove a signature."""
        self._save([i for i in self._load() if i.id != issue_id])
