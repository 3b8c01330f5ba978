"""Every CI source end to end: its real-shaped payload, signed as that CI signs it, POSTed to the
webhook handler -> analyze (reading the CI's API from a local server that plays it) -> notify.

One analysis and one mail per source; a wrong signature is a 401 with nothing enqueued.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from citriage.adapters.aws.dynamodb import RunStore, SubscriptionStore
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.local.embedded import EmbeddedAws, HandlerChain, LocalStack
from citriage.models import Subscription, Verdict

from tests.conftest import EVENTS, REPO, SENDER
from tests.e2e.test_zuul_webhook_to_mail import part, queue_depth, sent_mails
from tests.fake_ci import FakeCi, Route, fake_ci

pytestmark = pytest.mark.e2e
FIXTURES = REPO / "tests" / "fixtures" / "ci"
# The credentials the CI API tokens secret names for the fake CI's host (host:port).
TOKENS = {"jenkins": "citriage:jenkins-api-token", "github": "ghs_e2e", "gitlab": "glpat-e2e"}


@dataclass
class Delivery:
    """A webhook as the CI sends it, and what its analysis must find."""

    source: str
    body: bytes
    headers: dict[str, str]
    query: dict[str, str]
    job: str
    failed_test: str
    total_tests: int
    verdict: Verdict = Verdict.FAILED_NEW


def payload(source: str, name: str, ci: FakeCi, log_server: str) -> bytes:
    text = (EVENTS / source / name).read_text()
    return text.replace("${CI_SERVER}", ci.url).replace("${LOG_SERVER}", log_server).encode()


def fixture(source: str, name: str, ci: FakeCi | None = None) -> str:
    text = (FIXTURES / source / name).read_text()
    return text.replace("${CI_SERVER}", ci.url) if ci else text


def jenkins(stack: LocalStack, ci: FakeCi, blob: FakeCi, log_server: str, key: str | None = None) -> Delivery:
    # Analysis asks the report for the fields it reads (?tree=...): answer whatever the query.
    report = fixture("jenkins", "testReport.json").encode()
    ci.handlers["/job/nova-unit/42/testReport/api/json"] = lambda query: Route(body=report)
    ci.text("/job/nova-unit/42/consoleText", fixture("jenkins", "consoleText.txt"))
    # The Notification plugin cannot set headers: the token rides in the endpoint's query string.
    return Delivery(
        "jenkins",
        payload("jenkins", "notification-completed.json", ci, log_server),
        {"Content-Type": "application/json"},
        {"token": key or stack.webhook_keys["jenkins"]},
        "nova-unit",
        "nova.tests.unit.compute.test_compute.ComputeTestCase.test_resize_confirm",
        4,
    )


def github(stack: LocalStack, ci: FakeCi, blob: FakeCi, log_server: str, key: str | None = None) -> Delivery:
    api = "/repos/octo-org/compute/actions"
    ci.text(f"{api}/runs/30433642/attempts/1/jobs?per_page=100", fixture("github", "jobs.json", ci))
    ci.text(f"{api}/runs/30433642/artifacts?per_page=100", fixture("github", "artifacts.json", ci))
    # Logs and artifact zips are redirects to blob storage on another host, as on github.com.
    ci.redirect(f"{api}/jobs/399444496/logs", f"{blob.url}/logs/399444496.txt?sig=abc")
    blob.text("/logs/399444496.txt?sig=abc", fixture("github", "job-399444496.log"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("reports/junit.xml", fixture("github", "junit.xml"))
    ci.redirect(f"{api}/artifacts/1174/zip", f"{blob.url}/artifacts/1174.zip?sig=def")
    blob.text("/artifacts/1174.zip?sig=def", archive.getvalue(), "application/zip")
    body = payload("github", "workflow_run-completed.json", ci, log_server)
    return Delivery(
        "github",
        body,
        {
            "X-GitHub-Event": "workflow_run",
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "X-Hub-Signature-256": sign_hmac_sha256(body, key or stack.webhook_keys["github"]),
        },
        {},
        "octo-org/compute/CI",
        "tests.test_resize.TestResize.test_resize_confirm",
        3,
    )


def gitlab(stack: LocalStack, ci: FakeCi, blob: FakeCi, log_server: str, key: str | None = None) -> Delivery:
    api = "/api/v4/projects/7"
    ci.text(f"{api}/pipelines/1001/test_report", fixture("gitlab", "test_report.json"), "application/json")
    ci.text(f"{api}/pipelines/1001/jobs?per_page=100", fixture("gitlab", "jobs.json"), "application/json")
    ci.text(f"{api}/jobs/5001/trace", fixture("gitlab", "trace-5001.txt"))
    return Delivery(
        "gitlab",
        payload("gitlab", "pipeline-failed.json", ci, log_server),
        {"X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": key or stack.webhook_keys["gitlab"]},
        {},
        "group/compute",
        "tests.test_resize.TestResize.test_resize_confirm",
        3,
    )


def openqa(stack: LocalStack, ci: FakeCi, blob: FakeCi, log_server: str, key: str | None = None) -> Delivery:
    ci.text("/api/v1/jobs/4242/details", fixture("openqa", "details.json"), "application/json")
    ci.text("/tests/4242/file/autoinst-log.txt", fixture("openqa", "autoinst-log.txt"))
    body = payload("openqa", "job-done.json", ci, log_server)
    return Delivery(
        "openqa",
        body,
        {"X-Citriage-Signature": sign_hmac_sha256(body, key or stack.webhook_keys["openqa"])},
        {},
        "textmode",
        "console/zypper_in",
        4,
    )


def generic(stack: LocalStack, ci: FakeCi, blob: FakeCi, log_server: str, key: str | None = None) -> Delivery:
    body = payload("generic", "build-failed.json", ci, log_server)
    return Delivery(
        "generic",
        body,
        {"X-Citriage-Signature": sign_hmac_sha256(body, key or stack.webhook_keys["generic"])},
        {},
        "tempest-integrated-storage",
        "tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_server_basic_ops"
        "[compute,id-7fff3fb3-91d8-4fd0-bd7d-0204f1f180ba,network,smoke]",
        20,
        Verdict.FAILED_KNOWN,
    )


SOURCES: dict[str, Callable[..., Delivery]] = {
    "jenkins": jenkins,
    "github": github,
    "gitlab": gitlab,
    "openqa": openqa,
    "generic": generic,
}


@pytest.fixture
def servers() -> Iterator[tuple[FakeCi, FakeCi]]:
    with fake_ci() as ci, fake_ci() as blob:
        yield ci, blob


@pytest.fixture
def ci_stack(
    embedded_aws: EmbeddedAws, log_server: str, servers: tuple[FakeCi, FakeCi], tmp_path: Path
) -> LocalStack:
    """Fresh resources; the fake CI API and blob servers are allowed log hosts, and the CI API
    tokens secret names the fake CI's host (only) for every source's credential."""
    requests.post(f"{embedded_aws.endpoint}/moto-api/reset", timeout=10).raise_for_status()
    ci, blob = servers
    ci_host = urlsplit(ci.url).netloc
    tokens = {source: {ci_host: token} for source, token in TOKENS.items()}
    return embedded_aws.provision(SENDER, [log_server, ci.url, blob.url], tmp_path / "out", ci_tokens=tokens)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_signed_payload_becomes_one_analysis_and_one_mail(source, ci_stack, servers, log_server, tmp_path):
    ci, blob = servers
    # Given the CI's API on a local server, known issues, and a subscriber to the job
    delivery = SOURCES[source](ci_stack, ci, blob, log_server)
    dynamodb = boto3.resource("dynamodb")
    known = KnownIssueStore(dynamodb.Table(ci_stack.env["KNOWN_ISSUES_TABLE"]))
    for issue in load_known_issues_yaml((EVENTS / "known-issues.yaml").read_text()):
        known.put(issue)
    SubscriptionStore(dynamodb.Table(ci_stack.env["SUBSCRIPTIONS_TABLE"])).put(
        Subscription(email="team@example.org", jobs=[delivery.job], verdicts=list(Verdict))
    )
    chain = HandlerChain(ci_stack)
    # When the CI's webhook arrives, signed as that CI signs it
    status, response = chain.post(source, delivery.body, delivery.headers, delivery.query)
    # Then one run is accepted, and a redelivery of the same request is a duplicate
    assert status == 202, response
    assert len(response["accepted"]) == 1 and response["duplicates"] == []
    again_status, again = chain.post(source, delivery.body, delivery.headers, delivery.query)
    assert again_status == 202 and again == {"accepted": [], "duplicates": response["accepted"]}
    # When the queues are worked
    assert chain.run_pending() == (1, 1)
    # Then the report was read from the CI's API, with the failed test found
    report = RunStore(dynamodb.Table(ci_stack.env["RUNS_TABLE"])).get_report(response["accepted"][0])
    assert report is not None
    assert report.run.source == source and report.run.job == delivery.job
    assert report.tests.total == delivery.total_tests, report.notes
    assert delivery.failed_test in {f.test_id for f in report.failures}
    assert report.verdict is delivery.verdict
    # And exactly one mail went out, to the subscriber, naming the failed test
    mails = sent_mails()
    assert [dest for dest, _ in mails] == [["team@example.org"]]
    assert len(list((tmp_path / "out").glob("*.eml"))) == 1
    name = delivery.failed_test.split("[")[0].rsplit(".", 1)[-1].split("/")[-1]
    assert name in part(mails[0][1], "plain")


def test_api_tokens_go_to_the_ci_api_and_never_to_the_blob_host(ci_stack, servers, log_server):
    ci, blob = servers
    # Given GitHub and GitLab runs whose logs are read through their APIs
    chain = HandlerChain(ci_stack)
    for source in ("github", "gitlab", "jenkins"):
        delivery = SOURCES[source](ci_stack, ci, blob, log_server)
        assert chain.post(source, delivery.body, delivery.headers, delivery.query)[0] == 202
    # When they are analysed
    chain.run_pending()
    # Then each API request carried that CI's token, and the redirected blob downloads none
    github_requests = ci.requests_to("/repos/")
    assert github_requests and all(
        s.headers["authorization"] == f"Bearer {TOKENS['github']}" for s in github_requests
    )
    gitlab_requests = ci.requests_to("/api/v4/")
    assert gitlab_requests and all(s.headers["private-token"] == TOKENS["gitlab"] for s in gitlab_requests)
    jenkins_requests = ci.requests_to("/job/")
    basic = "Basic " + base64.b64encode(TOKENS["jenkins"].encode()).decode()
    assert jenkins_requests and all(s.headers["authorization"] == basic for s in jenkins_requests)
    assert blob.seen and all("authorization" not in s.headers for s in blob.seen)


def test_jenkins_credential_never_goes_to_a_host_the_webhook_names(ci_stack, servers, log_server):
    ci, other = servers
    # Given the Jenkins credential named for the CI's host only, and a webhook (holding the
    # valid Jenkins token) whose build.full_url is another allowed log host, Jenkins-shaped
    chain = HandlerChain(ci_stack)
    genuine = jenkins(ci_stack, ci, other, log_server)
    forged = jenkins(ci_stack, other, ci, log_server)
    for delivery in (genuine, forged):
        status, response = chain.post("jenkins", delivery.body, delivery.headers, delivery.query)
        assert status == 202 and len(response["accepted"]) == 1, response
    forged_id = response["accepted"][0]
    # When both builds are analysed
    chain.run_pending()
    # Then the other host was read without any Authorization header
    assert other.requests_to("/job/") and all("authorization" not in s.headers for s in other.seen)
    # And the configured Jenkins host got the credential
    basic = "Basic " + base64.b64encode(TOKENS["jenkins"].encode()).decode()
    ci_requests = ci.requests_to("/job/")
    assert ci_requests and all(s.headers.get("authorization") == basic for s in ci_requests)
    # And the forged run's report says the credential was withheld for that host
    report = RunStore(boto3.resource("dynamodb").Table(ci_stack.env["RUNS_TABLE"])).get_report(forged_id)
    assert report is not None
    assert any("none was sent there" in n and urlsplit(other.url).netloc in n for n in report.notes)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_wrong_signature_is_401_and_nothing_is_enqueued(source, ci_stack, servers, log_server):
    ci, blob = servers
    # Given the CI's payload signed (or tokened) with the wrong key
    delivery = SOURCES[source](ci_stack, ci, blob, log_server, key="not-the-key")
    # When it is POSTed
    status, response = HandlerChain(ci_stack).post(source, delivery.body, delivery.headers, delivery.query)
    # Then it is refused and nothing is queued
    assert status == 401, response
    assert queue_depth(ci_stack.analyze_queue_url) == 0


def test_jenkins_completed_then_finalized_is_analysed_once(ci_stack, servers, log_server):
    ci, blob = servers
    # Given the COMPLETED notification of a build, then its FINALIZED one
    delivery = jenkins(ci_stack, ci, blob, log_server)
    finalized = json.loads(delivery.body)
    finalized["build"]["phase"] = "FINALIZED"
    chain = HandlerChain(ci_stack)
    # When both arrive
    first = chain.post("jenkins", delivery.body, {}, delivery.query)
    second = chain.post("jenkins", json.dumps(finalized).encode(), {}, delivery.query)
    # Then the build is queued once: the second is a duplicate of the same build
    assert first[1]["accepted"] == second[1]["duplicates"] and second[1]["accepted"] == []
    assert queue_depth(ci_stack.analyze_queue_url) == 1
