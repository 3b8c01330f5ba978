"""A signed Zuul payload POSTed to the webhook handler -> queue -> analyze -> bus -> notify -> SES.

Everything runs through the real handlers (functions/*/app.py) against a real moto server over
HTTP and the bundled log trees on a local HTTP server; the mails are read back from SES.
"""

from __future__ import annotations

import email
import json
from email.message import Message
from pathlib import Path

import boto3
import pytest
from citriage.adapters.aws.dynamodb import RunStore, SubscriptionStore
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.local.embedded import REGION, HandlerChain, LocalStack
from citriage.notify.audience import load_subscriptions_yaml
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.conftest import EVENTS

pytestmark = pytest.mark.e2e
VOLUME_TEST = (
    "tempest.api.volume.test_volumes_actions.VolumesActionsTest."
    "test_attach_detach_volume_to_instance[id-fff42874-7db5-4487-a8e1-ddda5fb5288d,smoke]"
)
NEW_TEST = (
    "tempest.api.network.test_ports.PortsTestJSON.test_create_port_with_no_securitygroups"
    "[id-4179dcb9-1382-4ced-84fe-1b91c54f5735]"
)


@pytest.fixture
def chain(stack: LocalStack) -> HandlerChain:
    dynamodb = boto3.resource("dynamodb")
    known = KnownIssueStore(dynamodb.Table(stack.env["KNOWN_ISSUES_TABLE"]))
    for issue in load_known_issues_yaml((EVENTS / "known-issues.yaml").read_text()):
        known.put(issue)
    subs = SubscriptionStore(dynamodb.Table(stack.env["SUBSCRIPTIONS_TABLE"]))
    for sub in load_subscriptions_yaml((EVENTS / "subscriptions.yaml").read_text()):
        subs.put(sub)
    return HandlerChain(stack)


def zuul_body(name: str, log_server: str) -> bytes:
    return (EVENTS / "zuul" / f"{name}.json").read_text().replace("${LOG_SERVER}", log_server).encode()


def sent_mails() -> list[tuple[list[str], Message]]:
    """The raw mails the SES endpoint accepted, parsed."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    # moto lists a raw mail's recipient once per place it finds it (API and To header).
    return [
        (sorted(set(m.destinations)), email.message_from_string(m.raw_data)) for m in backend.sent_messages
    ]


def queue_depth(url: str) -> int:
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def part(message: Message, subtype: str) -> str:
    for sub in message.walk():
        if sub.get_content_type() == f"text/{subtype}":
            payload = sub.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError(f"no text/{subtype} part")


def test_signed_webhook_becomes_an_analysis_and_mails(chain, stack, log_server):
    # Given the tempest-mixed run's Zuul message, signed with the webhook key
    body = zuul_body("tempest-mixed", log_server)
    headers = {"X-Citriage-Signature": sign_hmac_sha256(body, stack.webhook_keys["zuul"])}
    # When it is POSTed to the webhook
    status, response = chain.post("zuul", body, headers)
    # Then one run (the finished build with logs) is accepted and queued
    assert status == 202
    build = json.loads(body)["buildset"]["builds"][0]["uuid"]
    assert response == {"accepted": [f"zuul:{build}"], "duplicates": []}
    assert queue_depth(stack.analyze_queue_url) == 1
    # When the queue is worked
    analysed, notified = chain.run_pending()
    assert (analysed, notified) == (1, 1)
    # Then the run is stored with the expected verdict and classifications
    report = RunStore(boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"])).get_report(
        response["accepted"][0]
    )
    assert report is not None
    assert report.verdict.value == "failed_new"
    assert {f.test_id: f.classification.value for f in report.failures} == {
        VOLUME_TEST: "known",
        NEW_TEST: "new",
        "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_rebuild_server"
        "[id-aaa6cdf3-55a7-461a-add9-1c8596b9a07c]": "infra",
    }
    # And SES accepted one mail per subscriber who wanted it, naming the failures and the bug
    mails = sent_mails()
    assert sorted(dest[0] for dest, _ in mails) == ["nova-core@example.org", "storage-team@example.org"]
    subjects = {dest[0]: message["Subject"] for dest, message in mails}
    # The job subscriber hears the run's verdict; the volume-test subscriber its own test's
    assert subjects["nova-core@example.org"].startswith("FAILED (new): tempest-full-py3 | ")
    assert subjects["storage-team@example.org"].startswith(
        "Failed (known): 1 of your tests in tempest-full-py3"
    )
    for _, message in mails:
        html, text = part(message, "html"), part(message, "plain")
        for content in (html, text):
            assert "test_create_port_with_no_securitygroups" in content
            assert "https://bugs.launchpad.net/cinder/+bug/1929710" in content
            assert "LP-1929710" in content
            assert f"{log_server}/tempest-mixed/" in content
    # And the mails were also saved as files to be checked later
    assert len(list(Path(stack.env["MAIL_OUT_DIR"]).glob("*.eml"))) == 2


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "wrong"])
def test_unsigned_or_wrongly_signed_webhook_is_401_and_enqueues_nothing(chain, stack, log_server, signature):
    body = zuul_body("tempest-mixed", log_server)
    headers = {"X-Citriage-Signature": signature} if signature else {}
    status, response = chain.post("zuul", body, headers)
    assert status == 401
    assert "signature" in response["message"]
    assert queue_depth(stack.analyze_queue_url) == 0


def test_redelivered_webhook_sends_one_mail(chain, stack, log_server):
    body = zuul_body("tempest-known", log_server)
    headers = {"X-Citriage-Signature": sign_hmac_sha256(body, stack.webhook_keys["zuul"])}
    # Given the same message delivered twice, the second after the first was fully processed
    first_status, first = chain.post("zuul", body, headers)
    chain.run_pending()
    second_status, second = chain.post("zuul", body, headers)
    chain.run_pending()
    # Then the second is acknowledged as a duplicate and nothing new is mailed
    assert (first_status, second_status) == (202, 202)
    assert second["accepted"] == [] and second["duplicates"] == first["accepted"]
    assert [dest for dest, _ in sent_mails()] == [["nova-core@example.org"]]


def test_redelivered_analyze_and_notify_messages_send_one_mail(chain, stack, log_server):
    # Given a run analysed and notified once
    body = zuul_body("devstack-disk-full", log_server)
    headers = {"X-Citriage-Signature": sign_hmac_sha256(body, stack.webhook_keys["zuul"])}
    _, accepted = chain.post("zuul", body, headers)
    chain.run_pending()
    assert [dest for dest, _ in sent_mails()] == [["ci-admins@example.org"]]
    # When SQS redelivers the analyze message (at-least-once)
    run_message = RunStore(boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"])).get_report(
        accepted["accepted"][0]
    )
    assert run_message is not None
    boto3.client("sqs").send_message(
        QueueUrl=stack.analyze_queue_url, MessageBody=run_message.run.model_dump_json()
    )
    analysed, notified = chain.run_pending()
    # Then the verdict is published again but no second mail goes out
    assert (analysed, notified) == (1, 1)
    assert len(sent_mails()) == 1
    assert run_message.verdict.value == "infra"
