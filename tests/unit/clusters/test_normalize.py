"""Normalised exception lines: variable parts become placeholders, boilerplate never decides."""

from __future__ import annotations

import re2
from citriage.clusters.grouping import clusters_of
from citriage.clusters.normalize import cluster_id, exception_line, normalise, to_pattern
from citriage.models import RunEvent, RunReport
from citriage.models.report import Classification, Failure, TestCounts, Verdict


def test_variable_parts_become_placeholders_and_the_pattern_matches_the_originals():
    lines = [
        "TimeoutError: volume 3f2c9a1e-1b2c-4d5e-8f90-0a1b2c3d4e5f on 10.0.0.5:3260 not ready after 30s"
        " at 2026-12-05T10:00:01Z",
        "TimeoutError: volume 0a1b2c3d-1b2c-4d5e-8f90-3f2c9a1e4d5f on 192.168.1.77:3261 not ready after 45s"
        " at 2026-12-06 11:22:33.5",
    ]
    normalised = {normalise(line) for line in lines}
    assert normalised == {"TimeoutError: volume <uuid> on <ip>:<port> not ready after <num>s at <time>"}
    pattern = re2.compile(to_pattern(normalised.pop()))
    assert all(pattern.search(line) for line in lines)
    assert not pattern.search("TimeoutError: volume 3f2c9a1e-1b2c-4d5e-8f90-0a1b2c3d4e5f is ready")
    assert normalise("open /tmp/tmpab12cd/state.json: no such file") == "open <tmp>: no such file"
    assert normalise("KeyError: 'deadbeef1234'") == "KeyError: '<hex>'"
    assert cluster_id("x") == cluster_id("x") != cluster_id("y")


def test_the_line_is_the_message_or_the_tracebacks_last_line_that_is_not_a_frame():
    details = (
        'Traceback (most recent call last):\n  File "t.py", line 3, in test\n    f()\nValueError: bad 42\n'
    )
    assert exception_line(None, details) == "ValueError: bad 42"
    assert exception_line("OSError: x", details) == "OSError: x"


def test_unrelated_failures_sharing_a_class_and_frames_are_not_one_cluster():
    frames = 'Traceback (most recent call last):\n  File "tests/test_api.py", line 10, in test_x\n'

    def failure(test: str, message: str) -> Failure:
        return Failure(test_id=f"tests.test_api.TestServers.{test}", classification=Classification.NEW,
                       message=message, details=frames + message)  # fmt: skip

    run = RunEvent(source="generic", job="unit", build_id="1", log_url="https://l.example.org/1/")
    report = RunReport(
        run=run, verdict=Verdict.FAILED_NEW, tests=TestCounts(),
        failures=[failure("test_a", "AssertionError: 1 != 2"), failure("test_b", "KeyError: 'flavor'"),
                  failure("test_c", "AssertionError: 7 != 9")],
    )  # fmt: skip
    clusters = clusters_of([report])
    assert sorted(len(c.members) for c in clusters) == [1, 2]
    assert {m.test_id.rsplit(".", 1)[1] for m in clusters[0].members} == {"test_a", "test_c"}
