"""Memory independent of the test count: a million failing cases and two million tests are read
under an address-space limit like the analyze function's, and give a stored report with the
right totals."""

import json
import resource
import subprocess
import sys
from pathlib import Path

import boto3
from citriage.adapters.aws.dynamodb import RunStore
from citriage.analyze.tally import MAX_FULL_FAILURES
from citriage.models import RunReport, Verdict

CITRIAGE = Path(sys.executable).parent / "citriage"
# The analyze function has 1,024 MB; the whole process (interpreter, boto3, RE2) lives within it.
ADDRESS_SPACE = 1024 * 1024 * 1024


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def analyze_limited(tree: Path) -> RunReport:
    done = subprocess.run(
        [str(CITRIAGE), "analyze", str(tree), "--result", "FAILURE", "--format", "json"],
        preexec_fn=_limited,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return RunReport.model_validate(json.loads(done.stdout))


def test_a_million_failing_junit_cases_fit_in_the_function_memory(tmp_path, stack):
    # Given a JUnit file of 1,000,000 failing cases whose messages say 7 different things (60 MB,
    # under the 64 MiB a run reads)
    cases = 1_000_000
    with (tmp_path / "junit.xml").open("w") as out:
        out.write('<?xml version="1.0"?>\n<testsuite name="mass">\n')
        for n in range(cases):
            out.write(f'<testcase name="t{n}"><failure message="E: {n % 7}"/></testcase>\n')
        out.write("</testsuite>\n")
    # When it is analysed in a process limited to 1 GiB of address space (it peaked at 4 GB)
    report = analyze_limited(tmp_path)
    # Then the totals are the file's, the first failures are listed whole, every other is counted
    assert (report.tests.total, report.tests.failed, report.tests.passed) == (cases, cases, 0)
    assert report.verdict is Verdict.FAILED_NEW
    assert len(report.failures) == MAX_FULL_FAILURES
    assert sum(g.count for g in report.unlisted) == cases - MAX_FULL_FAILURES
    assert report.omitted_failures == {"new": cases - MAX_FULL_FAILURES}
    # ... grouped by message with its numbers made alike: one group, whose sample is a real message
    assert len(report.unlisted) == 1
    assert report.unlisted[0].message is not None and report.unlisted[0].message.startswith("E: ")
    # And the report is stored and read back unchanged
    store = RunStore(boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"]))
    store.put_report(report)
    assert store.get_report(report.run_id) == report


def test_two_million_subunit_tests_fit_in_the_function_memory(tmp_path):
    # Given a stestr repository stream (subunit v1) of 2,000,000 tests, one in 1,000 failing
    tests, failing_every = 2_000_000, 1000
    stream = tmp_path / ".stestr" / "0"
    stream.parent.mkdir()
    with stream.open("w") as out:
        for n in range(tests):
            if n % failing_every:
                out.write(f"test: t{n}\nsuccess: t{n}\n")
            else:
                out.write(f"test: t{n}\nfailure: t{n} [\nTraceback\nValueError: case {n}\n]\n")
    # When it is analysed under the same limit (it peaked at 3.5 GB)
    report = analyze_limited(tmp_path)
    # Then every test is counted once, and every failure is listed or grouped
    failed = tests // failing_every
    assert (report.tests.total, report.tests.passed, report.tests.failed) == (tests, tests - failed, failed)
    assert len(report.failures) + sum(g.count for g in report.unlisted) == failed
    assert {f.message for f in report.failures[:2]} == {"ValueError: case 0", "ValueError: case 1000"}
