"""JUnit XML in its variants, read as a stream with entity expansion off.

Handled: pytest's `--junitxml` (`<testsuites>` wrapper, `<properties>`, `<system-out>`),
tempest's `subunit2junitxml` (a bare `<testsuite name="">`), Maven Surefire and Jenkins
(nested suites), `<failure>` vs `<error>`, `<skipped>` and the old `<skip>`. Each result carries
its suite's name in `env`, for the reader to decide whether files are environments.
The test id is `classname.name` (just `name` when there is no class name).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from citriage.analyze.failure_text import bounded, exception_line
from citriage.models import TestResult, TestStatus

# A skip's reason is short; what is kept of it is bounded.
MAX_SKIP_REASON = 2000
_FAILED = ("failure", "error")
_SKIPPED = ("skipped", "skip")
_OUTPUT = {"system-out": "stdout", "system-err": "stderr"}


def _local(tag: str) -> str:
    """The tag without an XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _duration(value: str | None) -> float | None:
    try:
        return max(0.0, float(value.replace(",", ""))) if value else None
    except ValueError:
        return None


def _case(elem: Element, suite: str | None) -> TestResult:
    """One test case. A failure's text is its `<failure>`/`<error>` body (or its message when the
    writer left the body empty); captured output (`<system-out>`, `<system-err>`) is kept apart."""
    classname = (elem.get("classname") or elem.get("class") or "").strip()
    name = (elem.get("name") or "").strip() or "(unnamed)"
    test_id = f"{classname}.{name}" if classname else name
    status = TestStatus.PASSED
    bodies: list[str] = []
    heads: list[str] = []
    first_failure: Element | None = None
    skip_reason: list[str] = []
    output: dict[str, str] = {}
    for child in elem:
        tag = _local(child.tag)
        body = (child.text or "").strip()
        if tag in _FAILED:
            status = TestStatus.FAILED
            first_failure = first_failure if first_failure is not None else child
            bodies.append(body)
            heads.append(": ".join(x for x in (child.get("type"), child.get("message")) if x))
        elif tag in _SKIPPED and status is not TestStatus.FAILED:
            status = TestStatus.SKIPPED
            skip_reason.extend(x for x in (child.get("message"), body) if x)
        elif tag in _OUTPUT and body:
            output[_OUTPUT[tag]] = bounded(body)
    if status is TestStatus.FAILED:
        # The failure's text is its body; with none, its type and message stand in for it. The
        # exception line is found in the body alone: an empty body's message is the writer's own.
        body_text = bounded("\n".join(b for b in bodies if b))
        details = body_text or "\n".join(h for h in heads if h)
        # The type is not prefixed: writers that keep it apart (Robot Framework) show the
        # message alone as the failure.
        given = first_failure.get("message") if first_failure is not None else None
        message = exception_line(body_text, given) or exception_line(details) or None
        return TestResult(
            test_id=test_id,
            status=status,
            duration=_duration(elem.get("time")),
            details=details,
            message=message,
            output=output,
            env=suite,
        )
    details = "\n".join(skip_reason)[:MAX_SKIP_REASON] if status is TestStatus.SKIPPED else ""
    return TestResult(
        test_id=test_id, status=status, duration=_duration(elem.get("time")), details=details, env=suite
    )


def parse_junit(stream: BinaryIO, name: str, notes: list[str]) -> Iterator[TestResult]:
    """Test results from a JUnit XML stream, each yielded as its case ends.

    Elements are dropped as soon as they are read, so memory stays bounded by one test case.
    DTD entities are refused (no billion laughs, no external entities); invalid or truncated
    XML keeps the cases read before the damage and adds a note.
    """
    count = 0
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
                suite = next((e.get("name") for e in reversed(stack) if _local(e.tag) == "testsuite"), None)
                count += 1
                yield _case(elem, (suite or "").strip() or None)
            if stack:
                stack[-1].remove(elem)
    except DefusedXmlException as exc:
        notes.append(f"{name}: refused to expand XML entities ({type(exc).__name__}); kept {count} tests.")
    except ParseError as exc:
        if not count and "no element found: line 1, column 0" in str(exc):
            notes.append(f"{name} is empty.")
        else:
            notes.append(f"{name} is not valid XML ({exc}); kept the {count} tests read before it.")
