"""Who gets which mail, from a signed webhook to SES: a job subscriber and a test subscriber get
different mails about the same run; an infrastructure run goes to the CI admins only; a
redelivered notify message sends nothing; a hard-bounced address is skipped."""

from __future__ import annotations

import email
import json
from email.message import Message

import boto3
import pytest
from citriage.adapters.aws.dynamodb import SubscriptionStore, SuppressionStore
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.sources.zuul import SIGNATURE_HEADER
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.local.embedded import REGION, HandlerChain, LocalStack
from citriage.notify.audience import load_subscriptions_yaml
from citriage.notify.ses_events import Suppression
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.conftest import EVENTS

pytestmark = pytest.mark.e2e
VOLUME_TEST = (
    "tempest.api.volume.test_volumes_actions.VolumesActionsTest.test_attach_detach_volume_to_instance"
)
NEW_TEST = "tempest.api.network.test_ports.PortsTestJSON.test_create_port_with_no_securitygroups"


@pytest.fixture
def chain(stack: LocalStack, monkeypatch) -> HandlerChain:
    # The site names its CI admins; they hear of every infrastructure run.
    monkeypatch.setenv("CI_ADMINS", "oncall@example.org")
    dynamodb = boto3.resource("dynamodb")
    known = KnownIssueStore(dynamodb.Table(stack.env["KNOWN_ISSUES_TABLE"]))
    for issue in load_known_issues_yaml((EVENTS / "known-issues.yaml").read_text()):
        known.put(issue)
    subs = SubscriptionStore(dynamodb.Table(stack.env["SUBSCRIPTIONS_TABLE"]))
    for sub in load_subscriptions_yaml((EVENTS / "subscriptions.yaml").read_text()):
        subs.put(sub)
    return HandlerChain(stack)


def post(chain: HandlerChain, stack: LocalStack, name: str, log_server: str) -> None:
    body = (EVENTS / "zuul" / f"{name}.json").read_text().replace("${LOG_SERVER}", log_server).encode()
    status, _ = chain.post(
        "zuul", body, {SIGNATURE_HEADER: sign_hmac_sha256(body, stack.webhook_keys["zuul"])}
    )
    assert status == 202


def sent() -> dict[str, Message]:
    """The mails SES accepted, by recipient (each recipient gets its own mail)."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    mails: dict[str, Message] = {}
    for m in backend.sent_messages:
        (recipient,) = set(m.destinations)
        assert recipient not in mails, f"{recipient} got two mails"
        mails[recipient] = email.message_from_string(m.raw_data)
    return mails


def text_of(message: Message) -> str:
    for sub in message.walk():
        if sub.get_content_type() == "text/plain":
            payload = sub.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text part")


def test_job_and_test_subscribers_get_different_mails_about_one_run(chain, stack, log_server):
    # Given the tempest-mixed run: a new failure, a known volume-attach failure, a DNS failure
    post(chain, stack, "tempest-mixed", log_server)
    # When it is analysed and notified
    assert chain.run_pending() == (1, 1)
    # Then the job subscriber and the volume-test subscriber get a mail each
    mails = sent()
    assert sorted(mails) == ["nova-core@example.org", "storage-team@example.org"]
    job, test = text_of(mails["nova-core@example.org"]), text_of(mails["storage-team@example.org"])
    # The test subscriber's mail leads with its test; the job subscriber's with the new failure
    assert "1 of your tests" in mails["storage-team@example.org"]["Subject"]
    assert test.index("YOUR TESTS (1)") < test.index(VOLUME_TEST) < test.index(NEW_TEST)
    assert "YOUR TESTS" not in job and job.index(NEW_TEST) < job.index(VOLUME_TEST)
    # Both carry a history line for each failing test (the first run of the job on record)
    assert test.count("History: first recorded run of this job: no history yet") == 3


def test_infra_run_goes_to_the_infra_subscribers_and_the_admins_digest(chain, stack, log_server):
    # Given a run killed by a full disk before any test ran, outside any incident
    post(chain, stack, "devstack-disk-full", log_server)
    assert chain.run_pending() == (1, 1)
    # Then the infra subscription hears of it at once; the CI admin of the setting gets it in
    # their daily digest (an outage would reach them as one incident alert); nobody else hears
    mails = sent()
    assert sorted(mails) == ["ci-admins@example.org"]
    assert "you subscribed to infra runs" in text_of(mails["ci-admins@example.org"])


def test_redelivered_notify_message_and_suppressed_address(chain, stack, log_server):
    # Given the storage team's address hard-bounced earlier
    suppressions = SuppressionStore(boto3.resource("dynamodb").Table(stack.env["SUPPRESSIONS_TABLE"]))
    suppressions.add(
        Suppression(email="storage-team@example.org", reason="bounce", detail="Permanent/General")
    )
    post(chain, stack, "tempest-mixed", log_server)
    assert chain.drain(stack.analyze_queue_url, chain.analyze, "AnalyzeFunction") == 1
    sqs = boto3.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=stack.notify_queue_url, MaxNumberOfMessages=10)["Messages"]
    # When the notify message is delivered twice
    for _ in range(2):
        sqs.send_message(QueueUrl=stack.notify_queue_url, MessageBody=message["Body"])
    sqs.delete_message(QueueUrl=stack.notify_queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert chain.drain(stack.notify_queue_url, chain.notify, "NotifyFunction") == 2
    # Then one mail went out, to the job subscriber; the bounced address got none
    assert sorted(sent()) == ["nova-core@example.org"]
    assert json.loads(message["Body"])["detail"]["verdict"] == "failed_new"
