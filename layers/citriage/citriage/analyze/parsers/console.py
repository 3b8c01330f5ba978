"""Tempest results from a Zuul console (`job-output.txt`), when no subunit stream exists.

stestr prints one line per test (`{0} tempest.x.Y.test_z [1.2s] ... ok`) and, at the end, a
"Failed N tests - output below" block with each failure's captured traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from citriage.models import TestResult, TestStatus

MAX_DETAILS = 16 * 1024
# Zuul prefixes console lines with "2026-11-20 10:00:01.123456 | controller | ": its columns, as
# a pattern (the console pass strips them from whole blocks, and tolerates them, with it).
ZUUL_COLUMNS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \|(?: [^|\n]*\|)? ?"
_ZUUL_PREFIX = re.compile("^" + ZUUL_COLUMNS)
_RESULT = re.compile(
    r"^\{\d+\} (?P<id>\S+(?: \([^)]*\))?)(?: \[(?P<duration>[\d.]+)s\])? \.\.\. "
    r"(?P<status>ok|FAILED|SKIPPED|fail|skip)\b"
)
_STATUS = {
    "ok": TestStatus.PASSED,
    "FAILED": TestStatus.FAILED,
    "fail": TestStatus.FAILED,
    "SKIPPED": TestStatus.SKIPPED,
    "skip": TestStatus.SKIPPED,
}
_SUMMARY_START = re.compile(r"^Failed \d+ tests? - output below:")
_RULE = re.compile(r"^-{4,}$")
_SUMMARY_END = re.compile(r"^(?:Totals|={10,}\s*$|Sum of execute time)")


def is_summary_start(line: str) -> bool:
    """Whether a line (without Zuul's columns) starts stestr's failure summary."""
    return bool(_SUMMARY_START.match(line))


def strip_console_prefix(line: str) -> str:
    """The line without Zuul's timestamp and host columns."""
    return _ZUUL_PREFIX.sub("", line, count=1)


def parse_tempest_console(lines: Iterable[str], prefixed: bool = True) -> list[TestResult]:
    """Test results and failure tracebacks from a tempest console log, streaming.

    `prefixed=False` when the caller already stripped Zuul's columns from the lines.
    """
    results: dict[str, TestResult] = {}
    in_summary = False
    current: str | None = None
    previous = ""
    captured: dict[str, list[str]] = {}
    for raw in lines:
        line = strip_console_prefix(raw) if prefixed else raw
        # Result lines start with "{<worker>}": most lines are ruled out without a regex.
        match = _RESULT.match(line) if line.startswith("{") else None
        if match:
            test_id = match["id"]
            results[test_id] = TestResult(
                test_id=test_id,
                status=_STATUS[match["status"]],
                duration=float(match["duration"]) if match["duration"] else None,
            )
            continue
        if line.startswith("Failed ") and _SUMMARY_START.match(line):
            in_summary, current = True, None
        elif in_summary:
            header = _summary_header(previous.strip(), results) if _RULE.match(line.strip()) else None
            if header is not None:
                current = header
                captured[current] = []
            elif current and _SUMMARY_END.match(line) and not line.startswith(" "):
                if line.startswith("Totals") or line.startswith("Sum of"):
                    in_summary, current = False, None
            elif current is not None and sum(len(x) for x in captured[current]) < MAX_DETAILS:
                captured[current].append(line)
        previous = line
    for test_id, block in captured.items():
        text = "\n".join(_dedent_capture(block)).strip()
        results[test_id] = results[test_id].model_copy(update={"details": text[:MAX_DETAILS]})
    return list(results.values())


def _summary_header(header: str, results: dict[str, TestResult]) -> str | None:
    """The result a summary header names. Result lines print ids without their `[id-...]`
    attributes and the summary prints them whole: the result then takes the whole id."""
    if header in results:
        return header
    base = header.split("[", 1)[0]
    if base != header and base in results:
        results[header] = results.pop(base).model_copy(update={"test_id": header})
        return header
    return None


def _dedent_capture(block: list[str]) -> list[str]:
    """Drop the next test's header line and the 'Captured traceback:' ornaments."""
    if block and not block[-1].startswith(" ") and block[-1].strip():
        block = block[:-1]
    return [
        line[4:] if line.startswith("    ") else line
        for line in block
        if line.strip() != "Captured traceback:" and not (line.strip() and set(line.strip()) <= {"~"})
    ]
