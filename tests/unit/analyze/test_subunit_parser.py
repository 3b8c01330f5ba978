"""subunit v2 parsing: statuses, tracebacks, durations, interrupted tests, truncated streams."""

import io

from citriage.models import TestStatus

from tests.results import read_subunit
from tests.subunit_writer import subunit_stream

TRACEBACK = "Traceback (most recent call last):\n  File 'x.py'\nAssertionError: 2 != 3"


def test_reads_statuses_tracebacks_and_durations():
    # Given a stream with a pass, a failure with a traceback and a skip
    data = subunit_stream(
        [
            ("t.a.test_ok", "success", ""),
            ("t.a.test_bad", "fail", TRACEBACK),
            ("t.a.test_skip", "skip", "no ipv6"),
        ]
    )
    notes: list[str] = []
    # When it is parsed
    results = {r.test_id: r for r in read_subunit(io.BytesIO(data), "s", notes)}
    # Then each test has its status, the failure its traceback, and durations come from timestamps
    assert results["t.a.test_ok"].status is TestStatus.PASSED
    assert results["t.a.test_ok"].duration == 1.5
    assert results["t.a.test_bad"].status is TestStatus.FAILED
    assert "AssertionError: 2 != 3" in results["t.a.test_bad"].details
    assert results["t.a.test_skip"].status is TestStatus.SKIPPED
    assert "worker-0" in results["t.a.test_ok"].tags
    assert notes == []


def test_test_without_end_is_interrupted_not_passed():
    data = subunit_stream([("t.a.test_ok", "success", ""), ("t.a.test_hung", "inprogress", "")])
    results = {r.test_id: r for r in read_subunit(io.BytesIO(data), "s", [])}
    assert results["t.a.test_hung"].status is TestStatus.INTERRUPTED


def test_truncated_stream_keeps_failures_recorded_before_the_cut():
    tests = [
        (f"t.a.test_{i}", "fail" if i == 1 else "success", TRACEBACK if i == 1 else "") for i in range(6)
    ]
    full = subunit_stream(tests)
    notes: list[str] = []
    results = {r.test_id: r for r in read_subunit(io.BytesIO(full[: len(full) - 7]), "s.subunit", notes)}
    assert results["t.a.test_1"].status is TestStatus.FAILED
    assert "AssertionError" in results["t.a.test_1"].details
    assert any("s.subunit" in note for note in notes)


def test_garbage_and_empty_input_give_no_results_and_no_crash():
    assert read_subunit(io.BytesIO(b""), "empty", []) == []
    notes: list[str] = []
    assert read_subunit(io.BytesIO(b"\x00\xffnot subunit at all\n" * 100), "junk", notes) == []
