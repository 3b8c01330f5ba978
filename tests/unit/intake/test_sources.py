"""Each CI source: its authentication, its normalisation to RunEvent, and its refusals."""

from __future__ import annotations

import copy
import json

import pytest
from citriage.errors import BadRequest, PayloadTooLarge, Unauthorized, UnknownSource
from citriage.intake.sources import SOURCES
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.webhook import WebhookService

from tests.conftest import EVENTS
from tests.unit.fakes import FakeDedupe, FakeKeys, FakeQueue

KEYS = {name: f"key-{name}" for name in SOURCES}
CI = "https://ci.example.org"


def event(source: str, name: str) -> dict:
    text = (EVENTS / source / name).read_text()
    return json.loads(text.replace("${CI_SERVER}", CI).replace("${LOG_SERVER}", "https://logs.example.org"))


def service(queue=None, dedupe=None, max_body=1_000_000):
    return WebhookService(FakeKeys(KEYS), dedupe or FakeDedupe(), queue or FakeQueue(), max_body)


def hmac_headers(body: bytes, source: str, header: str = "X-Citriage-Signature") -> dict[str, str]:
    return {header: sign_hmac_sha256(body, KEYS[source])}


def test_jenkins_completed_build_is_one_run_keyed_by_its_url():
    # Given a COMPLETED notification
    run = SOURCES["jenkins"].normalize(event("jenkins", "notification-completed.json"))
    # Then it is one run whose log URL is the build URL and whose id is host and path
    assert len(run) == 1
    assert run[0].build_id == "ci.example.org/job/nova-unit/42"
    assert run[0].log_url == f"{CI}/job/nova-unit/42/"
    assert (run[0].job, run[0].result, run[0].branch) == ("nova-unit", "UNSTABLE", "origin/master")


@pytest.mark.parametrize("phase", ["QUEUED", "STARTED"])
def test_jenkins_unfinished_phases_are_ignored(phase):
    payload = event("jenkins", "notification-completed.json")
    payload["build"]["phase"] = phase
    assert SOURCES["jenkins"].normalize(payload) == []


def test_jenkins_token_in_header_or_query_and_nothing_else():
    body = b"{}"
    jenkins = SOURCES["jenkins"]
    jenkins.verify({"x-citriage-token": KEYS["jenkins"]}, body, KEYS["jenkins"])
    jenkins.verify({}, body, KEYS["jenkins"], {"token": KEYS["jenkins"]})
    for headers, query in [({}, {}), ({"x-citriage-token": "nope"}, {}), ({}, {"token": "nope"})]:
        with pytest.raises(Unauthorized):
            jenkins.verify(headers, body, KEYS["jenkins"], query)


def test_jenkins_without_root_url_is_a_clear_400():
    payload = event("jenkins", "notification-completed.json")
    del payload["build"]["full_url"]
    with pytest.raises(BadRequest, match="full_url"):
        SOURCES["jenkins"].normalize(payload)


def test_github_completed_run_keyed_by_run_and_attempt():
    run = SOURCES["github"].normalize(event("github", "workflow_run-completed.json"))[0]
    assert run.build_id == "30433642-1"
    assert run.job == "octo-org/compute/CI"
    assert run.log_url == f"{CI}/repos/octo-org/compute/actions/runs/30433642"
    assert (run.change, run.change_url) == ("88", "https://github.com/octo-org/compute/pull/88")
    assert run.duration_seconds == 756.0


def test_github_rerun_is_a_new_run_but_the_same_attempt_is_not():
    payload = event("github", "workflow_run-completed.json")
    rerun = copy.deepcopy(payload)
    rerun["workflow_run"]["run_attempt"] = 2
    queue, dedupe = FakeQueue(), FakeDedupe()
    for n, body_payload in enumerate([payload, payload, rerun]):
        body = json.dumps(body_payload).encode()
        headers = hmac_headers(body, "github", "X-Hub-Signature-256") | {"X-GitHub-Delivery": f"d{n}"}
        service(queue, dedupe).receive("github", headers, body)
    assert [r.build_id for r in queue.sent] == ["30433642-1", "30433642-2"]


def test_github_redelivery_is_dropped_on_its_delivery_id():
    queue, dedupe = FakeQueue(), FakeDedupe()
    body = json.dumps(event("github", "workflow_run-completed.json")).encode()
    headers = hmac_headers(body, "github", "X-Hub-Signature-256") | {"X-GitHub-Delivery": "guid-1"}
    first = service(queue, dedupe).receive("github", headers, body)
    # Given the run's own claim is gone (expired), the delivery id alone still stops a redelivery
    dedupe.release("run#github:30433642-1")
    again = service(queue, dedupe).receive("github", headers, body)
    assert first.accepted == ["github:30433642-1"]
    assert again.accepted == [] and again.duplicates == ["github:30433642-1"]
    assert len(queue.sent) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(action="requested"),
        lambda p: p["workflow_run"].update(status="in_progress", conclusion=None),
    ],
)
def test_github_unfinished_runs_are_ignored(change):
    payload = event("github", "workflow_run-completed.json")
    change(payload)
    assert SOURCES["github"].normalize(payload) == []


def test_github_ping_is_accepted_with_nothing_queued():
    queue = FakeQueue()
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    outcome = service(queue).receive("github", hmac_headers(body, "github", "X-Hub-Signature-256"), body)
    assert outcome.accepted == [] and queue.sent == []


def test_github_signature_is_over_the_raw_body():
    body = json.dumps(event("github", "workflow_run-completed.json")).encode()
    with pytest.raises(Unauthorized):
        service().receive("github", hmac_headers(body, "github"), body)  # wrong header name
    with pytest.raises(Unauthorized):
        service().receive("github", hmac_headers(body + b"\n", "github", "X-Hub-Signature-256"), body)


def test_gitlab_finished_pipeline_reads_from_the_instance_api():
    run = SOURCES["gitlab"].normalize(event("gitlab", "pipeline-failed.json"))[0]
    assert run.log_url == f"{CI}/api/v4/projects/7/pipelines/1001"
    assert (run.build_id, run.job, run.result, run.change) == ("1001", "group/compute", "failed", "12")
    assert run.duration_seconds == 570.0


@pytest.mark.parametrize("status", ["created", "pending", "running"])
def test_gitlab_unfinished_pipelines_and_other_hooks_are_ignored(status):
    payload = event("gitlab", "pipeline-failed.json")
    payload["object_attributes"]["status"] = status
    assert SOURCES["gitlab"].normalize(payload) == []
    assert SOURCES["gitlab"].normalize({"object_kind": "push"}) == []


def test_gitlab_token_is_compared_exactly():
    gitlab = SOURCES["gitlab"]
    gitlab.verify({"X-Gitlab-Token": KEYS["gitlab"]}, b"{}", KEYS["gitlab"])
    for headers in [{}, {"X-Gitlab-Token": KEYS["gitlab"] + "x"}, {"X-Gitlab-Token": ""}]:
        with pytest.raises(Unauthorized):
            gitlab.verify(headers, b"{}", KEYS["gitlab"])


def test_openqa_job_done_points_at_the_job_page():
    run = SOURCES["openqa"].normalize(event("openqa", "job-done.json"))[0]
    assert (run.build_id, run.log_url) == ("ci.example.org/4242", f"{CI}/tests/4242")
    assert (run.job, run.project, run.buildset_id) == (
        "textmode",
        "opensuse-Tumbleweed-DVD-x86_64",
        "ci.example.org/1/20261120",  # instance, job group, BUILD: the jobs of one build
    )


def test_openqa_other_events_are_ignored_and_bad_ids_refused():
    payload = event("openqa", "job-done.json")
    assert SOURCES["openqa"].normalize({**payload, "event": "suse.openqa.job.restart"}) == []
    with pytest.raises(BadRequest, match="job number"):
        SOURCES["openqa"].normalize({**payload, "id": "../../etc"})
    without_url = {k: v for k, v in payload.items() if k != "openqa_url"}
    with pytest.raises(BadRequest, match="openqa_url"):
        SOURCES["openqa"].normalize(without_url)


def test_generic_shape_maps_links():
    run = SOURCES["generic"].normalize(event("generic", "build-failed.json"))[0]
    assert run.web_url == "https://ci.example.org/job/tempest-integrated-storage/981"
    assert run.change_url == "https://review.opendev.org/c/openstack/cinder/+/913001"
    assert run.run_id == "generic:ci.example.org/tempest-integrated-storage/981"


@pytest.mark.parametrize("missing", ["job", "build_id", "result", "log_url"])
def test_generic_missing_field_is_a_400_naming_it(missing):
    payload = {k: v for k, v in event("generic", "build-failed.json").items() if k != missing}
    body = json.dumps(payload).encode()
    queue = FakeQueue()
    with pytest.raises(BadRequest, match=missing):
        service(queue).receive("generic", hmac_headers(body, "generic"), body)
    assert queue.sent == []


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_source_refuses_bad_json_and_big_bodies_after_checking_auth(source):
    queue = FakeQueue()
    body = b"{not json"
    headers = {
        "X-Citriage-Signature": sign_hmac_sha256(body, KEYS[source]),
        "X-Hub-Signature-256": sign_hmac_sha256(body, KEYS[source]),
        "X-Gitlab-Token": KEYS[source],
        "X-Citriage-Token": KEYS[source],
    }
    with pytest.raises(BadRequest, match="not JSON"):
        service(queue).receive(source, headers, body)
    with pytest.raises(PayloadTooLarge):
        service(queue, max_body=10).receive(source, headers, b"x" * 11)
    with pytest.raises(UnknownSource):
        service(queue).receive(source.upper() + "-nope", headers, body)
    assert queue.sent == []


def test_build_ids_never_carry_user_info_from_a_url():
    payload = event("jenkins", "notification-completed.json")
    payload["build"]["full_url"] = "https://user:secret@Jenkins.Example.org:8443/job/x/7/"
    run = SOURCES["jenkins"].normalize(payload)[0]
    assert run.build_id == "jenkins.example.org:8443/job/x/7"
