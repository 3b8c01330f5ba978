"""The CLI's exit codes, in one place (docs/cli.md has the table), and one-line error messages."""

from __future__ import annotations

import re
from enum import IntEnum

from citriage.models import RunReport, Verdict


class Exit(IntEnum):
    """What a `citriage` exit code means."""

    OK = 0
    # The verdict is one that --fail-on names.
    VERDICT = 1
    # Usage or input error: a missing path, an unknown option value, a malformed file.
    INPUT = 2
    # The logs could not be read (the verdict is no_results, and the notes say why).
    UNREADABLE = 3


# --fail-on words and the verdicts they name.
FAIL_ON: dict[str, set[Verdict]] = {
    "new": {Verdict.FAILED_NEW},
    "known": {Verdict.FAILED_KNOWN},
    "infra": {Verdict.INFRA},
    "no_results": {Verdict.NO_RESULTS},
    "any": {v for v in Verdict if v is not Verdict.PASSED},
}


def exit_for(report: RunReport, fail_on: list[str]) -> Exit:
    """The exit code of an analysis: unreadable logs first, then the verdicts --fail-on names."""
    if not report.logs_read:
        return Exit.UNREADABLE
    if any(report.verdict in FAIL_ON[word] for word in fail_on):
        return Exit.VERDICT
    return Exit.OK


# Terminal control: C0 controls but tab and newline, DEL, and C1 controls. Escaping ESC alone
# disarms every escape sequence; what follows it is printable and shown as it is.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from a log made safe for a terminal: escape sequences and control characters shown
    as `\\xNN` instead of acting on the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
