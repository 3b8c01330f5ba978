"""Infrastructure rules: the built-in pack (rules/infra.yaml), a site's own rules, and their compiled set."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from citriage.analyze.matching.compiled import compile_pattern
from citriage.analyze.matching.engine import PatternSet
from citriage.errors import InvalidSignature
from citriage.models import InfraRule


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


# Capture-group names that say which service broke, most specific first (docs/incidents.md).
SERVICE_GROUPS = ("service", "host", "mirror", "provider", "region", "node")


def service_of(captures: Mapping[str, str]) -> str | None:
    """The service an infrastructure rule's hit names through its capture groups, or None."""
    for name in SERVICE_GROUPS:
        value = (captures.get(name) or "").strip().strip("'\"").lower()
        if value:
            return value[:120]
    return None


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
