"""Reading results the way the readers do, for tests: subunit collected into a list, and several
files of results merged by the tally."""

from __future__ import annotations

from typing import BinaryIO

from citriage.analyze.parsers.subunit import stream_subunit
from citriage.analyze.tally import ResultsRead, ResultTally, TextJudge
from citriage.models import TestResult


def read_subunit(stream: BinaryIO, name: str, notes: list[str]) -> list[TestResult]:
    """Every result of a subunit stream, in the order the parser hands them on."""
    results: list[TestResult] = []
    stream_subunit(stream, name, notes, results.append)
    return results


def tally(files: list[tuple[str, list[TestResult]]], judge: TextJudge | None = None) -> ResultsRead:
    """The merged results of result files, given by name and results, in reading order."""
    counted = ResultTally(judge)
    for name, results in files:
        sink = counted.file(name)
        for result in results:
            sink.add(result)
    return counted.settle()
