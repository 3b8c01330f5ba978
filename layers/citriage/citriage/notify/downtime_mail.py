"""The monthly downtime report: on the first of each month, the CI admins and the subscribers of
`infra` verdicts get the ledger of the month before (docs/incidents.md), once each."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from pydantic import BaseModel, Field

from citriage import keys
from citriage.incidents.ledger import IncidentLedger
from citriage.models import Verdict
from citriage.notify.audience import NotifyPolicy
from citriage.notify.render import MailRenderer
from citriage.notify.service import MailDelivery
from citriage.notify.wording import duration_text
from citriage.ports import Subscriptions


class DowntimeLine(BaseModel):
    """One service's month."""

    what: str
    incidents: int
    down: str
    runs: int
    jobs: int
    ci_hours: str


class DowntimeView(BaseModel):
    """What the report mail says."""

    subject: str
    month: str
    incidents: int
    down: str
    runs: int
    ci_hours: str
    lines: list[DowntimeLine]
    reason: str


class DowntimeOutcome(BaseModel):
    """Who got the report."""

    month: str
    sent: list[str] = Field(default_factory=list)
    already_sent: list[str] = Field(default_factory=list)
    suppressed: list[str] = Field(default_factory=list)


def previous_month(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) before the one `now` is in."""
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (
        first.replace(year=first.year - 1, month=12)
        if first.month == 1
        else first.replace(month=first.month - 1)
    )
    return start, first


class DowntimeMailer:
    """Sends the month's downtime report to the CI admins and `infra` subscribers, once each."""

    def __init__(
        self,
        ledger: IncidentLedger,
        subscriptions: Subscriptions,
        delivery: MailDelivery,
        renderer: MailRenderer,
        sender: str,
        policy: NotifyPolicy,
    ) -> None:
        self._ledger = ledger
        self._subscriptions = subscriptions
        self._delivery = delivery
        self._renderer = renderer
        self._sender = sender
        self._policy = policy

    def send(self, now: datetime) -> DowntimeOutcome:
        """Mail the report of the month before `now` (also when it had no incident: that is news too)."""
        start, end = previous_month(now)
        month = f"{start:%Y-%m}"
        report = self._ledger.report(start, end)
        view = DowntimeView(
            subject=f"[citriage] infrastructure downtime in {start:%B %Y}: {report.incidents} incident(s), "
            f"{duration_text(report.downtime_seconds)}",
            month=f"{start:%B %Y}",
            incidents=report.incidents,
            down=duration_text(report.downtime_seconds),
            runs=report.runs,
            ci_hours=f"{report.ci_hours_lost:.1f}",
            lines=[
                DowntimeLine(
                    what=f"{row.category} {row.service or '(no single service)'}",
                    incidents=row.incidents,
                    down=duration_text(row.downtime_seconds),
                    runs=row.runs,
                    jobs=len(row.jobs),
                    ci_hours=f"{row.ci_hours_lost:.1f}",
                )
                for row in report.rows
            ],
            reason="",
        )
        outcome = DowntimeOutcome(month=month)
        for email, reason in sorted(self._audience().items()):
            mine = view.model_copy(update={"reason": reason})
            attempt = self._delivery.deliver(
                keys.downtime_mail(month, email),
                email,
                partial(
                    self._renderer.render_view,
                    "downtime",
                    mine,
                    mine.subject,
                    self._sender,
                    [email],
                    f"downtime-{month}",
                ),
                f"downtime report {month}",
            )
            getattr(outcome, attempt.status).append(email)
        return outcome

    def _audience(self) -> dict[str, str]:
        who = dict.fromkeys(self._policy.ci_admins, "you are a CI admin")
        for subscription in self._subscriptions.list():
            if subscription.wants_verdict(Verdict.INFRA):
                who.setdefault(subscription.email, "you asked for infrastructure failures")
        return who
