"""Known-issue signatures in YAML files: the shape the table's items have, read and written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from citriage.errors import InputError, InvalidSignature, read_input, validation_summary
from citriage.known_issues.signatures import check_signature
from citriage.models import KnownIssue, SignatureStats

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml_list(text: str, origin: str, what: str) -> list[tuple[int, object]]:
    """The items of a YAML list with the line each starts on; a YAML error names its place
    (`origin:line:column: problem`), a document that is not a list says what it should be."""
    # Composed once (libyaml's parser when PyYAML has it: the pure-Python one took 1.2 s for
    # 1,000 signatures), then built from the nodes, which keep the line each item starts on.
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark is not None else origin
        raise InputError(f"{where}: {exc.problem or exc.context or 'not valid YAML'}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{origin}: not valid YAML ({exc})") from None
    finally:
        loader.dispose()
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        raise InputError(f"{origin}: a {what} file holds a YAML list")
    return [(node.start_mark.line + 1, item) for node, item in zip(root.value, data, strict=True)]


def load_known_issues_yaml(text: str, origin: str = "known issues") -> list[KnownIssue]:
    """Known issues from a YAML list; each pattern is checked with RE2 before it is accepted, and
    an id given twice is refused, naming both places."""
    issues: list[KnownIssue] = []
    seen: dict[str, int] = {}
    for line, item in read_yaml_list(text, origin, "known-issues"):
        try:
            issue = KnownIssue.model_validate(item)
        except ValueError as exc:
            raise InvalidSignature(f"{origin}:{line}: {validation_summary(exc)}") from None
        if issue.id in seen:
            raise InvalidSignature(
                f"{origin}:{line}: duplicate id {issue.id!r} (first at line {seen[issue.id]})"
            )
        seen[issue.id] = line
        try:
            check_signature(issue)
        except InvalidSignature as exc:
            raise InvalidSignature(f"{origin}:{line}: {exc}") from None
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
    """Signatures in a YAML file. With `create`, a missing file is an empty one (written on the
    first change); without, a missing file is an error (a typo must not read as "no signatures")."""

    def __init__(self, path: Path, create: bool = False) -> None:
        self._path = path
        self._create = create

    def _load(self) -> list[KnownIssue]:
        if self._create and not self._path.exists():
            return []
        return load_known_issues_yaml(read_input(self._path), str(self._path))

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
        self.put_many([issue])

    def put_many(self, issues: Sequence[KnownIssue]) -> None:
        """Add or replace signatures with one read and one write of the file (an import of 1,000
        signatures rewrote it 1,000 times)."""
        for issue in issues:
            check_signature(issue)
        replaced = {issue.id for issue in issues}
        self._save([i for i in self._load() if i.id not in replaced] + list(issues))

    def delete(self, issue_id: str) -> None:
        """Remove a signature."""
        self._save([i for i in self._load() if i.id != issue_id])
