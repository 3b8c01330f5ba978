"""Answering the CI: buildsets gathered in the real buildsets table (the embedded endpoint), their
verdicts answered on stand-in Gerrit, GitHub and GitLab servers on loopback, and the release
gate deciding on a stand-in OBS. Every event is delivered more than once, and concurrently:
each CI still gets one answer per buildset."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from citriage.adapters.aws.buildsets import BuildsetStore
from citriage.adapters.aws.dynamodb import DedupeStore, RunStore
from citriage.config import FetchSettings
from citriage.feedback.buildsets import BuildsetTracker
from citriage.feedback.gate import ReleaseGate
from citriage.feedback.http import CiApi
from citriage.feedback.reviews import FeedbackFailed, ReviewService
from citriage.models import RunAnalyzed, RunEvent, RunReport
from citriage.models.buildset import BuildsetAnalyzed, FeedbackPolicy
from citriage.models.report import Classification, Failure, KnownIssueRef, TestCounts, Verdict

from tests.fake_ci import FakeCi, fake_ci
from tests.unit.fakes import FakePublisher, FakeTokens

pytestmark = pytest.mark.integration

GERRIT_LOGIN = "citriage-bot:gerrit-http-password"
OBS_LOGIN = "qam-bot:obs-password"
BUG = KnownIssueRef(id="LP-1929710", bug_url="https://bugs.launchpad.net/nova/+bug/1929710", title="attach")
NEW = Failure(
    test_id="tempest.api.network.test_ports.PortsTestJSON.test_create_port",
    classification=Classification.NEW,
    message="testtools.matchers._impl.MismatchError: 2 != 3",
)
KNOWN = Failure(
    test_id="tempest.api.volume.test_volumes_actions.VolumesActionsTest.test_attach",
    classification=Classification.KNOWN,
    known_issue=BUG,
    message="volume stuck attaching",
)
REVIEW_PATH = "/a/changes/openstack%2Fnova~912345/revisions/3/review"


def _host(ci: FakeCi) -> str:
    return ci.url.split("://", 1)[1]


@pytest.fixture
def cis() -> Iterator[dict[str, FakeCi]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(fake_ci()) for name in ("gerrit", "github", "gitlab", "obs")}


def tokens(cis: dict[str, FakeCi]) -> FakeTokens:
    return FakeTokens(
        {
            "gerrit": {_host(cis["gerrit"]): GERRIT_LOGIN},
            "github": {_host(cis["github"]): "ghs_installation_token"},
            "gitlab": {_host(cis["gitlab"]): "glpat-token"},
            "obs": {_host(cis["obs"]): OBS_LOGIN},
        }
    )


def settings(cis: dict[str, FakeCi]) -> FetchSettings:
    return FetchSettings(log_hosts=[c.url for c in cis.values()], allow_private_addresses=True)


def report(run: RunEvent, verdict: Verdict, *failures: Failure) -> RunReport:
    return RunReport(run=run, verdict=verdict, tests=TestCounts(), failures=list(failures))


def gathered(stack, reports: list[RunReport]) -> list[BuildsetAnalyzed]:
    """The reports stored in the runs table and fed to the tracker over the real buildsets table."""
    dynamodb = boto3.resource("dynamodb")
    runs = RunStore(dynamodb.Table(stack.env["RUNS_TABLE"]))
    bus = FakePublisher()
    tracker = BuildsetTracker(
        BuildsetStore(dynamodb.Table(stack.env["BUILDSETS_TABLE"])), runs, bus, timedelta(hours=3)
    )
    for r in reports:
        runs.put_report(r)
        tracker.on_run(RunAnalyzed.from_report(r))
    return bus.buildsets


def zuul_buildset(cis: dict[str, FakeCi]) -> list[RunReport]:
    def run(job: str) -> RunEvent:
        return RunEvent(
            source="zuul",
            job=job,
            build_id=f"uuid-{job}",
            result="FAILURE",
            log_url=f"https://logs.example.org/{job}/",
            project="openstack/nova",
            pipeline="check",
            change="912345",
            patchset="3",
            change_url=f"{cis['gerrit'].url}/c/openstack/nova/+/912345",
            buildset_id="bs-4e03",
            buildset_size=3,
            voting=True,
        )

    return [
        report(run("tempest-full-py3"), Verdict.FAILED_NEW, NEW, KNOWN),
        report(run("tempest-storage"), Verdict.FAILED_KNOWN, KNOWN),
        report(run("nova-tox-py312").model_copy(update={}), Verdict.PASSED),
    ]


def deliver(times: int, answer) -> list:
    """Deliver one event `times` times at once, then once more."""
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(answer())) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.append(answer())
    return results


def test_a_zuul_buildset_gets_one_gerrit_review_under_redelivery(stack, cis):
    cis["gerrit"].action(REVIEW_PATH, document={"labels": {}})
    (event,) = gathered(stack, zuul_buildset(cis))
    assert event.approvable is False and [b.test_id for b in event.blocking] == [NEW.test_id]
    dedupe = DedupeStore(boto3.resource("dynamodb").Table(stack.env["DEDUPE_TABLE"]))
    reviews = ReviewService(CiApi(settings(cis)), tokens(cis), dedupe, FeedbackPolicy())

    answers = deliver(3, lambda: reviews.answer(event))

    assert len([a for a in answers if a is not None]) == 1
    (post,) = cis["gerrit"].posts()
    assert post.path == REVIEW_PATH
    assert post.headers["authorization"] == "Basic " + base64.b64encode(GERRIT_LOGIN.encode()).decode()
    body = json.loads(post.body)
    assert body["tag"] == "autogenerated:citriage" and "labels" not in body
    message = body["message"]
    assert "1 new failure" in message
    assert f"{NEW.test_id}: {NEW.message}" in message
    assert "known bug LP-1929710 https://bugs.launchpad.net/nova/+bug/1929710" in message
    assert "Logs: https://logs.example.org/tempest-full-py3/" in message
    assert "- nova-tox-py312: passed" in message


def test_a_vote_is_cast_only_when_a_label_is_configured_and_a_5xx_is_tried_again(stack, cis):
    cis["gerrit"].action(REVIEW_PATH, document={"labels": {"Verified": -1}}, fail_times=1)
    (event,) = gathered(stack, zuul_buildset(cis))
    dedupe = DedupeStore(boto3.resource("dynamodb").Table(stack.env["DEDUPE_TABLE"]))
    reviews = ReviewService(CiApi(settings(cis)), tokens(cis), dedupe, FeedbackPolicy(vote_label="Verified"))
    with pytest.raises(FeedbackFailed):
        reviews.answer(event)
    answered = reviews.answer(event)
    assert answered is not None and answered.status == 200
    assert reviews.answer(event) is None
    first, second = cis["gerrit"].posts()
    assert json.loads(second.body)["labels"] == {"Verified": -1} and first.body == second.body


def github_run(cis: dict[str, FakeCi], attempt: int) -> RunEvent:
    api = f"{cis['github'].url}/api/v3/repos/octo/app"
    return RunEvent(
        source="github",
        job="octo/app/CI",
        build_id=f"77-{attempt}",
        result="failure",
        log_url=f"{api}/actions/runs/77",
        web_url="https://github.example.org/octo/app/actions/runs/77",
        project="octo/app",
        revision="8f1e2d3c4b5a69788776655443322110ffeeddcc",
        buildset_id=f"77-{attempt}",
        buildset_size=1,
    )


def test_a_github_run_gets_one_check_run_with_its_conclusion(stack, cis):
    cis["github"].action("/api/v3/repos/octo/app/check-runs", status=201, document={"id": 1})
    pytest_new = NEW.model_copy(update={"test_id": "tests/test_ports.py::test_create_port"})
    failed = report(github_run(cis, 1), Verdict.FAILED_NEW, pytest_new, KNOWN)
    passed = report(github_run(cis, 2), Verdict.PASSED)
    events = gathered(stack, [failed, passed])
    dedupe = DedupeStore(boto3.resource("dynamodb").Table(stack.env["DEDUPE_TABLE"]))
    reviews = ReviewService(CiApi(settings(cis)), tokens(cis), dedupe, FeedbackPolicy())
    for event in events:
        deliver(2, lambda event=event: reviews.answer(event))

    first, second = (json.loads(p.body) for p in cis["github"].posts())
    assert len(cis["github"].posts()) == 2
    assert cis["github"].posts()[0].headers["authorization"] == "Bearer ghs_installation_token"
    assert (first["head_sha"], first["status"], first["conclusion"]) == (
        "8f1e2d3c4b5a69788776655443322110ffeeddcc",
        "completed",
        "failure",
    )
    notes = first["output"]["annotations"]
    assert [(a["path"], a["annotation_level"]) for a in notes] == [
        ("tests/test_ports.py", "failure"),
        (".github", "notice"),
    ]
    assert "| octo/app/CI |" in first["output"]["summary"]
    assert second["conclusion"] == "success" and second["output"]["annotations"] == []


def test_a_gitlab_pipeline_gets_one_merge_request_note(stack, cis):
    cis["gitlab"].action("/api/v4/projects/5/merge_requests/17/notes", status=201, document={"id": 3})
    run = RunEvent(
        source="gitlab",
        job="group/app",
        build_id="99",
        result="failed",
        log_url=f"{cis['gitlab'].url}/api/v4/projects/5/pipelines/99",
        project="group/app",
        change="17",
        buildset_id="99",
        buildset_size=1,
    )
    (event,) = gathered(stack, [report(run, Verdict.FAILED_KNOWN, KNOWN)])
    dedupe = DedupeStore(boto3.resource("dynamodb").Table(stack.env["DEDUPE_TABLE"]))
    reviews = ReviewService(CiApi(settings(cis)), tokens(cis), dedupe, FeedbackPolicy())
    deliver(2, lambda: reviews.answer(event))
    (post,) = cis["gitlab"].posts()
    assert post.headers["private-token"] == "glpat-token"
    assert "known bug LP-1929710" in json.loads(post.body)["body"]


def openqa_buildset(request: str, known_only: bool) -> list[RunReport]:
    def run(job: str, n: int) -> RunEvent:
        return RunEvent(
            source="openqa",
            job=job,
            build_id=f"openqa.example.org/{n}",
            result="failed",
            log_url=f"https://openqa.example.org/tests/{n}",
            buildset_id=f":{request}:kernel-default",
            buildset_size=3,
        )

    second = report(run("ltp_syscalls", 2), Verdict.FAILED_KNOWN, KNOWN)
    if not known_only:
        second = report(run("ltp_syscalls", 2), Verdict.FAILED_NEW, NEW)
    return [
        report(run("boot", 1), Verdict.PASSED),
        second,
        report(run("kdump", 3), Verdict.FAILED_KNOWN, KNOWN),
    ]


def test_the_gate_declines_on_a_new_failure_and_accepts_known_failures_once_each(stack, cis):
    for request in ("41234", "41235"):
        cis["obs"].action(f"/request/{request}", document={"status": "ok"})
    declined = gathered(stack, openqa_buildset("41234", known_only=False))[0]
    accepted = gathered(stack, openqa_buildset("41235", known_only=True))[0]
    dedupe = DedupeStore(boto3.resource("dynamodb").Table(stack.env["DEDUPE_TABLE"]))
    gate = ReleaseGate(
        CiApi(settings(cis)), tokens(cis), dedupe, cis["obs"].url, "qam-openqa", r":(?P<request>\d+):"
    )
    for event in (declined, accepted):
        deliver(2, lambda event=event: gate.decide(event))

    posts = cis["obs"].posts()
    assert len(posts) == 2
    by_request = {urlsplit(p.path).path: dict(parse_qsl(urlsplit(p.path).query)) for p in posts}
    no = by_request["/request/41234"]
    assert (no["cmd"], no["by_group"], no["newstate"]) == ("changereviewstate", "qam-openqa", "declined")
    assert f"ltp_syscalls {NEW.test_id}: {NEW.message} (https://openqa.example.org/tests/2)" in no["comment"]
    yes = by_request["/request/41235"]
    assert yes["newstate"] == "accepted" and "LP-1929710" in yes["comment"]
    assert posts[0].headers["authorization"] == "Basic " + base64.b64encode(OBS_LOGIN.encode()).decode()


def test_the_gate_leaves_an_incomplete_buildset_and_one_that_names_no_request(stack, cis):
    dedupe = DedupeStore(boto3.resource("dynamodb").Table(stack.env["DEDUPE_TABLE"]))
    gate = ReleaseGate(
        CiApi(settings(cis)), tokens(cis), dedupe, cis["obs"].url, "qam", r":(?P<request>\d+):"
    )
    (event,) = gathered(stack, openqa_buildset("41236", known_only=True))
    assert gate.decide(event.model_copy(update={"incomplete": True, "approvable": False})) is None
    assert gate.decide(event.model_copy(update={"id": "openqa:no-request-here"})) is None
    assert cis["obs"].posts() == []
    assert datetime.now(UTC) > event.published_at


def test_an_openqa_builds_size_is_its_overview_and_unknown_when_openqa_cannot_say(cis):
    from citriage.feedback.sizes import BuildsetSizes

    openqa = cis["obs"]  # any stand-in server will do for openQA's API
    overview = [
        {"id": n, "name": f"sle-15-SP7-Online-x86_64-Build:41234:kernel-test{n}@64bit"} for n in (7, 8, 9)
    ]
    openqa.json("/api/v1/jobs/overview?build=%3A41234%3Akernel&groupid=12", overview)

    def run(build: str) -> RunEvent:
        return RunEvent(
            source="openqa",
            job="test7",
            build_id=f"{_host(openqa)}/7",
            log_url=f"{openqa.url}/tests/7",
            buildset_id=f"{_host(openqa)}/12/{build}",
        )

    sizes = BuildsetSizes(CiApi(settings(cis)))
    assert sizes.size_of(run(":41234:kernel")) == 3
    # Another job of the same build: openQA is not asked again
    assert sizes.size_of(run(":41234:kernel").model_copy(update={"build_id": "x/8"})) == 3
    assert len(openqa.requests_to("/api/v1/jobs/overview")) == 1
    assert sizes.size_of(run(":99999:other")) is None  # a 404: the run is not tracked
    assert BuildsetSizes(CiApi(FetchSettings())).size_of(run(":41234:kernel")) is None  # not a log host
