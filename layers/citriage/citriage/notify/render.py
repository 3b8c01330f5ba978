"""Rendering mails with Jinja2: autoescaped HTML and plain text, strict about missing fields."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import jinja2

from citriage.models import MailMessage, RunReport
from citriage.notify.view import build_view


class MailRenderer:
    """Renders a report's mail from the packaged templates."""

    def __init__(self, loader: jinja2.BaseLoader | None = None) -> None:
        loader = loader or jinja2.PackageLoader("citriage", "templates")
        # A field a template names but the view lacks is an error, never a blank in a mail.
        self._html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
        )
        self._text = jinja2.Environment(
            loader=loader,
            autoescape=False,  # noqa: S701  # the plain-text part is not HTML: escaping would corrupt it
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, report: RunReport, sender: str, recipients: list[str]) -> MailMessage:
        """The mail for a report."""
        view = build_view(report).model_dump()
        return MailMessage(
            subject=view["subject"],
            html=self._html.get_template("mail.html.j2").render(view),
            text=self._text.get_template("mail.txt.j2").render(view),
            sender=sender,
            recipients=recipients,
            run_id=report.run_id,
        )


def to_mime(message: MailMessage, recipient: str) -> bytes:
    """The MIME bytes (multipart/alternative: text, then HTML) sent to one recipient."""
    mime = EmailMessage()
    mime["Subject"] = message.subject
    mime["From"] = message.sender
    mime["To"] = recipient
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = make_msgid(domain="citriage")
    mime["X-Citriage-Run"] = message.run_id
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime.as_bytes()
