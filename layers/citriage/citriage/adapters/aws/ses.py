"""SES v2: sending a rendered mail as raw MIME."""

from __future__ import annotations

from typing import Any

from citriage.models import MailMessage
from citriage.notify.render import to_mime


class SesTransport:
    """Sends through SES v2 as a raw MIME message (the same bytes the file transport saves).

    Every mail goes out under the configuration set, whose event destination feeds bounces and
    complaints back to the suppression list. Throttling is retried by the client itself
    (botocore's adaptive mode, set where the client is made: AwsClients.sesv2), the one retry
    layer; when it gives up the error propagates, so the notify message is retried by SQS and
    finally lands in the DLQ.
    """

    def __init__(self, sesv2: Any, configuration_set: str | None = None) -> None:
        self._ses = sesv2
        self._configuration_set = configuration_set

    def send(self, message: MailMessage, recipient: str) -> str:
        """Send; return the SES message id."""
        request: dict[str, Any] = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": to_mime(message, recipient)}},
            # Tag values allow only [A-Za-z0-9_-]: they name the kind of mail, not the run.
            "EmailTags": [
                {"Name": "citriage", "Value": "digest" if message.run_id.startswith("digest") else "run"}
            ],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return str(self._ses.send_email(**request)["MessageId"])
