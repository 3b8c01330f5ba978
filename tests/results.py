"""Reading results the way the readers do, for tests: a subunit stream collected into a list."""

from __future__ import annotations

from typing import BinaryIO

from citriage.analyze.parsers.subunit import stream_subunit
from citriage.models import TestResult


def read_subunit(stream: BinaryIO, name: str, notes: list[str]) -> list[TestResult]:
    """Every result of a subunit stream, in the order the parser hands them on."""
    results: list[TestResult] = []
    stream_subunit(stream, name, notes, results.append)
    return results
