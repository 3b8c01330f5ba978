"""A signature's lifecycle (docs/clusters.md#lifecycle): when to retire it, and when to fix it.

- **retire**: its bug is closed (as last looked up) and it has not explained a failure for
  RETIRE_AFTER_DAYS: the bug is fixed, and the signature now only costs matching time (and could
  one day call a new bug known).
- **fix**: it matched the logs of a passing run: it is broader than its bug, and a failure it
  explains may not be that bug at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from citriage.models import KnownIssue, SignatureStats

RETIRE_AFTER_DAYS = 30
# Bug states (Launchpad, Jira, Bugzilla, GitHub) that mean the bug is over.
CLOSED_STATUSES = frozenset(
    {
        "fix released",
        "fix committed",
        "closed",
        "resolved",
        "fixed",
        "verified",
        "invalid",
        "won't fix",
        "done",
    }
)


def lifecycle_flags(
    issue: KnownIssue, stats: SignatureStats, now: datetime, retire_after_days: int = RETIRE_AFTER_DAYS
) -> list[str]:
    """What a person should do about a signature, each with its reason; empty when nothing."""
    flags = []
    status = (issue.bug_status or "").strip()
    quiet_since = now - timedelta(days=retire_after_days)
    if status.lower() in CLOSED_STATUSES and (stats.last_hit_at is None or stats.last_hit_at < quiet_since):
        last = f"last on {stats.last_hit_at:%Y-%m-%d}" if stats.last_hit_at else "never"
        quiet = f"it has not explained a failure for {retire_after_days} days ({last})"
        flags.append(f"retire: its bug is {status} and {quiet}")
    if stats.passing_hits:
        when = f" on {stats.last_passing_hit_at:%Y-%m-%d}" if stats.last_passing_hit_at else ""
        flags.append(
            f"fix: it matched {stats.passing_hits} passing run(s), last {stats.last_passing_run_id}{when}: "
            "it is broader than its bug"
        )
    return flags
