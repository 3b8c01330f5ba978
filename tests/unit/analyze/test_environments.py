"""One environment never erases another's failure; runs of one environment still merge."""

import pytest
from citriage.analyze.environments import file_environments
from citriage.analyze.tally import tally_of
from citriage.models import TestResult, TestStatus


@pytest.mark.parametrize(
    ("paths", "suites", "expected"),
    [
        ([".tox/py311/junit.xml", ".tox/py312/junit.xml"], [set(), set()], ["py311", "py312"]),
        (
            ["test-results/linux/junit.xml", "test-results/macos/junit.xml"],
            [set(), set()],
            ["linux", "macos"],
        ),
        (["junit-py311.xml", "junit-py312.xml"], [set(), set()], ["py311", "py312"]),
        (["report.xml", "report.xml.1"], [{"py311"}, {"py312"}], ["py311", "py312"]),
        # stestr's numbered runs and its partial tmp stream: one environment
        ([".stestr/0", ".stestr/1", ".stestr/tmpab12"], [set(), set(), set()], [None, None, None]),
        # Surefire writes a file per class: one environment
        (
            ["target/surefire-reports/TEST-a.A.xml", "target/surefire-reports/TEST-a.B.xml"],
            [{"a.A"}, {"a.B"}],
            [None, None],
        ),
        # pytest's default suite name says nothing
        (["a/junit.xml", "a/junit.xml.gz"], [{"pytest"}, {"pytest"}], [None, None]),
        (["junit.xml"], [{"py311"}], [None]),
    ],
)
def test_environments_come_from_place_name_or_suite(paths, suites, expected):
    assert file_environments(paths, suites) == expected


def result(test_id, status):
    return TestResult(test_id=test_id, status=status, details="boom" if status is TestStatus.FAILED else "")


def test_a_pass_in_one_environment_never_erases_a_failure_in_another():
    read = tally_of(
        [
            (".tox/py311/junit.xml", [result("t.a", TestStatus.FAILED)]),
            (".tox/py312/junit.xml", [result("t.a", TestStatus.PASSED)]),
        ]
    )
    assert [(r.env, r.status.value) for r in read.failed] == [("py311", "failed")]
    assert (read.tests.total, read.tests.passed, read.tests.failed) == (2, 1, 1)


def test_a_rerun_in_the_same_environment_is_the_later_word():
    read = tally_of(
        [(".stestr/0", [result("t.a", TestStatus.FAILED)]), (".stestr/1", [result("t.a", TestStatus.PASSED)])]
    )
    assert read.failed == []
    assert (read.tests.total, read.tests.passed) == (1, 1)
