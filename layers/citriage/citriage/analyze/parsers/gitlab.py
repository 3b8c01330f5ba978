"""GitLab's pipeline test report (`pipelines/<id>/test_report`, GitLab's parse of the JUnit artifacts)."""

from __future__ import annotations

from typing import Any

from citriage.models import TestResult, TestStatus

MAX_DETAILS = 16 * 1024


_STATUS = {
    "success": TestStatus.PASSED,
    "failed": TestStatus.FAILED,
    "error": TestStatus.FAILED,
    "skipped": TestStatus.SKIPPED,
}


def parse_gitlab_test_report(document: Any, name: str, notes: list[str]) -> list[TestResult]:
    """Test results from `pipelines/<id>/test_report` (`test_suites[].test_cases[]`)."""
    if not isinstance(document, dict):
        notes.append(f"{name}: not a GitLab test report.")
        return []
    results: list[TestResult] = []
    unknown = 0
    for suite in document.get("test_suites") or []:
        for case in (suite.get("test_cases") or []) if isinstance(suite, dict) else []:
            status = _STATUS.get(str(case.get("status"))) if isinstance(case, dict) else None
            if status is None or not case.get("name"):
                unknown += 1
                continue
            classname = str(case.get("classname") or "")
            duration = case.get("execution_time")
            texts = (case.get("stack_trace"), case.get("system_output"))
            details = "\n".join(x for x in texts if isinstance(x, str) and x)
            results.append(
                TestResult(
                    test_id=f"{classname}.{case['name']}" if classname else str(case["name"]),
                    status=status,
                    duration=float(duration) if isinstance(duration, int | float) else None,
                    details=details[-MAX_DETAILS:] if status is TestStatus.FAILED else "",
                )
            )
    if unknown:
        notes.append(f"{name}: skipped {unknown} test case(s) with no name or an unknown status.")
    return results
