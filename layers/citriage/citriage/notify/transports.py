"""Ways a mail leaves: SES (sesv2), or files to be read later (.eml and .html)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from citriage.models import MailMessage
from citriage.notify.render import to_mime


class MailTransport(Protocol):
    """Delivers one rendered mail to one recipient; returns where it went."""

    def send(self, message: MailMessage, recipient: str) -> str:
        """Deliver; return an id or path for the log."""


class SesTransport:
    """Sends through SES v2 as a raw MIME message (the same bytes the file transport saves)."""

    def __init__(self, sesv2: Any, configuration_set: str | None = None) -> None:
        self._ses = sesv2
        self._configuration_set = configuration_set

    def send(self, message: MailMessage, recipient: str) -> str:
        """Send; return the SES message id."""
        request: dict[str, Any] = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": to_mime(message, recipient)}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return str(self._ses.send_email(**request)["MessageId"])


def safe_name(text: str) -> str:
    """A file-name-safe form of a run id or address."""
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", text)[:120]


class FileTransport:
    """Writes `<run>__<recipient>.eml` and `.html` under a directory, to be checked later."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def send(self, message: MailMessage, recipient: str) -> str:
        """Write the files; return the .eml path."""
        self._directory.mkdir(parents=True, exist_ok=True)
        # Suffixes are appended, not swapped in: an address ends in ".org" already.
        stem = f"{safe_name(message.run_id)}__{safe_name(recipient)}"
        eml = self._directory / f"{stem}.eml"
        eml.write_bytes(to_mime(message, recipient))
        (self._directory / f"{stem}.html").write_text(message.html, encoding="utf-8")
        return str(eml)
