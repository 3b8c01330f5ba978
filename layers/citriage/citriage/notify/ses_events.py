"""The suppression list: addresses SES said hard-bounced or complained, which get no more mail.

SES publishes bounce and complaint events of the configuration set to an SNS topic; the
`ses_events` function reads them with `suppressions_from_ses_event` and stores them here; the
notifier and the digest skip (and log) every suppressed address.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError


class Suppression(BaseModel):
    """Why an address gets no more mail."""

    email: str
    reason: Literal["bounce", "complaint", "manual"]
    detail: str = Field(default="", description="SES bounce type and subtype, or feedback type")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    message_id: str | None = Field(default=None, description="The SES message that bounced")


class _Recipient(BaseModel):
    emailAddress: str  # SES's field name


class _Bounce(BaseModel):
    bounceType: str  # SES's field names
    bounceSubType: str = ""
    bouncedRecipients: list[_Recipient] = Field(default_factory=list)


class _Complaint(BaseModel):
    complainedRecipients: list[_Recipient] = Field(default_factory=list)
    complaintFeedbackType: str = ""


class _Mail(BaseModel):
    messageId: str | None = None  # SES's field name


class SesEvent(BaseModel):
    """The parts of an SES event (configuration-set event publishing or identity notification)
    that decide a suppression."""

    eventType: str | None = None  # SES's field names
    notificationType: str | None = None
    bounce: _Bounce | None = None
    complaint: _Complaint | None = None
    mail: _Mail = Field(default_factory=_Mail)

    @property
    def kind(self) -> str:
        """Bounce, Complaint, Delivery, ... whichever field SES filled in."""
        return self.eventType or self.notificationType or "unknown"


def suppressions_from_ses_event(message: str | dict[str, Any]) -> list[Suppression]:
    """The addresses one SES event suppresses: permanent bounces and complaints.

    A transient bounce (mailbox full, greylisting) suppresses nothing: the next mail may well
    arrive. A message that is not an SES event raises ValueError.
    """
    try:
        data = json.loads(message) if isinstance(message, str) else message
        event = SesEvent.model_validate(data)
    except (ValidationError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an SES event: {exc}") from exc
    message_id = event.mail.messageId
    if event.kind == "Bounce" and event.bounce is not None:
        if event.bounce.bounceType != "Permanent":
            return []
        detail = f"{event.bounce.bounceType}/{event.bounce.bounceSubType}".rstrip("/")
        return [
            Suppression(email=r.emailAddress.lower(), reason="bounce", detail=detail, message_id=message_id)
            for r in event.bounce.bouncedRecipients
        ]
    if event.kind == "Complaint" and event.complaint is not None:
        return [
            Suppression(
                email=r.emailAddress.lower(),
                reason="complaint",
                detail=event.complaint.complaintFeedbackType,
                message_id=message_id,
            )
            for r in event.complaint.complainedRecipients
        ]
    return []
