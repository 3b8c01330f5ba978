"""Tempest console parsing from job-output.txt."""

from citriage.analyze.parsers.console import parse_tempest_console
from citriage.models import TestStatus

P = "2026-11-20 10:00:01.123456 | controller | "
CONSOLE = [
    P + "TASK [run tempest]",
    P + "{0} tempest.api.compute.test_a.A.test_one[id-1,smoke] [1.234s] ... ok",
    P + "{1} tempest.api.compute.test_a.A.test_two [0.5s] ... FAILED",
    P + "{1} tempest.api.compute.test_a.A.test_three ... SKIPPED: no ipv6",
    P + "{0} setUpClass (tempest.api.network.test_b.B) ... FAILED",
    P + "",
    P + "==============================",
    P + "Failed 2 tests - output below:",
    P + "==============================",
    P + "",
    P + "tempest.api.compute.test_a.A.test_two",
    P + "-------------------------------------",
    P + "",
    P + "Captured traceback:",
    P + "~~~~~~~~~~~~~~~~~~~",
    P + "    Traceback (most recent call last):",
    P + '      File "x.py", line 1, in test_two',
    P + "    AssertionError: False is not true : Server status ERROR",
    P + "",
    P + "setUpClass (tempest.api.network.test_b.B)",
    P + "-----------------------------------------",
    P + "",
    P + "Captured traceback:",
    P + "~~~~~~~~~~~~~~~~~~~",
    P + "    Traceback (most recent call last):",
    P + "    tempest.lib.exceptions.ServerFault: Got server fault",
    P + "",
    P + "======",
    P + "Totals",
    P + "======",
    P + " - Passed: 1",
]


def test_console_statuses_and_captured_tracebacks():
    results = {r.test_id: r for r in parse_tempest_console(CONSOLE)}
    assert results["tempest.api.compute.test_a.A.test_one[id-1,smoke]"].status is TestStatus.PASSED
    assert results["tempest.api.compute.test_a.A.test_one[id-1,smoke]"].duration == 1.234
    assert results["tempest.api.compute.test_a.A.test_three"].status is TestStatus.SKIPPED
    two = results["tempest.api.compute.test_a.A.test_two"]
    assert two.status is TestStatus.FAILED
    assert two.details.startswith("Traceback (most recent call last):")
    assert two.details.endswith("AssertionError: False is not true : Server status ERROR")
    assert "setUpClass" not in two.details
    setup = results["setUpClass (tempest.api.network.test_b.B)"]
    assert setup.status is TestStatus.FAILED
    assert "ServerFault" in setup.details
    assert "Totals" not in setup.details


def test_console_without_tempest_has_no_results():
    assert parse_tempest_console([P + "TASK [devstack]", P + "fatal: [controller]: FAILED! => {}"]) == []


def test_summary_header_with_attributes_names_the_result_line_without_them():
    lines = [
        P + "{0} tempest.api.compute.test_a.A.test_two [0.5s] ... FAILED",
        P + "Failed 1 tests - output below:",
        P + "tempest.api.compute.test_a.A.test_two[id-c4d1,smoke]",
        P + "----------------------------------------------------",
        P + "Captured traceback:",
        P + "    AssertionError: boom",
        P + "Totals",
    ]
    (result,) = parse_tempest_console(lines)
    assert result.test_id == "tempest.api.compute.test_a.A.test_two[id-c4d1,smoke]"
    assert result.details == "AssertionError: boom"
