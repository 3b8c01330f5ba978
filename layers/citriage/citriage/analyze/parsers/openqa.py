"""openQA job details (`/api/v1/jobs/<id>/details`): module results, job result and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from citriage.models import TestResult, TestStatus

# Module results as openQA reports them. A soft failure is a known, accepted issue: a pass.
_STATUS = {
    "passed": TestStatus.PASSED,
    "softfailed": TestStatus.PASSED,
    "failed": TestStatus.FAILED,
    "none": TestStatus.SKIPPED,
    "skipped": TestStatus.SKIPPED,
    "cancelled": TestStatus.SKIPPED,
    "incomplete": TestStatus.INTERRUPTED,
    "running": TestStatus.INTERRUPTED,
}
# Job results that mean the job could not run to the end (the worker or backend failed).
INFRA_RESULTS = frozenset({"incomplete", "timeout_exceeded"})


@dataclass
class OpenQaJob:
    """What the details endpoint says about one job."""

    job_id: str = ""
    name: str = ""
    result: str = ""
    reason: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    modules: list[TestResult] = field(default_factory=list)


def parse_openqa_details(document: Any, name: str, notes: list[str]) -> OpenQaJob | None:
    """The job and its module results; None (with a note) when it is not a details document."""
    job = document.get("job") if isinstance(document, dict) else None
    if not isinstance(job, dict):
        notes.append(f"{name}: not an openQA job details document.")
        return None
    parsed = OpenQaJob(
        job_id=str(job.get("id", "")),
        name=str(job.get("name", "")),
        result=str(job.get("result") or ""),
        reason=str(job.get("reason") or ""),
    )
    settings = job.get("settings")
    if isinstance(settings, dict):
        parsed.settings = {
            str(k): str(v)[:200] for k, v in settings.items() if isinstance(v, str | int | float)
        }
    skipped = 0
    for module in job.get("testresults") or []:
        if not isinstance(module, dict) or not module.get("name"):
            skipped += 1
            continue
        status = _STATUS.get(str(module.get("result", "")).lower())
        if status is None:
            skipped += 1
            continue
        category = str(module.get("category") or "")
        test_id = f"{category}/{module['name']}" if category else str(module["name"])
        details = ""
        if status in (TestStatus.FAILED, TestStatus.INTERRUPTED):
            details = f"openQA module {module['name']} {module.get('result')}"
            if parsed.reason:
                details += f"\njob reason: {parsed.reason}"
        tags = ["softfailed"] if module.get("result") == "softfailed" else []
        parsed.modules.append(TestResult(test_id=test_id, status=status, details=details, tags=tags))
    if skipped:
        notes.append(f"{name}: skipped {skipped} module result(s) with no name or an unknown result.")
    return parsed
