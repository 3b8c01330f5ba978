"""`citriage analyze` runs the Lambda's analysis: every CI layout, and the site's RESULT_PATHS."""

import io
import json
import zipfile

import pytest
from citriage.cli.main import main

from tests.fake_ci import fake_ci

pytestmark = pytest.mark.integration
API = "/repos/o/r/actions"
JUNIT = b"""<testsuite name="s"><testcase classname="t.A" name="ok"/>
<testcase classname="t.A" name="bad"><failure message="boom">Traceback: boom
AssertionError: boom</failure></testcase>
</testsuite>"""


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_analyze_ci_github_reads_the_run_through_the_github_api(capsys):
    # Given a stand-in GitHub API with a run whose artifact holds a JUnit file
    with fake_ci() as ci:
        ci.json(
            f"{API}/runs/7/attempts/1/jobs?per_page=100",
            {"jobs": [{"id": 1, "name": "unit", "conclusion": "failure"}]},
        )
        ci.text(f"{API}/jobs/1/logs", "collected 2 items\nFAILED t.A.bad\n")
        ci.json(
            f"{API}/runs/7/artifacts?per_page=100",
            {"artifacts": [{"id": 10, "name": "junit", "expired": False}]},
        )
        ci.text(f"{API}/artifacts/10/zip", zip_of({"junit.xml": JUNIT}), content_type="application/zip")
        # When the CLI is asked to analyze that run as a GitHub run
        status = main(
            [
                "analyze",
                f"{ci.url}{API}/runs/7",
                "--ci",
                "github",
                "--build-id",
                "7-1",
                "--allow-private",
                "--format",
                "json",
            ]
        )
        report = json.loads(capsys.readouterr().out)
        asked = [seen.path for seen in ci.seen]
    # Then the GitHub layout read the artifact's JUnit: two tests, one new failure
    assert status == 0
    assert report["tests"] == {"total": 2, "passed": 1, "failed": 1, "skipped": 0}
    assert [f["test_id"] for f in report["failures"]] == ["t.A.bad"]
    assert report["verdict"] == "failed_new"
    assert f"{API}/artifacts/10/zip" in asked


def test_analyze_honours_result_paths_for_a_file_no_default_finds(capsys, tmp_path, monkeypatch):
    # Given a local tree whose only results are at a path no layout knows, under an odd name
    (tmp_path / "out" / "qa").mkdir(parents=True)
    (tmp_path / "out" / "qa" / "outcome.xml").write_bytes(JUNIT)
    # When RESULT_PATHS names it for the job
    monkeypatch.setenv("RESULT_PATHS", json.dumps({"nightly-*": ["out/qa/outcome.xml"]}))
    status = main(["analyze", str(tmp_path), "--job", "nightly-qa", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    # Then the file is read
    assert status == 0
    assert report["tests"]["total"] == 2 and report["results_file"] == "out/qa/outcome.xml"
    # And without the setting, nothing is found
    monkeypatch.delenv("RESULT_PATHS")
    main(["analyze", str(tmp_path), "--job", "nightly-qa", "--format", "json"])
    assert json.loads(capsys.readouterr().out)["verdict"] == "no_results"
