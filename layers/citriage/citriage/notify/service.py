"""The notify step: a RunAnalyzed event in, one mail per interested subscriber out, once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel

from citriage.errors import CitriageError
from citriage.models import RunAnalyzed, RunReport, Subscription
from citriage.notify.render import MailRenderer
from citriage.notify.transports import MailTransport


class Reports(Protocol):
    """Where reports are read from."""

    def get_report(self, run_id: str) -> RunReport | None:
        """A stored report, or None."""


class Subscriptions(Protocol):
    """Where subscriptions are read from."""

    def list(self) -> list[Subscription]:
        """Every subscription."""


class Dedupe(Protocol):
    """Claims on keys."""

    def claim(self, key: str) -> bool:
        """True when the key was free and is now taken."""

    def release(self, key: str) -> None:
        """Free a key again."""


class Delivery(BaseModel):
    """One mail handed to the transports."""

    recipient: str
    receipts: list[str]


class NotifyOutcome(BaseModel):
    """What a RunAnalyzed event led to."""

    run_id: str
    sent: list[Delivery]
    already_sent: list[str]


class NotifyService:
    """Mails each subscriber who wants a run's verdict, exactly once per run and address."""

    def __init__(
        self,
        reports: Reports,
        subscriptions: Subscriptions,
        dedupe: Dedupe,
        transports: Sequence[MailTransport],
        sender: str,
        renderer: MailRenderer | None = None,
    ) -> None:
        self._reports = reports
        self._subscriptions = subscriptions
        self._dedupe = dedupe
        self._transports = transports
        self._sender = sender
        self._renderer = renderer or MailRenderer()

    def handle(self, event: RunAnalyzed) -> NotifyOutcome:
        """Send the run's mails. A failed send frees its claim and raises, so a retry resends it."""
        report = self._reports.get_report(event.run_id)
        if report is None:
            raise CitriageError(f"no stored report for run {event.run_id}")
        recipients = sorted({s.email for s in self._subscriptions.list() if s.wants(report)})
        outcome = NotifyOutcome(run_id=report.run_id, sent=[], already_sent=[])
        if not recipients:
            return outcome
        message = self._renderer.render(report, self._sender, recipients)
        for recipient in recipients:
            key = f"mail#{report.run_id}#{recipient}"
            if not self._dedupe.claim(key):
                outcome.already_sent.append(recipient)
                continue
            try:
                receipts = [transport.send(message, recipient) for transport in self._transports]
            except Exception:
                self._dedupe.release(key)
                raise
            outcome.sent.append(Delivery(recipient=recipient, receipts=receipts))
        return outcome
