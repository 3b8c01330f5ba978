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
    """Writes `<run>__<recipient>.eml` and `.html` under a directory, to be checked later.

    With `once`, a mail whose files exist was delivered already: a send retried after a crash
    (the mail went out, its dedupe claim was not yet completed) writes nothing the second time.
    """

    def __init__(self, directory: Path, once: bool = False) -> None:
        self._directory = directory
        self._once = once

    def send(self, message: MailMessage, recipient: str) -> str:
        """Write the files; return the .eml path."""
        self._directory.mkdir(parents=True, exist_ok=True)
        # Suffixes are appended, not swapped in: an address ends in ".org" already.
        stem = f"{safe_name(message.run_id)}__{safe_name(recipient)}"
        eml = self._directory / f"{stem}.eml"
        if self._once and eml.exists():
            return str(eml)
        # The .html first and the .eml last, each whole (renamed into place): an .eml that
        # exists is a mail delivered in full.
        _write_whole(self._directory / f"{stem}.html", message.html.encode("utf-8"))
        _write_whole(eml, to_mime(message, recipient))
        return str(eml)


def _write_whole(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)
