"""SES: errors propagate (the client retries throttling); bounce and complaint events become suppressions."""

import json

import pytest
from botocore.exceptions import ClientError
from citriage.adapters.aws.ses import SesTransport
from citriage.notify.ses_events import suppressions_from_ses_event

from tests.unit.mail_fakes import MESSAGE


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "SendEmail")


class FakeSes:
    """Fails with the given error codes in turn, then accepts."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.requests: list[dict] = []

    def send_email(self, **request):
        self.requests.append(request)
        if self.failures:
            raise error(self.failures.pop(0))
        return {"MessageId": f"m-{len(self.requests)}"}


def test_errors_propagate_from_the_transport_unretried():
    # Throttling is retried by the SES client itself (adaptive mode: tests/integration/test_ses_retries.py)
    ses, sleeps = FakeSes(["MessageRejected"]), []
    with pytest.raises(ClientError):
        SesTransport(ses).send(MESSAGE, "x@example.org")
    assert len(ses.requests) == 1 and sleeps == []


def bounce(kind: str) -> str:
    return json.dumps(
        {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": kind,
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": "Gone@Example.org", "status": "5.1.1"}],
                "timestamp": "2026-11-20T10:00:00.000Z",
            },
            "mail": {"messageId": "m-1", "destination": ["Gone@Example.org"]},
        }
    )


def test_permanent_bounce_suppresses_the_address():
    (suppression,) = suppressions_from_ses_event(bounce("Permanent"))
    assert suppression.email == "gone@example.org"
    assert (suppression.reason, suppression.detail, suppression.message_id) == (
        "bounce",
        "Permanent/General",
        "m-1",
    )


def test_transient_bounce_suppresses_nothing():
    assert suppressions_from_ses_event(bounce("Transient")) == []


def test_complaint_suppresses_the_address():
    event = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.org"}],
            "complaintFeedbackType": "abuse",
        },
        "mail": {"messageId": "m-2"},
    }
    (suppression,) = suppressions_from_ses_event(event)
    assert (suppression.email, suppression.reason, suppression.detail) == (
        "angry@example.org",
        "complaint",
        "abuse",
    )


def test_deliveries_and_garbage():
    assert suppressions_from_ses_event({"eventType": "Delivery", "mail": {}}) == []
    with pytest.raises(ValueError, match="not an SES event"):
        suppressions_from_ses_event("{not json")
    with pytest.raises(ValueError, match="not an SES event"):
        suppressions_from_ses_event('{"eventType": "Bounce", "bounce": {"bouncedRecipients": 3}}')
