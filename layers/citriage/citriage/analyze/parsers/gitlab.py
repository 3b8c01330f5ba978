"""GitLab's pipeline test report (`pipelines/<id>/test_report`, GitLab's parse of the JUnit artifacts)."""

from __future__ import annotations

from typing import Any

from citriage.analyze.failure_text import bounded, exception_line
from citriage.models import TestResult, TestStatus

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
            failed = status is TestStatus.FAILED
            trace, output = case.get("stack_trace"), case.get("system_output")
            details = bounded(trace) if failed and isinstance(trace, str) else ""
            captured = {"stdout": bounded(output)} if failed and isinstance(output, str) and output else {}
            if failed and not details and captured:
                details = captured.pop("stdout")
            results.append(
                TestResult(
                    test_id=f"{classname}.{case['name']}" if classname else str(case["name"]),
                    status=status,
                    duration=float(duration) if isinstance(duration, int | float) else None,
                    details=details,
                    message=(exception_line(details) or None) if details else None,
                    output=captured,
                )
            )
    if unknown:
        notes.append(f"{name}: skipped {unknown} test case(s) with no name or an unknown status.")
    return results
