"""Jenkins test reports: `<build>/testReport/api/json` and build parameters from `<build>/api/json`."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from citriage.analyze.failure_text import bounded, exception_line
from citriage.models import TestResult, TestStatus

MAX_DETAILS = 16 * 1024
# JSON is parsed whole; a larger document is skipped rather than risk the memory.
MAX_JSON_BYTES = 16 * 1024 * 1024
_STATUS = {
    "PASSED": TestStatus.PASSED,
    "FIXED": TestStatus.PASSED,
    "FAILED": TestStatus.FAILED,
    "REGRESSION": TestStatus.FAILED,
    "SKIPPED": TestStatus.SKIPPED,
}


def read_json(stream: BinaryIO, name: str, notes: list[str], limit: int = MAX_JSON_BYTES) -> Any | None:
    """A JSON document of at most `limit` bytes, or None with a note."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        notes.append(f"{name}: larger than {limit // (1024 * 1024)} MiB; not read.")
        return None
    if not data.strip():
        notes.append(f"{name} is empty.")
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        notes.append(f"{name} is not valid JSON ({type(exc).__name__}); not read.")
        return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _case(case: dict[str, Any], status: TestStatus) -> TestResult:
    """One case: a failure's text is its stack trace; `errorDetails` is its message."""
    class_name = _text(case.get("className"))
    test_id = f"{class_name}.{case['name']}" if class_name else str(case["name"])
    details, message = "", None
    if status is TestStatus.FAILED:
        given = _text(case.get("errorDetails"))
        details = bounded(_text(case.get("errorStackTrace")) or given)
        message = exception_line(details, given) or None
    elif status is TestStatus.SKIPPED:
        details = _text(case.get("skippedMessage"))[:MAX_DETAILS]
    duration = case.get("duration")
    return TestResult(
        test_id=test_id,
        status=status,
        duration=float(duration) if isinstance(duration, int | float) else None,
        details=details,
        message=message,
    )


def parse_jenkins_test_report(document: Any, name: str, notes: list[str]) -> list[TestResult]:
    """Test results from a Jenkins `testReport/api/json` document (`suites[].cases[]`).

    A matrix or pipeline build's aggregated report (`childReports[].result`) is read too.
    """
    if not isinstance(document, dict):
        notes.append(f"{name}: not a Jenkins test report.")
        return []
    reports = [document]
    for child in document.get("childReports") or []:
        if isinstance(child, dict) and isinstance(child.get("result"), dict):
            reports.append(child["result"])
    results: list[TestResult] = []
    unknown = 0
    for report in reports:
        for suite in report.get("suites") or []:
            if not isinstance(suite, dict):
                continue
            for case in suite.get("cases") or []:
                if not isinstance(case, dict) or not case.get("name"):
                    unknown += 1
                    continue
                status = _STATUS.get(str(case.get("status", "")).upper())
                if status is None:
                    status = TestStatus.SKIPPED if case.get("skipped") else None
                if status is None:
                    unknown += 1
                    continue
                results.append(_case(case, status))
    if unknown:
        notes.append(f"{name}: skipped {unknown} test case(s) with no name or an unknown status.")
    return results


def jenkins_build_parameters(document: Any) -> dict[str, str]:
    """Build parameters from a Jenkins build's `api/json` (`actions[].parameters[]`)."""
    params: dict[str, str] = {}
    if not isinstance(document, dict):
        return params
    for action in document.get("actions") or []:
        if not isinstance(action, dict):
            continue
        for param in action.get("parameters") or []:
            if isinstance(param, dict) and isinstance(param.get("name"), str):
                value = param.get("value")
                if isinstance(value, str | int | float | bool):
                    params[param["name"]] = str(value)[:200]
    return params
