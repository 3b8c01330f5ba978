"""Mail as files to be read later (.eml and .html); SES is an AWS adapter (adapters/aws/ses.py)."""

from __future__ import annotations

import re
from pathlib import Path

from citriage.models import MailMessage
from citriage.notify.render import to_mime


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
