"""Webhook intake: authentication, refusals and dedupe, with in-memory fakes."""

import json

import pytest
from citriage.errors import BadRequest, PayloadTooLarge, Unauthorized, UnknownSource
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.webhook import MAX_RUNS_PER_MESSAGE, WebhookService

from tests.unit.fakes import FakeDedupe, FakeKeys, FakeQueue

KEY = "s3cret-key"


def payload(builds=None):
    return {
        "action": "failure",
        "tenant": "openstack",
        "pipeline": "check",
        "project": "openstack/nova",
        "branch": "master",
        "change_url": "https://review.opendev.org/c/openstack/nova/+/912345",
        "change": 912345,
        "patchset": 3,
        "buildset": {
            "uuid": "bs1",
            "result": "FAILURE",
            "builds": builds
            if builds is not None
            else [
                {
                    "job_name": "tempest-full",
                    "uuid": "b1",
                    "result": "FAILURE",
                    "log_url": "https://logs/1/",
                    "web_url": "https://zuul/b1",
                    "voting": True,
                    "start_time": 1763632800.0,
                    "end_time": 1763636400.5,
                },
                {
                    "job_name": "tempest-slow",
                    "uuid": "b2",
                    "result": "SUCCESS",
                    "log_url": "https://logs/2/",
                    "start_time": "2026-11-20T10:00:00",
                    "end_time": "2026-11-20T11:00:00",
                },
                {"job_name": "pep8", "uuid": "b3", "result": "SKIPPED", "log_url": None},
                {"job_name": "running", "uuid": "b4", "result": None, "log_url": None, "end_time": None},
            ],
        },
    }


def service(queue=None, dedupe=None, max_body=100_000):
    return WebhookService(FakeKeys({"zuul": KEY}), dedupe or FakeDedupe(), queue or FakeQueue(), max_body)


def signed(body: bytes, key: str = KEY) -> dict[str, str]:
    return {"x-citriage-signature": sign_hmac_sha256(body, key)}


def test_signed_payload_enqueues_one_run_per_finished_build_with_logs():
    queue = FakeQueue()
    body = json.dumps(payload()).encode()
    outcome = service(queue).receive("zuul", signed(body), body)
    assert outcome.accepted == ["zuul:b1", "zuul:b2"]
    first = queue.sent[0]
    assert (first.job, first.project, first.change, first.patchset) == (
        "tempest-full",
        "openstack/nova",
        "912345",
        "3",
    )
    assert first.duration_seconds == 3600.5
    assert queue.sent[1].start_time is not None and queue.sent[1].start_time.tzinfo is not None


@pytest.mark.parametrize(
    "headers", [{}, {"x-citriage-signature": "sha256=" + "0" * 64}, {"x-citriage-signature": ""}]
)
def test_missing_or_wrong_signature_is_401_and_enqueues_nothing(headers):
    queue = FakeQueue()
    body = json.dumps(payload()).encode()
    with pytest.raises(Unauthorized):
        service(queue).receive("zuul", headers, body)
    assert queue.sent == []


def test_signature_with_another_key_or_over_another_body_is_refused():
    body = json.dumps(payload()).encode()
    with pytest.raises(Unauthorized):
        service().receive("zuul", signed(body, "other-key"), body)
    with pytest.raises(Unauthorized):
        service().receive("zuul", signed(body + b" "), body)


def test_source_without_configured_key_trusts_nothing():
    svc = WebhookService(FakeKeys({}), FakeDedupe(), FakeQueue(), 1000)
    with pytest.raises(Unauthorized):
        svc.receive("zuul", {"x-citriage-signature": "sha256=x"}, b"{}")


def test_redelivery_is_a_duplicate_and_not_enqueued_again():
    queue, dedupe = FakeQueue(), FakeDedupe()
    body = json.dumps(payload()).encode()
    service(queue, dedupe).receive("zuul", signed(body), body)
    again = service(queue, dedupe).receive("zuul", signed(body), body)
    assert again.accepted == [] and again.duplicates == ["zuul:b1", "zuul:b2"]
    assert len(queue.sent) == 2


def test_failed_enqueue_releases_the_claim_so_a_retry_works():
    dedupe = FakeDedupe()
    body = json.dumps(payload()).encode()
    with pytest.raises(ConnectionError):
        service(FakeQueue(fail=True), dedupe).receive("zuul", signed(body), body)
    assert dedupe.keys == set()
    assert service(FakeQueue(), dedupe).receive("zuul", signed(body), body).accepted == ["zuul:b1", "zuul:b2"]


def test_refusals():
    with pytest.raises(UnknownSource):
        service().receive("nope", {}, b"{}")
    with pytest.raises(PayloadTooLarge):
        service(max_body=10).receive("zuul", {}, b"x" * 11)
    with pytest.raises(BadRequest, match="not JSON"):
        service().receive("zuul", signed(b"{nope"), b"{nope")
    bad = json.dumps({"buildset": {"builds": [{"uuid": "x"}]}}).encode()
    with pytest.raises(BadRequest, match="job_name"):
        service().receive("zuul", signed(bad), bad)
    no_buildset = b'{"action": "start"}'
    with pytest.raises(BadRequest, match="buildset"):
        service().receive("zuul", signed(no_buildset), no_buildset)


class KilledBeforeSend(BaseException):
    """A Lambda timeout between claiming and enqueueing: no `except Exception` runs."""


class DyingQueue(FakeQueue):
    def send(self, run):
        raise KilledBeforeSend


def test_intake_killed_before_enqueueing_is_409_until_its_lease_runs_out_then_accepted():
    from citriage.errors import IntakeInProgress
    from citriage.intake.webhook import INTAKE_LEASE_SECONDS

    dedupe, queue = FakeDedupe(), FakeQueue()
    body = json.dumps(payload()).encode()
    # Given an intake killed after claiming the first run, before it reached the queue
    with pytest.raises(KilledBeforeSend):
        service(DyingQueue(), dedupe).receive("zuul", signed(body), body)
    # When the sender retries at once, it is told to retry later, not that it was a duplicate
    with pytest.raises(IntakeInProgress) as refused:
        service(queue, dedupe).receive("zuul", signed(body), body)
    assert refused.value.status_code == 409 and queue.sent == []
    # When it retries after the lease, both runs are accepted, and only once
    dedupe.now += INTAKE_LEASE_SECONDS + 1
    assert service(queue, dedupe).receive("zuul", signed(body), body).accepted == ["zuul:b1", "zuul:b2"]
    again = service(queue, dedupe).receive("zuul", signed(body), body)
    assert again.accepted == [] and len(queue.sent) == 2


def test_a_message_with_more_builds_than_the_cap_is_a_400_and_enqueues_nothing():
    # Given a signed buildset of 501 finished builds (one more than a message may carry)
    builds = [
        {
            "job_name": f"job-{n}",
            "uuid": f"u{n}",
            "result": "FAILURE",
            "log_url": f"https://logs/{n}/",
            "end_time": 1.0,
        }
        for n in range(MAX_RUNS_PER_MESSAGE + 1)
    ]
    queue = FakeQueue()
    body = json.dumps(payload(builds)).encode()
    # When it is received, then it is refused with the reason, and nothing is queued
    with pytest.raises(BadRequest, match="501 finished builds in one message; at most 500"):
        service(queue, max_body=10_000_000).receive("zuul", signed(body), body)
    assert queue.sent == []
    # And a buildset of exactly the cap is taken whole
    body = json.dumps(payload(builds[:MAX_RUNS_PER_MESSAGE])).encode()
    assert len(service(queue, max_body=10_000_000).receive("zuul", signed(body), body).accepted) == 500
