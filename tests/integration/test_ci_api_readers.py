"""The GitHub and GitLab readers against a local server playing the API: partial failures end
as notes in the report, never as a lost analysis."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest
from citriage.analyze.ci_api.github import FAILED_JOBS_LOG, GitHubLayout, GitHubRun
from citriage.analyze.ci_api.gitlab import GitLabLayout, GitLabPipelineRun
from citriage.analyze.logs.readers import ReadContext, read_results
from citriage.analyze.logs.streams import FetchBudget, iter_lines
from citriage.config import FetchSettings, LayoutSettings
from citriage.models import RunEvent, TestStatus

from tests.fake_ci import FakeCi, Route, fake_ci

pytestmark = pytest.mark.integration
API = "/repos/o/r/actions"
JUNIT = b"""<testsuite name="s"><testcase classname="t.A" name="ok"/>
<testcase classname="t.A" name="bad"><failure message="boom">Traceback: boom</failure></testcase>
</testsuite>"""


def settings(ci: FakeCi, **kwargs) -> FetchSettings:
    return FetchSettings(log_hosts=[ci.url], allow_private_addresses=True, retries=0, **kwargs)


def github_event(ci: FakeCi) -> RunEvent:
    return RunEvent(source="github", job="o/r/CI", build_id="7-2", log_url=f"{ci.url}{API}/runs/7")


def github_run(ci: FakeCi, max_file_bytes: int = 1 << 20) -> GitHubRun:
    return GitHubRun(github_event(ci), settings(ci), FetchBudget(max_file_bytes, 1 << 24), token="t0ken")


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def corrupt_member(data: bytes, name: str) -> bytes:
    """Flip the stored CRC of one member (local header and central directory)."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    crc = info.CRC.to_bytes(4, "little")
    bad = (info.CRC ^ 0xFFFFFFFF).to_bytes(4, "little")
    return data.replace(crc, bad)


def test_failed_jobs_log_skips_an_unavailable_log_and_reads_the_others():
    with fake_ci() as ci:
        jobs = {
            "total_count": 3,
            "jobs": [
                {"id": 1, "name": "unit", "conclusion": "failure"},
                {"id": 2, "name": "lint", "conclusion": "success"},
                {"id": 3, "name": "func", "conclusion": "timed_out"},
            ],
        }
        ci.json(f"{API}/runs/7/attempts/2/jobs?per_page=100", jobs)
        ci.routes[f"{API}/jobs/1/logs"] = Route(fail_times=10, body=b"never")
        ci.text(f"{API}/jobs/3/logs", "step 4 hung\nError: timed out after 60m\n")
        run = github_run(ci)
        # When the failed jobs' logs are read as one console
        stream = run.open(FAILED_JOBS_LOG)
        assert stream is not None
        lines = list(iter_lines(stream))
    # Then the timed-out job's log is there, the unavailable one is named, lint is not read
    assert lines == [
        "==== unit ====",
        "(log unavailable)",
        "==== func ====",
        "step 4 hung",
        "Error: timed out after 60m",
        "",
    ]
    assert any(note.startswith("Log of unit unavailable") for note in run.budget.notes)
    assert not ci.requests_to(f"{API}/jobs/2/")
    assert all(s.headers["authorization"] == "Bearer t0ken" for s in ci.seen)


def test_junit_from_artifacts_survives_a_corrupt_member_and_an_oversized_zip():
    with fake_ci() as ci:
        good = zip_of({"a/junit.xml": JUNIT, "a/other.xml": JUNIT.replace(b"t.A", b"t.B"), "a/log.txt": b"x"})
        ci.json(
            f"{API}/runs/7/artifacts?per_page=100",
            {
                "artifacts": [
                    {"id": 10, "name": "junit-py312", "expired": False},
                    {"id": 11, "name": "test-results-big", "expired": False},
                    {"id": 12, "name": "coverage", "expired": False},
                    {"id": 13, "name": "junit-old", "expired": True},
                ]
            },
        )
        ci.text(f"{API}/artifacts/10/zip", corrupt_member(good, "a/other.xml"), "application/zip")
        ci.text(
            f"{API}/artifacts/11/zip",
            zip_of({"junit.xml": JUNIT, "core.bin": os.urandom(8192)}),
            "application/zip",
        )
        run = github_run(ci, max_file_bytes=4096)
        notes = run.budget.notes
        # When the results are found and read as analysis does
        found = GitHubLayout().discover(github_event(ci), run, LayoutSettings(), notes)
        read = read_results(run, found, ReadContext(notes))
    # Then the intact member's results are kept, and each problem is a note
    assert [f.path for f in found.results] == [
        "artifact/junit-py312/a/junit.xml",
        "artifact/junit-py312/a/other.xml",
    ]
    assert (read.tests.total, read.tests.passed) == (2, 1)
    assert [(r.test_id, r.status) for r in read.failed] == [("t.A.bad", TestStatus.FAILED)]
    assert any("junit-py312/a/other.xml could not be read" in n for n in notes)
    assert any("test-results-big is not a readable zip" in n for n in notes)
    assert not ci.requests_to(f"{API}/artifacts/12/") and not ci.requests_to(f"{API}/artifacts/13/")


def test_gitlab_pipeline_without_a_test_report_says_so():
    with fake_ci() as ci:
        ci.json("/api/v4/projects/7/pipelines/9/test_report", {"total_count": 0, "test_suites": []})
        ci.json(
            "/api/v4/projects/7/pipelines/9/jobs?per_page=100",
            [{"id": 5, "name": "build", "status": "success"}],
        )
        budget = FetchBudget(1 << 20, 1 << 24)
        log_url = f"{ci.url}/api/v4/projects/7/pipelines/9"
        run = GitLabPipelineRun(log_url, None, settings(ci), budget, None)
        notes: list[str] = []
        event = RunEvent(source="gitlab", job="g/app", build_id="9", log_url=log_url)
        found = GitLabLayout().discover(event, run, LayoutSettings(), notes)
        assert not read_results(run, found, ReadContext(notes)).found
        assert run.open("failed-jobs.log") is None
    assert notes[0] == "The pipeline has no test report (no job publishes artifacts:reports:junit)."
    assert all("private-token" not in s.headers for s in ci.seen)
    assert json.loads(json.dumps(notes))  # notes are plain JSON-able sentences
