"""`citriage analyze DIR` lists the directory: results are found where people put them."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from citriage.analyze.failure_text import MARKER_PREFIX
from citriage.cli.main import main
from citriage.known_issues.yaml_file import load_known_issues_yaml

from tests.subunit_writer import subunit_stream

SUITE = textwrap.dedent(
    """
    def test_ok():
        assert True

    def test_bad():
        assert 1 + 1 == 3
    """
)


def pytest_junit(directory: Path, name: str) -> Path:
    """Run the real pytest on a two-test suite, writing its JUnit XML to directory/name."""
    suite = directory / "suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_tiny.py").write_text(SUITE)
    target = directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={target}", str(suite)],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    return target


def analyze_json(capsys, *args: str) -> dict:
    assert main(["analyze", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_top_level_junit_xml_is_found(capsys, tmp_path):
    pytest_junit(tmp_path, "junit.xml")
    report = analyze_json(capsys, str(tmp_path))
    assert report["tests"]["total"] == 2 and report["results_file"] == "junit.xml"
    assert [f["test_id"] for f in report["failures"]] == ["suite.test_tiny.test_bad"]


def test_test_results_folders_are_found(capsys, tmp_path):
    pytest_junit(tmp_path, "test-results/unit/output.xml")
    report = analyze_json(capsys, str(tmp_path))
    assert report["tests"]["total"] == 2 and report["results_file"] == "test-results/unit/output.xml"


def test_a_stestr_repository_is_found(capsys, tmp_path):
    repository = tmp_path / ".stestr"
    repository.mkdir()
    (repository / "0").write_bytes(
        subunit_stream([("t.A.ok", "success", ""), ("t.A.bad", "fail", "Traceback\nValueError: no")])
    )
    report = analyze_json(capsys, str(tmp_path))
    assert report["tests"]["total"] == 2
    assert [(f["test_id"], f["message"]) for f in report["failures"]] == [("t.A.bad", "ValueError: no")]


def test_results_names_a_file_no_default_finds_and_its_content_decides_the_format(capsys, tmp_path):
    pytest_junit(tmp_path, "out/qa.report")
    without = analyze_json(capsys, str(tmp_path))
    assert without["verdict"] == "no_results"
    assert any("--results GLOB" in note for note in without["notes"])
    report = analyze_json(capsys, str(tmp_path), "--results", "**/qa.report")
    assert report["tests"]["total"] == 2 and report["results_file"] == "out/qa.report"


def test_a_file_that_is_not_a_report_is_skipped_with_its_reason(capsys, tmp_path):
    (tmp_path / "test-results").mkdir()
    (tmp_path / "test-results" / "pom.xml").write_text("<?xml version='1.0'?><project><x/></project>")
    report = analyze_json(capsys, str(tmp_path))
    assert "Skipped test-results/pom.xml: XML whose root is <project>, not a JUnit report." in report["notes"]


def test_tox_environments_each_keep_their_failure(capsys, tmp_path):
    # Given the same suite run in two environments, failing only in the first
    pytest_junit(tmp_path, ".tox/py311/junit.xml")
    second = pytest_junit(tmp_path, ".tox/py312/junit.xml")
    second.write_text(second.read_text().replace("<failure", "<skipped").replace("</failure>", "</skipped>"))
    report = analyze_json(capsys, str(tmp_path))
    # Then the pass (here, a skip) in py312 does not erase the failure in py311
    assert report["tests"]["total"] == 4
    assert [(f["test_id"], f["env"]) for f in report["failures"]] == [("suite.test_tiny.test_bad", "py311")]


def test_a_huge_failure_keeps_its_exception_and_matches_a_signature_on_it(capsys, tmp_path):
    # Given a JUnit failure of 200 KB whose exception is its last line
    body = "Traceback (most recent call last):\n" + "".join(f"  frame {n}\n" for n in range(25_000))
    body += "oslo_db.exception.DBDeadlock: (pymysql.err.OperationalError) Deadlock found"
    xml = f'<testsuite><testcase classname="t.A" name="deep"><failure>{body}</failure></testcase></testsuite>'
    (tmp_path / "junit.xml").write_text(xml)
    known = tmp_path / "known.yaml"
    known.write_text(
        "- id: LP-2\n  title: deadlock\n  bug_url: https://bugs/2\n"
        "  pattern: '^oslo_db\\.exception\\.DBDeadlock: .*Deadlock found$'\n"
    )
    load_known_issues_yaml(known.read_text())
    report = analyze_json(capsys, str(tmp_path), "--known-issues", str(known))
    [failure] = report["failures"]
    assert failure["classification"] == "known" and failure["known_issue"]["id"] == "LP-2"
    assert failure["message"].startswith("oslo_db.exception.DBDeadlock")
    assert failure["details"].endswith("Deadlock found") and MARKER_PREFIX in failure["details"]
