"""Result formats into the one test-result model: JUnit variants, Jenkins, openQA, Zuul
job-output.json, stestr's subunit v1 files and several streams of one job."""

import io
import json
from pathlib import Path

from citriage.analyze.parsers.jenkins import parse_jenkins_test_report
from citriage.analyze.parsers.junit import parse_junit
from citriage.analyze.parsers.openqa import parse_openqa_details
from citriage.analyze.parsers.zuul_json import find_failed_task
from citriage.analyze.tally import tally_of
from citriage.models import TestStatus

from tests.results import read_subunit
from tests.subunit_writer import subunit_stream

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RESULTS = FIXTURES / "results"
TREES = FIXTURES / "trees"


def by_id(results):
    return {r.test_id: r for r in results}


def test_pytest_junitxml_failure_error_skip_and_xfail():
    # Given pytest's own --junitxml output (testsuites wrapper, failure, fixture error, skips)
    notes: list[str] = []
    # When it is parsed
    results = by_id(parse_junit((RESULTS / "pytest-junit.xml").open("rb"), "pytest-junit.xml", notes))
    # Then ids are classname.name, <failure> and <error> both fail, skipped/xfail skip
    assert results["test_cloud.TestCompute.test_boot"].status is TestStatus.PASSED
    resize = results["test_cloud.TestCompute.test_resize"]
    assert resize.status is TestStatus.FAILED
    assert "Server status ERROR" in resize.details
    assert results["test_cloud.test_volume_attach"].status is TestStatus.FAILED
    assert "could not connect" in results["test_cloud.test_volume_attach"].details
    assert results["test_cloud.test_ipv6"].status is TestStatus.SKIPPED
    assert results["test_cloud.test_flaky"].status is TestStatus.SKIPPED
    assert len(results) == 5
    assert notes == []


def test_subunit2junitxml_bare_testsuite_keeps_tempest_ids():
    # Given tempest's subunit2junitxml output: a bare <testsuite name=""> and [id-...] names
    notes: list[str] = []
    results = by_id(parse_junit((RESULTS / "tempest-junit.xml").open("rb"), "tempest.xml", notes))
    # Then the ids equal the subunit ids, so both formats name a test the same way
    subunit_ids = {r.test_id for r in read_subunit((RESULTS / "tempest.subunit").open("rb"), "s", [])}
    assert set(results) == subunit_ids
    volume = next(r for i, r in results.items() if "test_attach_detach_volume" in i)
    assert volume.status is TestStatus.FAILED
    assert "stuck in attaching" in volume.details
    assert sum(r.status is TestStatus.SKIPPED for r in results.values()) == 1


def test_surefire_nested_suites_and_old_skip_element():
    xml = (
        b'<testsuites><testsuite name="outer"><testsuite name="inner">'
        b'<testcase classname="com.x.ATest" name="ok" time="1,234.5"/>'
        b'<testcase classname="com.x.ATest" name="old"><skip/></testcase>'
        b'<testcase classname="com.x.ATest" name="err"><error type="java.lang.NPE" message="null"/>'
        b"<system-err>boom on stderr</system-err></testcase>"
        b"</testsuite></testsuite></testsuites>"
    )
    results = by_id(parse_junit(io.BytesIO(xml), "TEST-x.xml", []))
    assert results["com.x.ATest.ok"].duration == 1234.5
    assert results["com.x.ATest.old"].status is TestStatus.SKIPPED
    assert results["com.x.ATest.err"].status is TestStatus.FAILED
    assert "java.lang.NPE" in results["com.x.ATest.err"].details
    # Captured output is kept apart from the failure's text, never mixed into it
    assert results["com.x.ATest.err"].output == {"stderr": "boom on stderr"}
    assert "boom on stderr" not in results["com.x.ATest.err"].details


def test_billion_laughs_is_refused_quickly_with_a_note():
    # Given a JUnit file whose entities would expand to gigabytes
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = f'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY l0 "lol">{levels}]><testsuite>'
    xml += '<testcase classname="a" name="b">&l9;</testcase></testsuite>'
    notes: list[str] = []
    # When it is parsed
    results = list(parse_junit(io.BytesIO(xml.encode()), "bomb.xml", notes))
    # Then nothing is expanded and the note says why
    assert results == []
    assert any("bomb.xml" in n and "entities" in n for n in notes)


def test_truncated_garbage_and_empty_xml_keep_what_was_read():
    xml = (RESULTS / "pytest-junit.xml").read_bytes()
    notes: list[str] = []
    cut = list(parse_junit(io.BytesIO(xml[: xml.index(b"test_volume_attach")]), "cut.xml", notes))
    assert [r.test_id for r in cut] == [
        "test_cloud.TestCompute.test_boot",
        "test_cloud.TestCompute.test_resize",
    ]
    assert list(parse_junit(io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00"), "garbage.xml", notes)) == []
    assert list(parse_junit(io.BytesIO(b""), "empty.xml", notes)) == []
    assert any(n.startswith("cut.xml is not valid XML") and "kept the 2 tests" in n for n in notes)
    assert any(n.startswith("garbage.xml is not valid XML") for n in notes)
    assert "empty.xml is empty." in notes


def test_jenkins_test_report_statuses_and_details():
    document = json.loads((TREES / "jenkins" / "testReport" / "api" / "json").read_text())
    notes: list[str] = []
    results = by_id(parse_jenkins_test_report(document, "testReport/api/json", notes))
    # REGRESSION and FAILED fail, FIXED and PASSED pass, SKIPPED skips
    assert results["com.example.shop.CartTest.appliesDiscount"].status is TestStatus.FAILED
    assert "expected:<90>" in results["com.example.shop.CartTest.appliesDiscount"].details
    assert "CartTest.java:42" in results["com.example.shop.CartTest.appliesDiscount"].details
    assert results["com.example.shop.CartTest.removesItem"].status is TestStatus.PASSED
    assert results["com.example.shop.PaymentIT.chargesCard"].status is TestStatus.FAILED
    assert results["com.example.shop.PaymentIT.refunds"].status is TestStatus.SKIPPED
    assert notes == []


def test_openqa_details_modules_result_and_reason():
    document = json.loads((TREES / "openqa" / "api" / "v1" / "jobs" / "4242" / "details").read_text())
    job = parse_openqa_details(document, "details", [])
    assert job is not None
    assert job.result == "incomplete"
    assert "backend died" in job.reason
    modules = by_id(job.modules)
    assert modules["boot/boot_to_desktop"].status is TestStatus.PASSED
    # A soft failure is an accepted known issue: a pass, tagged so.
    assert modules["console/zypper_ref"].status is TestStatus.PASSED
    assert modules["console/zypper_ref"].tags == ["softfailed"]
    assert modules["x11/firefox"].status is TestStatus.INTERRUPTED
    assert modules["shutdown/shutdown"].status is TestStatus.SKIPPED


def test_zuul_job_output_json_names_the_task_that_failed_not_the_ignored_one():
    document = json.loads((TREES / "zuul-task-failed" / "job-output.json").read_text())
    task = find_failed_task(document, "job-output.json", [])
    assert task is not None
    assert task.task == "configure-swap : Make swap"
    assert task.host == "controller"
    assert "swap area needs to be at least" in task.output
    assert task.phase == "pre"


def test_stestr_v1_repository_and_partial_tmp_stream_merge():
    # Given stestr's repository stream (subunit v1) and a partial tmp stream of a later run
    stestr = TREES / "stestr" / "controller" / "logs" / "tempest" / ".stestr"
    notes: list[str] = []
    first = read_subunit(io.BufferedReader(io.BytesIO((stestr / "0").read_bytes())), "0", notes)
    partial = read_subunit(io.BufferedReader(io.BytesIO((stestr / "tmpk3j9x2").read_bytes())), "tmp", notes)
    # When merged
    read = tally_of([("0", first), ("tmpk3j9x2", partial)])
    merged = by_id(read.failed)
    # Then the v1 stream was read, the later finished result wins, an unfinished test stays interrupted
    assert by_id(first)["stestr_suite.test_infra.TestNet.test_dns"].status is TestStatus.FAILED
    assert "stestr_suite.test_infra.TestNet.test_dns" not in merged  # passed on the re-run
    assert merged["stestr_suite.test_infra.TestDisk.test_resize"].status is TestStatus.INTERRUPTED
    assert "stestr_suite.test_infra.TestDisk.test_second_disk" not in merged
    assert read.tests.skipped >= 1
    assert read.tests.failed == len(merged)
    assert notes == []


def test_interrupted_never_overrides_a_finished_result():
    done = read_subunit(io.BytesIO(subunit_stream([("t.a", "fail", "tb")])), "a", [])
    hung = read_subunit(io.BytesIO(subunit_stream([("t.a", "inprogress", "")])), "b", [])
    read = tally_of([(".stestr/0", done), (".stestr/1", hung)])
    assert [r.status for r in read.failed] == [TestStatus.FAILED]


def test_truncated_v1_stream_marks_the_cut_test_interrupted():
    data = (TREES / "stestr" / "controller" / "logs" / "tempest" / ".stestr" / "0").read_bytes()
    notes: list[str] = []
    cut_at = data.index(b"failure: stestr_suite.test_infra.TestNet.test_dns") + 60
    results = by_id(read_subunit(io.BufferedReader(io.BytesIO(data[:cut_at])), "0", notes))
    assert results["stestr_suite.test_infra.TestNet.test_dns"].status is TestStatus.INTERRUPTED
    assert any("ends in the middle of a test" in n for n in notes)


def test_parsers_do_not_hang_on_binary_garbage():
    # Given random-looking bytes fed to every parser
    garbage = bytes(range(256)) * 64
    notes: list[str] = []
    assert list(parse_junit(io.BytesIO(garbage), "g.xml", notes)) == []
    assert read_subunit(io.BytesIO(garbage), "g.subunit", notes) == []
    # Then neither invents a test, and each says what it skipped
    assert any("g.xml" in n for n in notes)
    assert any("g.subunit" in n for n in notes)
