"""SES v2: sending a rendered mail as raw MIME."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from citriage.models import MailMessage
from citriage.notify.render import to_mime

logger = logging.getLogger(__name__)

# SES v2 answers TooManyRequestsException when the sending rate is exceeded; older paths and
# botocore's own naming use the other two. All mean "slow down and try again".
THROTTLING_CODES = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})


class SesTransport:
    """Sends through SES v2 as a raw MIME message (the same bytes the file transport saves).

    Every mail goes out under the configuration set, whose event destination feeds bounces and
    complaints back to the suppression list. Throttling is retried with exponential backoff
    and full jitter; after the last attempt the error propagates, so the notify message is
    retried by SQS and finally lands in the DLQ.
    """

    def __init__(
        self,
        sesv2: Any,
        configuration_set: str | None = None,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ses = sesv2
        self._configuration_set = configuration_set
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._jitter = random.SystemRandom()

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
        for attempt in range(1, self._max_attempts + 1):
            try:
                return str(self._ses.send_email(**request)["MessageId"])
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in THROTTLING_CODES or attempt == self._max_attempts:
                    raise
                delay = self._jitter.uniform(0, min(self._max_delay, self._base_delay * 2 ** (attempt - 1)))
                logger.warning("SES throttled (%s); retry %d in %.2fs", code, attempt, delay)
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")
