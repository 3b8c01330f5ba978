"""Local mode's tables filled from YAML files: the demo's and `serve`'s known issues and
subscriptions."""

from __future__ import annotations

from pathlib import Path

from citriage.adapters.aws.clients import AwsClients
from citriage.errors import read_input
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.notify.audience import load_subscriptions_yaml
from citriage.wiring import known_issue_store, subscription_store


def seed_tables(
    env: dict[str, str], aws: AwsClients, known_issues: Path | None, subscriptions: Path | None
) -> tuple[int, int]:
    """Load a known-issues YAML file and a subscriptions YAML file into the tables that `env` (the
    functions' environment) names; returns how many of each were stored. Every item is checked
    before any is written."""
    issues = load_known_issues_yaml(read_input(known_issues), str(known_issues)) if known_issues else []
    subs = load_subscriptions_yaml(subscriptions.read_text("utf-8")) if subscriptions else []
    if issues:
        store = known_issue_store(env["KNOWN_ISSUES_TABLE"], aws)
        for issue in issues:
            store.put(issue)
    if subs:
        table = subscription_store(env["SUBSCRIPTIONS_TABLE"], aws)
        for subscription in subs:
            table.put(subscription)
    return len(issues), len(subs)
