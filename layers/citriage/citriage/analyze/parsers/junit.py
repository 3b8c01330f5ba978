"""JUnit XML in its variants, read as a stream with entity expansion off.

Handled: pytest's `--junitxml` (`<testsuites>` wrapper, `<properties>`, `<system-out>`),
tempest's `subunit2junitxml` (a bare `<testsuite name="">`), Maven Surefire and Jenkins
(nested suites), `<failure>` vs `<error>`, `<skipped>` and the old `<skip>`.
The test id is `classname.name` (just `name` when there is no class name).
"""

from __future__ import annotations

from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from citriage.models import TestResult, TestStatus

MAX_DETAILS = 16 * 1024
_FAILED = ("failure", "error")
_SKIPPED = ("skipped", "skip")
_OUTPUT = ("system-out", "system-err")


def _local(tag: str) -> str:
    """The tag without an XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _duration(value: str | None) -> float | None:
    try:
        return max(0.0, float(value.replace(",", ""))) if value else None
    except ValueError:
        return None


def _case(elem: Element) -> TestResult:
    classname = (elem.get("classname") or elem.get("class") or "").strip()
    name = (elem.get("name") or "").strip() or "(unnamed)"
    test_id = f"{classname}.{name}" if classname else name
    status = TestStatus.PASSED
    parts: list[str] = []
    for child in elem:
        tag = _local(child.tag)
        if tag in _FAILED:
            status = TestStatus.FAILED
            head = " ".join(x for x in (child.get("type"), child.get("message")) if x)
            parts.extend(x for x in (head, (child.text or "").strip()) if x)
        elif tag in _SKIPPED and status is not TestStatus.FAILED:
            status = TestStatus.SKIPPED
            parts.extend(x for x in (child.get("message"), (child.text or "").strip()) if x)
    if status is TestStatus.FAILED:
        # Captured output helps a failure's diagnosis; for passes it is noise.
        for child in elem:
            text = (child.text or "").strip()
            if _local(child.tag) in _OUTPUT and text:
                parts.append(f"--- {_local(child.tag)} ---\n{text}")
    details = "\n".join(parts)[:MAX_DETAILS] if status is not TestStatus.PASSED else ""
    return TestResult(test_id=test_id, status=status, duration=_duration(elem.get("time")), details=details)


def parse_junit(stream: BinaryIO, name: str, notes: list[str]) -> list[TestResult]:
    """Test results from a JUnit XML stream.

    Elements are dropped as soon as they are read, so memory stays bounded by one test case.
    DTD entities are refused (no billion laughs, no external entities); invalid or truncated
    XML keeps the cases read before the damage and adds a note.
    """
    results: list[TestResult] = []
    stack: list[Element] = []
    try:
        for event, elem in iterparse(stream, events=("start", "end"), forbid_dtd=False):
            if event == "start":
                stack.append(elem)
                continue
            stack.pop()
            if _local(elem.tag) != "testcase":
                if _local(elem.tag) in ("testsuite", "testsuites") and stack:
                    stack[-1].remove(elem)
                continue
            if not any(_local(e.tag) == "testcase" for e in stack):
                results.append(_case(elem))
            if stack:
                stack[-1].remove(elem)
    except DefusedXmlException as exc:
        notes.append(
            f"{name}: refused to expand XML entities ({type(exc).__name__}); kept {len(results)} tests."
        )
    except ParseError as exc:
        if not results and "no element found: line 1, column 0" in str(exc):
            notes.append(f"{name} is empty.")
        else:
            notes.append(f"{name} is not valid XML ({exc}); kept the {len(results)} tests read before it.")
    return results
