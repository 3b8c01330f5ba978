"""An openQA build through the real handlers to a release decision: signed `job.done` webhooks of
three jobs, each analysed from a stand-in openQA on loopback (its job details, its log, and the
build's overview, which says how many jobs the build has); the buildset's one BuildsetAnalyzed;
and ReleaseGateFunction declining, or accepting, the release request on a stand-in OBS."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
import requests
from citriage.adapters.aws.buildsets import BuildsetStore
from citriage.adapters.aws.events import EventPublisher
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.local.embedded import HandlerChain
from citriage.models import KnownIssue

from tests.conftest import EVENTS, REPO, SENDER
from tests.fake_ci import FakeCi, Route, fake_ci

pytestmark = pytest.mark.integration
OBS_LOGIN = "qam-bot:obs-password"
FIXTURES = REPO / "tests" / "fixtures" / "ci" / "openqa"
# The failed step of the details fixture dies with this line in autoinst-log.txt.
DIED = "command 'zypper -n in vim' failed"


def _host(ci: FakeCi) -> str:
    return ci.url.split("://", 1)[1]


@pytest.fixture
def servers() -> Iterator[tuple[FakeCi, FakeCi]]:
    with ExitStack() as stack:
        yield stack.enter_context(fake_ci()), stack.enter_context(fake_ci())


@pytest.fixture
def chain(embedded_aws, log_server, servers, tmp_path: Path, monkeypatch) -> HandlerChain:
    openqa, obs = servers
    requests.post(f"{embedded_aws.endpoint}/moto-api/reset", timeout=10).raise_for_status()
    stack = embedded_aws.provision(
        SENDER, [log_server, openqa.url], tmp_path / "out", ci_tokens={"obs": {_host(obs): OBS_LOGIN}}
    )
    # The template's ReleaseGateUrl, ReleaseGateGroup and ReleaseGateRequestPattern, as a site sets them
    monkeypatch.setenv("RELEASE_GATE_URL", obs.url)
    monkeypatch.setenv("RELEASE_GATE_GROUP", "qam-openqa")
    monkeypatch.setenv("RELEASE_GATE_REQUEST_PATTERN", r":(?P<request>\d+):")
    return HandlerChain(stack)


def job(openqa: FakeCi, n: int, build: str, failed: bool) -> bytes:
    """One job of `build` on the stand-in openQA: its details (the fixture's, failed, or every step
    passed) and log; the signed job.done body that announces it."""
    details = json.loads((FIXTURES / "details.json").read_text())
    details["job"].update(id=n, result="failed" if failed else "passed")
    details["job"]["settings"]["BUILD"] = build
    if not failed:
        for step in details["job"]["testresults"]:
            step.update(result="passed", details=[])
    openqa.json(f"/api/v1/jobs/{n}/details", details)
    openqa.text(f"/tests/{n}/file/autoinst-log.txt", (FIXTURES / "autoinst-log.txt").read_text())
    message = json.loads(
        (EVENTS / "openqa" / "job-done.json").read_text().replace("${CI_SERVER}", openqa.url)
    )
    message.update(id=n, BUILD=build, result="failed" if failed else "passed", TEST=f"test{n}")
    return json.dumps(message).encode()


BUILDS: dict[str, list[dict]] = {}


def overview(query: dict[str, str]) -> Route:
    """openQA's build overview: the latest job of each scenario of a build in a job group."""
    jobs = BUILDS.get(query.get("build", "")) if query.get("groupid") == "1" else None
    return Route(body=json.dumps(jobs).encode()) if jobs else Route(status=404)


def build(chain: HandlerChain, openqa: FakeCi, name: str, jobs: dict[int, bool]) -> None:
    BUILDS[name] = [
        {"id": n, "name": f"opensuse-Tumbleweed-DVD-x86_64-Build{name}-test{n}@64bit"} for n in jobs
    ]
    openqa.handlers["/api/v1/jobs/overview"] = overview
    for n, failed in jobs.items():
        body = job(openqa, n, name, failed)
        key = chain.stack.webhook_keys["openqa"]
        status, answer = chain.post("openqa", body, {"X-Citriage-Signature": sign_hmac_sha256(body, key)})
        assert status == 202 and len(answer["accepted"]) == 1, answer
    chain.run_pending()


def decisions(obs: FakeCi) -> dict[str, dict[str, str]]:
    return {urlsplit(p.path).path: dict(parse_qsl(urlsplit(p.path).query)) for p in obs.posts()}


def test_a_build_with_a_new_failure_is_declined_and_one_with_known_failures_accepted(chain, servers):
    openqa, obs = servers
    for request in ("41234", "41235"):
        obs.action(f"/request/{request}", document={"status": "ok"})
    # Given a build of three jobs, one failing on something no signature knows
    build(chain, openqa, ":41234:kernel-default", {101: False, 102: True, 103: False})
    table = boto3.resource("dynamodb").Table(chain.stack.env["BUILDSETS_TABLE"])
    first = BuildsetStore(table).get(f"openqa:{_host(openqa)}/1/:41234:kernel-default")
    # Then its one event is not approvable and names the failing test
    assert first is not None and first.published is not None
    event = first.published
    assert (event.expected, event.analyzed, event.approvable) == (3, 3, False)
    assert [(b.job, b.test_id) for b in event.blocking] == [("test102", "console/zypper_in")]
    # And the gate declined the request on the stand-in OBS, with that failure in the comment
    declined = decisions(obs)["/request/41234"]
    assert (declined["cmd"], declined["by_group"], declined["newstate"]) == (
        "changereviewstate",
        "qam-openqa",
        "declined",
    )
    assert (
        "test102 console/zypper_in" in declined["comment"]
        and f"{openqa.url}/tests/102" in declined["comment"]
    )
    assert obs.posts()[0].headers["authorization"] == "Basic " + base64.b64encode(OBS_LOGIN.encode()).decode()

    # Given a signature for that failure's log line, scoped to its test (a log line explains only
    # the tests a signature names: docs/classification.md, failure-3), and a second build whose
    # two failures are both it
    KnownIssueStore(boto3.resource("dynamodb").Table(chain.stack.env["KNOWN_ISSUES_TABLE"])).put(
        KnownIssue(
            id="bsc-1234567",
            title="zypper cannot install vim",
            bug_url="https://bugzilla.suse.com/show_bug.cgi?id=1234567",
            pattern=DIED,
            tests=["console/zypper_in"],
        )
    )
    build(chain, openqa, ":41235:kernel-default", {201: True, 202: True, 203: False})
    # Then that request is accepted, naming the known bug; each request was decided once
    accepted = decisions(obs)["/request/41235"]
    assert accepted["newstate"] == "accepted" and "bsc-1234567" in accepted["comment"]
    assert len(obs.posts()) == 2
    # And the bus delivering both events again (at least once) decides nothing again
    second = BuildsetStore(table).get(f"openqa:{_host(openqa)}/1/:41235:kernel-default")
    assert second is not None and second.published is not None and second.published.approvable
    bus = EventPublisher(boto3.client("events"), chain.stack.env["EVENT_BUS_NAME"])
    for again in (event, second.published):
        bus.buildset_analyzed(again)
    assert chain.answer_pending() == 4  # each event through FeedbackFunction and the gate
    assert len(obs.posts()) == 2
