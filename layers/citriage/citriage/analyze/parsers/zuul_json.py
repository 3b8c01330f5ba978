"""Zuul's `job-output.json`: which playbook and task failed, and what it printed.

Used when a job has no test results, so the mail can say more than "failed".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_OUTPUT = 4 * 1024


@dataclass
class FailedTask:
    """The task that failed a Zuul job."""

    phase: str
    playbook: str
    task: str
    host: str
    output: str

    def summary(self) -> str:
        """One line: where the job broke."""
        return f"{self.phase} playbook {self.playbook}: task '{self.task}' failed on {self.host}"


def _host_output(result: dict[str, Any]) -> str:
    parts: list[str] = []
    msg = result.get("msg")
    if isinstance(msg, str) and msg:
        parts.append(msg)
    for key in ("stderr", "stdout"):
        value = result.get(key)
        if isinstance(value, str) and value.strip():
            # The end of the output is where the error is.
            parts.append(value.strip()[-MAX_OUTPUT:])
    if "rc" in result:
        parts.append(f"rc={result['rc']}")
    items = result.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("failed"):
                parts.append(_host_output(item))
                break
    return "\n".join(parts)[-MAX_OUTPUT:]


def _failed(result: object) -> bool:
    return isinstance(result, dict) and bool(result.get("failed") or result.get("unreachable"))


def find_failed_task(document: Any, name: str, notes: list[str]) -> FailedTask | None:
    """The task that failed the job: the last failed task of the first playbook whose stats
    count failures (earlier failed tasks are often ignored errors or retried)."""
    if not isinstance(document, list):
        notes.append(f"{name}: not a Zuul job-output.json document.")
        return None
    for playbook in document:
        if not isinstance(playbook, dict):
            continue
        stats = playbook.get("stats")
        failing_hosts = {
            host
            for host, counts in (stats.items() if isinstance(stats, dict) else [])
            if isinstance(counts, dict) and (counts.get("failures") or counts.get("unreachable"))
        }
        if not failing_hosts:
            continue
        found: FailedTask | None = None
        for play in playbook.get("plays") or []:
            for task in (play.get("tasks") or []) if isinstance(play, dict) else []:
                hosts = task.get("hosts") if isinstance(task, dict) else None
                for host, result in hosts.items() if isinstance(hosts, dict) else []:
                    if host in failing_hosts and _failed(result) and not result.get("ignore_errors"):
                        info = task.get("task") if isinstance(task.get("task"), dict) else {}
                        found = FailedTask(
                            phase=str(playbook.get("phase") or "run"),
                            playbook=str(playbook.get("playbook") or "?"),
                            task=str(info.get("name") or "?"),
                            host=str(host),
                            output=_host_output(result),
                        )
        if found is not None:
            return found
    return None
