"""Discovery of results across layouts, and whole-run analysis of hostile or odd trees."""

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from citriage.analyze.components import components_matching
from citriage.analyze.locate import tree_location
from citriage.analyze.logs.fetch import LocalLogTree
from citriage.analyze.logs.layouts import (
    ComponentKind,
    FileRole,
    PathRole,
    ResultKind,
    canonical_name,
    classify_path,
    discovery_from_paths,
)
from citriage.analyze.logs.streams import FetchBudget
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.pipeline import analyze_run
from citriage.analyze.service import Analyzer
from citriage.config import FetchSettings, LayoutSettings
from citriage.known_issues.signatures import SignatureSet
from citriage.models import Classification, RunEvent, TestStatus, Verdict

from tests.subunit_writer import subunit_stream
from tests.unit.fakes import FakeList

TREES = Path(__file__).resolve().parents[2] / "fixtures" / "trees"
EVENTS_LOGS = Path(__file__).resolve().parents[3] / "events" / "logs"
TRACEBACK = "Traceback (most recent call last):\nAssertionError: 2 != 3"


def run_event(source="zuul", result="FAILURE", log_url="https://logs.example.org/b/1/", job="tempest-full"):
    return RunEvent(source=source, job=job, build_id="1", result=result, log_url=log_url)


def analyze(tree_dir, run=None, budget=None, layout=None):
    tree = LocalLogTree(tree_dir, budget or FetchBudget(64 * 1024 * 1024, 256 * 1024 * 1024))
    signatures = SignatureSet([], datetime.now(UTC).date())
    return analyze_run(run or run_event(), tree, signatures, InfraRuleSet(load_builtin_rules()), layout)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("testrepository.subunit.gz", PathRole(FileRole.RESULT, ResultKind.SUBUNIT)),
        ("controller/logs/tempest/.stestr/tmpab12", PathRole(FileRole.RESULT, ResultKind.SUBUNIT)),
        ("logs/undercloud/var/log/tempest/tempest.xml.gz", PathRole(FileRole.RESULT, ResultKind.JUNIT)),
        ("target/surefire-reports/TEST-com.x.ATest.xml", PathRole(FileRole.RESULT, ResultKind.JUNIT)),
        ("controller/logs/tempest_log.txt", PathRole(FileRole.RESULT, ResultKind.TEMPEST_CONSOLE)),
        ("logs/undercloud/var/log/tempest/stestr_results.html", PathRole(FileRole.HTML_RESULTS)),
        ("zuul-info/inventory.yaml", PathRole(FileRole.COMPONENT, ComponentKind.ZUUL_INVENTORY)),
        ("controller/logs/pip3-freeze.txt.gz", PathRole(FileRole.COMPONENT, ComponentKind.PIP_FREEZE)),
        ("logs/etc/libvirt/qemu.xml", None),
        ("inventory.yaml", None),
    ],
)
def test_paths_are_classified_by_what_their_producer_wrote(path, expected):
    assert classify_path(path) == expected


def test_stage_output_renames_are_undone():
    assert canonical_name("logs/tempest_log.txt.gz") == "tempest.log"
    assert canonical_name("job-output.txt") == "job-output.txt"


def test_listing_orders_stestr_runs_and_puts_the_top_console_first():
    found = discovery_from_paths(
        ["c/logs/job-output.txt", "x/.stestr/tmpzz", "x/.stestr/10", "x/.stestr/2", "job-output.txt"],
        "test",
    )
    assert [f.path for f in found.results] == ["x/.stestr/2", "x/.stestr/10", "x/.stestr/tmpzz"]
    assert found.console == ["job-output.txt", "c/logs/job-output.txt"]
    assert found.probe is False


def test_tripleo_tree_with_only_undercloud_tempest_xml_gz(tmp_path):
    # Given a TripleO-style tree whose only results are logs/undercloud/.../tempest.xml.gz
    # When it is analyzed
    report = analyze(TREES / "tripleo")
    # Then its tests are read from there and the failures reported
    assert report.results_file == "logs/undercloud/var/log/tempest/tempest.xml.gz"
    counts = report.tests
    assert (counts.total, counts.passed, counts.failed, counts.skipped) == (5, 2, 2, 1)
    assert report.verdict is Verdict.FAILED_NEW
    assert {f.test_id.split("[")[0].rsplit(".", 1)[-1] for f in report.failures} == {
        "test_attach_detach_volume_to_instance",
        "test_network_basic_ops",
    }


def test_stestr_tree_found_through_zuul_manifest():
    # Given a tree listing .stestr/0 and a partial tmp stream in zuul-manifest.json
    report = analyze(TREES / "stestr")
    # Then both streams are read and merged
    assert "controller/logs/tempest/.stestr/0" in (report.results_file or "")
    assert "tmpk3j9x2" in (report.results_file or "")
    assert report.tests.total == 5
    assert [f.status for f in report.failures] == [TestStatus.INTERRUPTED]


def test_truncated_subunit_still_reports_failures_before_the_cut(tmp_path):
    # Given a subunit stream cut in the middle of the fourth test
    tests = [
        ("t.a.test_ok", "success", ""),
        ("t.a.test_bad", "fail", TRACEBACK),
        ("t.a.test_ok2", "success", ""),
        ("t.a.test_late", "fail", TRACEBACK),
    ]
    data = subunit_stream(tests)
    cut = data.index(b"t.a.test_late") + 20
    (tmp_path / "testrepository.subunit").write_bytes(data[:cut])
    # When the run is analyzed
    report = analyze(tmp_path)
    # Then the failure recorded before the cut is reported, and a note says the stream was cut
    assert "t.a.test_bad" in [f.test_id for f in report.failures]
    assert report.verdict is Verdict.FAILED_NEW
    assert any("testrepository.subunit" in n and "truncated" in n for n in report.notes)


def test_gzip_bomb_gets_a_report_with_a_note(tmp_path):
    # Given a console that is a gzip bomb (64 MiB of zeros) and a cap of 2 MiB per console
    (tmp_path / "job-output.txt.gz").write_bytes(gzip.compress(b"\0" * (64 * 1024 * 1024), 9))
    # When analyzed
    report = analyze(tmp_path, budget=FetchBudget(2 << 20, 8 << 20, max_console_bytes=2 << 20))
    # Then the report exists, read only the capped part, and says so
    assert report.verdict is Verdict.NO_RESULTS
    assert any("job-output.txt.gz" in n and "first 2 MiB" in n for n in report.notes)


def test_billion_laughs_junit_gets_a_report_with_a_note(tmp_path):
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = f'<!DOCTYPE t [<!ENTITY l0 "lol">{levels}]>'
    xml += '<testsuite><testcase name="x">&l9;</testcase></testsuite>'
    (tmp_path / "tempest.xml").write_text(xml)
    report = analyze(tmp_path)
    assert report.verdict is Verdict.NO_RESULTS
    assert any("tempest.xml" in n and "entities" in n for n in report.notes)


def test_empty_and_garbage_result_files_are_noted(tmp_path):
    (tmp_path / "testrepository.subunit").write_bytes(b"")
    (tmp_path / "tempest.xml").write_bytes(b"\x00\x01binary\xff")
    report = analyze(tmp_path)
    assert report.verdict is Verdict.NO_RESULTS
    # The content decides the format: an empty file and binary garbage are neither, and say so
    assert "Skipped testrepository.subunit: empty." in report.notes
    assert "Skipped tempest.xml: neither JUnit XML nor subunit." in report.notes


def test_per_job_layout_setting_finds_results_elsewhere(tmp_path):
    # Given results in a place no built-in layout knows, and a setting for that job
    target = tmp_path / "artifacts" / "qa" / "out.xml"
    target.parent.mkdir(parents=True)
    shutil.copyfile(TREES.parent / "results" / "pytest-junit.xml", target)
    setting = json.dumps({"tempest-*": ["artifacts/qa/out.xml"]})  # as RESULT_PATHS holds it
    layout = LayoutSettings.model_validate({"result_paths": setting})
    # When analyzed with and without the setting
    without = analyze(tmp_path)
    with_setting = analyze(tmp_path, layout=layout)
    # Then only the setting finds them
    assert without.verdict is Verdict.NO_RESULTS
    assert with_setting.tests.total == 5
    assert with_setting.results_file == "artifacts/qa/out.xml"


def test_jenkins_build_read_through_its_api_layout():
    run = run_event(source="jenkins", result="UNSTABLE", log_url="https://jenkins.example.org/job/shop/42/")
    report = analyze(TREES / "jenkins", run)
    assert report.results_file == "testReport/api/json"
    assert (report.tests.total, report.tests.failed, report.tests.skipped) == (5, 2, 1)
    assert report.components["SHOP_VERSION"] == "2.4.1"
    assert report.verdict is Verdict.FAILED_NEW


def test_openqa_incomplete_job_is_infra_with_its_reason():
    run = run_event(source="openqa", result="incomplete", log_url="https://openqa.example.org/tests/4242")
    assert tree_location(run) == "https://openqa.example.org/"
    report = analyze(TREES / "openqa", run)
    assert report.results_file == "api/v1/jobs/4242/details"
    assert report.verdict is Verdict.INFRA
    assert report.failures[0].test_id == "x11/firefox"
    assert report.failures[0].classification is Classification.INFRA
    assert "backend died" in report.infra[0].excerpt
    assert report.components["BUILD"] == "20261120"


def test_zuul_job_without_tests_says_which_task_failed_and_component_versions():
    run = run_event(job="devstack-multinode")
    report = analyze(TREES / "zuul-task-failed", run)
    assert report.verdict is Verdict.FAILED_NEW
    [failure] = report.failures
    assert failure.test_id == "job:devstack-multinode"
    assert "configure-swap : Make swap" in failure.evidence[0].excerpt
    assert "swap area needs to be at least 40 KiB" in failure.details
    assert report.components["openstack/nova"] == "master 0a1b2c3d4e5f"
    assert report.components["oslo.config"] == "9.6.0"
    assert report.components["qemu-system-x86"] == "1:8.2.2+ds-0ubuntu1"


def public_analyzer(fetch: FetchSettings) -> Analyzer:
    """The Lambda's analyzer (no local trees), with no signatures and the built-in rules."""
    return Analyzer(FakeList([]), InfraRuleSet(load_builtin_rules()), fetch, LayoutSettings(), None)


@pytest.mark.parametrize(
    "log_url", ["http://169.254.169.254/latest/meta-data/", "https://10.1.2.3/logs/", "https://127.0.0.1/x/"]
)
def test_webhook_log_url_at_metadata_or_private_address_fetches_nothing(log_url):
    # Given an analyzer whose only log host is public, and a run pointing elsewhere
    service = public_analyzer(FetchSettings(log_hosts=["logs.example.org"]))
    # When it is analyzed
    report = service.analyze(run_event(log_url=log_url))
    # Then nothing was fetched, the verdict is no_results and the note says why
    assert report.verdict is Verdict.NO_RESULTS
    assert report.tests.total == 0
    assert any("Logs unavailable" in n and "not a configured log host" in n for n in report.notes)


def test_allowed_host_name_resolving_to_private_address_is_refused_with_reason():
    service = public_analyzer(FetchSettings(log_hosts=["localhost"]))
    report = service.analyze(run_event(log_url="https://localhost/logs/"))
    assert report.verdict is Verdict.NO_RESULTS
    assert any("non-public address" in n for n in report.notes)


def test_components_a_subscriber_cares_about_are_selected_by_glob():
    components = {"openstack/nova": "master 0a1b", "python3-novaclient": "18.1", "libvirt0": "10.0"}
    assert components_matching(components, ["*nova*"]) == {
        "openstack/nova": "master 0a1b",
        "python3-novaclient": "18.1",
    }
    assert components_matching(components, []) == components


def test_openqa_softfailed_job_is_a_pass(tmp_path):
    # Given an openQA job that softfailed: every module passed, one with a soft failure
    details = json.loads((TREES / "openqa" / "api" / "v1" / "jobs" / "4242" / "details").read_text())
    details["job"].update(result="softfailed", reason=None)
    for module in details["job"]["testresults"]:
        module["result"] = "softfailed" if module["name"] == "zypper_ref" else "passed"
    target = tmp_path / "api" / "v1" / "jobs" / "4242" / "details"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(details))
    run = run_event(source="openqa", result="softfailed", log_url="https://openqa.example.org/tests/4242")
    # When analyzed
    report = analyze(tmp_path, run)
    # Then it passed, with no infrastructure finding
    assert report.verdict is Verdict.PASSED
    assert report.infra == []
    assert report.tests.passed == 4


def test_tripleo_tempest_run_log_is_the_fallback_when_nothing_else_exists(tmp_path):
    # Given a TripleO tree whose only tempest output is the stestr console in tempest_run.log.gz
    target = tmp_path / "logs" / "undercloud" / "var" / "log" / "tempest" / "tempest_run.log.gz"
    target.parent.mkdir(parents=True)
    shutil.copyfile(EVENTS_LOGS / "tempest-console-only" / "job-output.txt.gz", target)
    # When analyzed
    report = analyze(tmp_path)
    # Then the ten results are read from it
    assert report.results_file == "logs/undercloud/var/log/tempest/tempest_run.log.gz"
    assert (report.tests.total, report.tests.failed, report.tests.skipped) == (10, 1, 1)
    assert report.verdict is Verdict.FAILED_NEW


def test_a_tree_with_only_html_results_says_so(tmp_path):
    (tmp_path / "zuul-manifest.json").write_text(
        json.dumps({"tree": [{"name": "testr_results.html", "mimetype": "text/html"}]})
    )
    (tmp_path / "testr_results.html").write_text("<html>results</html>")
    report = analyze(tmp_path)
    assert report.verdict is Verdict.NO_RESULTS
    assert any("Only HTML results were found (testr_results.html)" in n for n in report.notes)


def test_a_tree_listing_thousands_of_result_files_reads_a_bounded_number(tmp_path):
    # Given a tree whose listing holds 1,000 JUnit files
    from citriage.analyze.logs.readers import MAX_RESULT_FILES

    results = tmp_path / "test-results"
    results.mkdir()
    for n in range(1000):
        (results / f"junit-{n:04d}.xml").write_text(
            f'<testsuite><testcase classname="t" name="case{n}"/></testsuite>'
        )
    opened: list[str] = []
    tree = LocalLogTree(tmp_path, FetchBudget(1 << 26, 1 << 28))
    original = tree.open

    def counting_open(path, tail_bytes=0):
        opened.append(path)
        return original(path, tail_bytes)

    tree.open = counting_open  # type: ignore[method-assign]
    report = analyze_run(
        run_event(log_url=tmp_path.as_uri()),
        tree,
        SignatureSet([], datetime.now(UTC).date()),
        InfraRuleSet(load_builtin_rules()),
    )
    # Then at most the cap of them is opened, and the report says how many were skipped
    assert len([p for p in opened if p.endswith(".xml")]) == MAX_RESULT_FILES
    assert report.tests.total == MAX_RESULT_FILES
    assert (
        f"Read the first {MAX_RESULT_FILES} of 1000 junit result files; the rest were skipped."
        in report.notes
    )
