"""`citriage analyze DIR --known-issues FILE --format json` on the bundled log trees."""

import json

import pytest
from citriage.cli.main import main

from tests.conftest import EVENTS

KNOWN = str(EVENTS / "known-issues.yaml")


def analyze(capsys, tree: str, *extra: str) -> dict:
    assert (
        main(["analyze", str(EVENTS / "logs" / tree), "--known-issues", KNOWN, "--format", "json", *extra])
        == 0
    )
    return json.loads(capsys.readouterr().out)


def test_mixed_tree_is_failed_new_with_known_infra_and_new(capsys):
    report = analyze(capsys, "tempest-mixed", "--job", "tempest-full-py3")
    assert report["verdict"] == "failed_new"
    assert report["tests"] == {"total": 50, "passed": 45, "failed": 3, "skipped": 2}
    by_class = {f["classification"]: f for f in report["failures"]}
    assert sorted(by_class) == ["infra", "known", "new"]
    assert by_class["known"]["known_issue"]["id"] == "LP-1929710"
    assert "test_attach_detach_volume_to_instance" in by_class["known"]["test_id"]
    assert by_class["infra"]["evidence"][0]["matched_by"] == "dns-temporary-failure"
    assert "test_rebuild_server" in by_class["infra"]["test_id"]
    assert "test_create_port_with_no_securitygroups" in by_class["new"]["test_id"]
    assert by_class["new"]["known_issue"] is None
    assert set(report) >= {"run", "verdict", "tests", "failures", "infra", "notes"}


def test_only_known_failures_is_failed_known(capsys):
    report = analyze(capsys, "tempest-known", "--job", "tempest-integrated-storage")
    assert report["verdict"] == "failed_known"
    assert sorted(f["known_issue"]["id"] for f in report["failures"]) == ["LP-1929710", "LP-1999999"]


def test_devstack_dying_on_a_full_disk_is_infra_disk(capsys):
    report = analyze(capsys, "devstack-disk-full", "--job", "devstack-platform-ubuntu-noble")
    assert report["verdict"] == "infra"
    assert [i["category"] for i in report["infra"]] == ["disk"]
    assert "No space left on device" in report["infra"][0]["excerpt"]


def test_all_passing_is_passed(capsys):
    report = analyze(capsys, "tempest-passing", "--job", "tempest-integrated-networking")
    assert report["verdict"] == "passed"
    assert report["failures"] == [] and report["tests"]["passed"] == 29


@pytest.mark.parametrize("result", [[], ["--result", "FAILURE"]])
def test_no_results_and_no_infra_explanation_is_no_results(capsys, result):
    report = analyze(capsys, "no-results", "--job", "devstack-multinode", *result)
    assert report["verdict"] == "no_results"
    assert report["failures"] == [] and report["infra"] == []
    assert any("No test results were found" in note for note in report["notes"])


def test_console_only_tree_reads_results_from_the_gzipped_console(capsys):
    report = analyze(capsys, "tempest-console-only", "--job", "tempest-integrated-compute")
    assert report["results_file"] == "job-output.txt.gz"
    assert report["tests"] == {"total": 10, "passed": 8, "failed": 1, "skipped": 1}
    (failure,) = report["failures"]
    assert failure["classification"] == "new"
    assert failure["details"].endswith("AssertionError: False is not true : Server status ERROR")


def test_out_writes_the_mail_files(capsys, tmp_path):
    analyze(capsys, "tempest-mixed", "--job", "tempest-full-py3", "--out", str(tmp_path))
    assert len(list(tmp_path.glob("*.eml"))) == 1 and len(list(tmp_path.glob("*.html"))) == 1


def test_invalid_signature_file_is_a_clear_error(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: X\n  title: t\n  bug_url: https://b\n  pattern: '(a)\\1'\n")
    assert main(["analyze", str(EVENTS / "logs" / "tempest-mixed"), "--known-issues", str(bad)]) == 2
    assert "not valid RE2" in capsys.readouterr().err
