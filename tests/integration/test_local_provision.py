"""The embedded stack's CI API tokens secret: empty unless a test puts tokens in it."""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.integration


def test_the_ci_api_tokens_secret_is_empty_by_default(stack):
    # Given the embedded stack provisioned with no CI tokens (as `citriage serve` and the demo are)
    # When the analyze function's CI API tokens secret is read
    value = boto3.client("secretsmanager").get_secret_value(SecretId=stack.env["CI_TOKENS_SECRET_ARN"])
    # Then it holds no credential: public CI APIs are read anonymously, not with an invented token
    assert json.loads(value["SecretString"]) == {} == stack.ci_tokens


def test_incident_changes_are_routed_to_the_alerts_topic_and_the_bus_still_takes_them(stack):
    from datetime import UTC, datetime

    from citriage.adapters.aws.events import EventPublisher

    # The template routes each opening and closing to the alerts topic, which lets that rule publish
    from citriage.adapters.aws.provision import read_template
    from citriage.models.incident import Incident, IncidentState

    from tests.conftest import REPO

    resources = read_template(REPO / "template.yaml")["Resources"]
    rule = resources["IncidentAlertsRule"]["Properties"]
    assert rule["EventPattern"]["detail-type"] == ["IncidentOpened", "IncidentClosed"]
    assert rule["Targets"] == [{"Id": "IncidentAlertsTopic", "Arn": {"Ref": "IncidentAlertsTopic"}}]
    [grant] = resources["IncidentAlertsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"} and grant["Action"] == "sns:Publish"
    assert grant["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["IncidentAlertsRule", "Arn"]}
    # Locally the topic exists (moto's EventBridge cannot deliver to a topic, so the rule has no
    # target there), and an incident's event is still taken by the bus and reaches the notifier
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    assert [
        t for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":citriage-incident-alerts-topic")
    ]
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    incident = Incident(
        id="20261205-090000-network-mirror-abc123",
        key="network#mirror.example.org",
        category="network",
        service="mirror.example.org",
        opened_at=at,
        last_hit_at=at,
    )
    EventPublisher(boto3.client("events"), stack.env["EVENT_BUS_NAME"]).incident_changed(
        incident, IncidentState.OPEN
    )
    [message] = sqs.receive_message(QueueUrl=stack.notify_queue_url, WaitTimeSeconds=2)["Messages"]
    assert json.loads(message["Body"])["detail"]["incident"]["id"] == incident.id
