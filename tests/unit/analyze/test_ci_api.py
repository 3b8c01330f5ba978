"""The CI API readers' pure parts: URL checks, GitLab's test report, wildcard log hosts."""

from __future__ import annotations

import pytest
from citriage.analyze.ci_api.github import GitHubRun
from citriage.analyze.ci_api.gitlab import GitLabPipelineRun
from citriage.analyze.logs.policy import AllowedHost, UrlPolicy
from citriage.analyze.logs.streams import FetchBudget
from citriage.analyze.parsers.gitlab import parse_gitlab_test_report
from citriage.config import FetchSettings
from citriage.errors import FetchRefused
from citriage.models import RunEvent, TestStatus

SETTINGS = FetchSettings(log_hosts=["api.github.com", "gitlab.example.org"])


def budget() -> FetchBudget:
    return FetchBudget(1024, 4096)


def test_wildcard_log_host_allows_subdomains_only():
    policy = UrlPolicy(
        FetchSettings(log_hosts=["*.blob.core.windows.net"]), resolve=lambda host, port: ["20.60.1.1"]
    )
    policy.check("https://productionresultssa7.blob.core.windows.net/actions-results/x.txt")
    for url in [
        "https://blob.core.windows.net/x",
        "https://evilblob.core.windows.net/x",
        "http://a.blob.core.windows.net/",
    ]:
        with pytest.raises(FetchRefused):
            policy.check(url)
    assert AllowedHost.parse("*.example.org:8443").matches("a.example.org", 8443)
    assert not AllowedHost.parse("*.example.org:8443").matches("a.example.org", 443)


def test_gitlab_test_report_statuses_and_unknown_cases():
    notes: list[str] = []
    report = {
        "test_suites": [
            {
                "name": "unit",
                "test_cases": [
                    {"status": "success", "name": "a", "classname": "t.A", "execution_time": 0.5},
                    {"status": "failed", "name": "b", "classname": "t.A", "system_output": "boom"},
                    {"status": "error", "name": "c", "classname": "", "stack_trace": "Traceback"},
                    {"status": "skipped", "name": "d", "classname": "t.A"},
                    {"status": "weird", "name": "e"},
                    "not a case",
                ],
            },
            "not a suite",
        ]
    }
    results = parse_gitlab_test_report(report, "test_report", notes)
    assert [(r.test_id, r.status) for r in results] == [
        ("t.A.a", TestStatus.PASSED),
        ("t.A.b", TestStatus.FAILED),
        ("c", TestStatus.FAILED),
        ("t.A.d", TestStatus.SKIPPED),
    ]
    assert results[1].details == "boom" and results[0].duration == 0.5
    assert notes == ["test_report: skipped 2 test case(s) with no name or an unknown status."]
    assert parse_gitlab_test_report([], "x", notes) == []


def test_github_run_refuses_an_api_url_that_is_not_its_run():
    run = RunEvent(
        source="github",
        job="o/r/CI",
        build_id="5-1",
        log_url="https://api.github.com/repos/o/r/actions/runs/6",
    )
    with pytest.raises(FetchRefused, match="not the API URL"):
        GitHubRun(run, SETTINGS, budget(), None)
    with pytest.raises(FetchRefused, match="not a configured log host"):
        GitHubRun(
            run.model_copy(update={"log_url": "https://evil.example/repos/o/r/actions/runs/5"}),
            SETTINGS,
            budget(),
            None,
        )


def test_gitlab_run_needs_a_pipeline_api_url():
    with pytest.raises(FetchRefused, match="not the API URL"):
        GitLabPipelineRun(
            "https://gitlab.example.org/group/app/-/pipelines/9", None, SETTINGS, budget(), None
        )
