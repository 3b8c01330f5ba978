"""Mail flow against a real (embedded moto) AWS endpoint: history items in DynamoDB, the
notify handler with redelivery, SES bounces through the ses_events handler into the
suppression list, site templates from S3, and the `citriage subscriptions` CLI."""

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.dynamodb import HistoryStore, RunStore, SubscriptionStore, SuppressionStore
from citriage.cli.main import main
from citriage.config import AnalyzeSettings, FetchSettings, LayoutSettings, NotifySettings
from citriage.local.embedded import HandlerChain, LambdaContext, load_handler
from citriage.models import Classification, RunAnalyzed, Subscription
from citriage.notify.history import RunRecord
from citriage.notify.render import MailRenderer, site_loader
from citriage.wiring import analyze_service

from tests.conftest import SENDER
from tests.unit.mail_fakes import PORT_TEST, T0, VOLUME_TEST, failure, make_report

pytestmark = pytest.mark.integration


@pytest.fixture
def aws(stack):
    """The shared embedded endpoint, reset for each test (tests/conftest.py), and the mail dir."""
    return stack, Path(stack.env["MAIL_OUT_DIR"])


def table(name_env: str, stack):
    return boto3.resource("dynamodb").Table(stack.env[name_env])


def test_history_items_are_stored_queried_and_expire(aws):
    # Given a job's runs recorded out of order, one of them twice (a redelivery)
    stack, _ = aws
    history = HistoryStore(table("RUNS_TABLE", stack), ttl_days=7)
    reports = [
        make_report(
            [failure(PORT_TEST)] if n % 2 else [], build=f"h{n}", job="hist-job", at=T0 + timedelta(hours=n)
        )
        for n in range(6)
    ]
    for report in [reports[3], reports[0], reports[5], reports[1], reports[2], reports[4], reports[4]]:
        history.record(report)
    # When the records up to the 5th run are read
    up_to = RunRecord.from_report(reports[4])
    records = history.recent("zuul", "hist-job", up_to, limit=3)
    # Then they come newest first, from that run back, once each
    assert [r.run_id for r in records] == ["zuul:h4", "zuul:h3", "zuul:h2"]
    assert records[1].failed[PORT_TEST].classification is Classification.NEW
    # And the day index finds them all, each item with a TTL
    day = list(history.between(T0, T0 + timedelta(days=1)))
    assert sorted(r.run_id for r in day if r.job == "hist-job") == [f"zuul:h{n}" for n in range(6)]
    item = table("RUNS_TABLE", stack).get_item(Key={"pk": "HIST#zuul#hist-job", "sk": up_to.sort_key})["Item"]
    assert int(item["expires_at"]) > datetime.now(UTC).timestamp() + 6 * 86400


def test_analyze_service_records_history(aws):
    # Given the analyze service wired to the real tables, and a report already stored
    stack, _ = aws
    service = analyze_service(
        AnalyzeSettings.from_env(), FetchSettings.from_env(), LayoutSettings.from_env(), AwsClients()
    )
    report = make_report([failure(PORT_TEST)], build="a1", job="analyzed-job")
    RunStore(table("RUNS_TABLE", stack)).put_report(report)
    # When the run is handled (a redelivery: the stored report is re-published)
    service.handle(report.run)
    # Then its record is in the job's history
    history = HistoryStore(table("RUNS_TABLE", stack))
    assert [r.run_id for r in history.recent("zuul", "analyzed-job", None, 5)] == ["zuul:a1"]


def notify_event(report) -> str:
    return json.dumps(
        {
            "source": "citriage",
            "detail-type": "RunAnalyzed",
            "detail": json.loads(RunAnalyzed.from_report(report).model_dump_json()),
        }
    )


def test_notify_handler_mails_each_subscriber_once_and_skips_suppressed(aws, caplog):
    # Given subscribers on a job and on one test, one of them hard-bounced earlier via SES
    stack, out = aws
    subs = SubscriptionStore(table("SUBSCRIPTIONS_TABLE", stack))
    subs.put(Subscription(email="job@example.org", jobs=["flow-*"]))
    subs.put(Subscription(email="test@example.org", tests=["tempest.api.volume.*"]))
    subs.put(Subscription(email="bounced@example.org", jobs=["flow-*"]))
    ses_events = load_handler("ses_events")
    sns = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:ses-events:1",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "n-1",
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
                    "Subject": None,
                    "Message": json.dumps(
                        {
                            "eventType": "Bounce",
                            "bounce": {
                                "bounceType": "Permanent",
                                "bounceSubType": "General",
                                "bouncedRecipients": [{"emailAddress": "bounced@example.org"}],
                            },
                            "mail": {"messageId": "m-0"},
                        }
                    ),
                    "Timestamp": "2026-11-20T10:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }
    assert ses_events(sns, LambdaContext("SesEventsFunction")) == {"suppressed": ["bounced@example.org"]}
    assert SuppressionStore(table("SUPPRESSIONS_TABLE", stack)).get("bounced@example.org").reason == "bounce"
    # And a stored run failing a volume test (known) and another test (new)
    report = make_report(
        [failure(PORT_TEST), failure(VOLUME_TEST, Classification.KNOWN)], build="n1", job="flow-tempest"
    )
    RunStore(table("RUNS_TABLE", stack)).put_report(report)
    HistoryStore(table("RUNS_TABLE", stack)).record(report)
    chain = HandlerChain(stack)
    sqs = boto3.client("sqs")
    # When the RunAnalyzed message is delivered, then delivered again
    ses = boto3.client("ses")  # the embedded SES counts what SES v2 sent
    sent_before = ses.get_send_quota()["SentLast24Hours"]
    with caplog.at_level(logging.WARNING):
        sqs.send_message(QueueUrl=stack.notify_queue_url, MessageBody=notify_event(report))
        assert chain.drain(stack.notify_queue_url, chain.notify, "NotifyFunction") == 1
        sent_once = ses.get_send_quota()["SentLast24Hours"]
        sqs.send_message(QueueUrl=stack.notify_queue_url, MessageBody=notify_event(report))
        assert chain.drain(stack.notify_queue_url, chain.notify, "NotifyFunction") == 1
    # Then SES sent on the first delivery and nothing on the second
    assert sent_once > sent_before
    assert ses.get_send_quota()["SentLast24Hours"] == sent_once
    # Each subscriber got one mail, different ones, and the bounced address none
    mails = sorted(p.name for p in out.glob("zuul_n1__*.eml"))
    assert mails == ["zuul_n1__job@example.org.eml", "zuul_n1__test@example.org.eml"]
    test_mail = (out / "zuul_n1__test@example.org.eml").read_text()
    assert "1 of your tests" in test_mail and "YOUR TESTS (1)" in test_mail
    assert "YOUR TESTS" not in (out / "zuul_n1__job@example.org.eml").read_text()
    assert "suppressed address skipped: bounced@example.org" in caplog.text


def test_site_templates_from_s3(aws):
    # Given a site's rule and template under an S3 prefix
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="site-templates")
    s3.put_object(
        Bucket="site-templates", Key="mail/templates.yaml", Body=b"- template: site\n  jobs: ['site-*']\n"
    )
    s3.put_object(Bucket="site-templates", Key="mail/site.html.j2", Body=b"<p>{{ job }}</p>")
    s3.put_object(Bucket="site-templates", Key="mail/site.txt.j2", Body=b"Site mail for {{ job }}")
    s3.put_object(Bucket="site-templates", Key="other/site.txt.j2", Body=b"not this one")
    # When the renderer loads them
    renderer = MailRenderer(site=site_loader(s3=s3, s3_uri="s3://site-templates/mail/"))
    # Then the site's jobs use them and the others keep the packaged templates
    assert (
        renderer.render(make_report([failure(PORT_TEST)], job="site-x"), SENDER, ["x@e.org"]).text
        == "Site mail for site-x"
    )
    assert (
        "Rerun: tempest run" in renderer.render(make_report([failure(PORT_TEST)]), SENDER, ["x@e.org"]).text
    )


def test_notify_settings_from_the_provisioned_env(aws):
    settings = NotifySettings.from_env()
    assert settings.suppressions_table == aws[0].env["SUPPRESSIONS_TABLE"]


def test_subscriptions_cli(aws, tmp_path, capsys):
    stack, _ = aws
    name = stack.env["SUBSCRIPTIONS_TABLE"]
    path = tmp_path / "subs.yaml"
    path.write_text(
        "cli-a@example.org: {jobs: ['cli-*']}\ncli-b@example.org: ['test:tempest.api.volume.*']\n"
    )
    # import, then add a glob and a verdict to one address
    assert main(["subscriptions", "--table", name, "import", str(path)]) == 0
    assert "imported 2 subscription(s): 2 new" in capsys.readouterr().out
    assert (
        main(
            [
                "subscriptions",
                "--table",
                name,
                "add",
                "cli-a@example.org",
                "--test",
                "x.*",
                "--verdict",
                "fixed",
            ]
        )
        == 0
    )
    capsys.readouterr()
    # list shows them; export writes the import shape back
    assert main(["subscriptions", "--table", name, "list"]) == 0
    listed = capsys.readouterr().out
    assert "cli-a@example.org\timmediate\tfixed\tjob:cli-*, test:x.*" in listed
    assert main(["subscriptions", "--table", name, "export", str(tmp_path / "out.yaml")]) == 0
    exported = Path(tmp_path / "out.yaml").read_text()
    assert "cli-b@example.org:\n  tests:\n  - tempest.api.volume.*" in exported
    # remove, and a bad file is refused with a clear message and exit code 2
    assert main(["subscriptions", "--table", name, "remove", "cli-b@example.org"]) == 0
    assert main(["subscriptions", "--table", name, "remove", "cli-b@example.org"]) == 2
    path.write_text("cli-c@example.org: {owners: x}")
    assert main(["subscriptions", "--table", name, "import", str(path)]) == 2
    assert "unknown keys" in capsys.readouterr().err


def test_a_huge_run_is_recorded_within_the_item_limit(aws):
    # Given a run failing 500 tests with 1000-character ids (far over DynamoDB's 400 KB item)
    stack, _ = aws
    history = HistoryStore(table("RUNS_TABLE", stack))
    ids = [f"tempest.api.{n:04d}." + "x" * 1000 for n in range(500)]
    report = make_report([failure(t) for t in ids], build="huge", job="huge-job", total=600)
    # When it is recorded
    history.record(report)
    # Then the record is stored, with fewer failures, marked truncated so no test is judged by it
    (record,) = history.recent("zuul", "huge-job", None, 5)
    assert record.failed_truncated and 0 < len(record.failed) < 500
    assert not record.passed_test("tempest.api.never-failed")


def test_digest_handler_sends_each_digest_once(aws):
    # Given yesterday's runs recorded, and a daily digest subscriber
    stack, out = aws
    yesterday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    history = HistoryStore(table("RUNS_TABLE", stack))
    for n, failures in enumerate([[failure(PORT_TEST)], [], [failure(PORT_TEST)]]):
        history.record(
            make_report(failures, build=f"d{n}", job="digest-job", at=yesterday + timedelta(hours=n))
        )
    SubscriptionStore(table("SUBSCRIPTIONS_TABLE", stack)).put(
        Subscription(email="daily@example.org", jobs=["digest-*"], delivery="daily")
    )
    digest = load_handler("digest")
    # When the daily schedule fires, and fires again
    first = digest({"period": "daily"}, LambdaContext("DigestFunction"))
    again = digest({"period": "daily"}, LambdaContext("DigestFunction"))
    # Then the digest went out once, naming the flaky test
    assert first["sent"] == ["daily@example.org"] and again["already_sent"] == ["daily@example.org"]
    (mail,) = out.glob("digest-daily-*__daily@example.org.eml")
    assert "failed 2 of 3 runs of digest-job" in mail.read_text()
