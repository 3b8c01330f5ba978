"""The notify step: a RunAnalyzed event in, one mail per interested address out, once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from citriage import keys
from citriage.errors import CitriageError
from citriage.incidents.holds import held_run
from citriage.models import MailMessage, RunAnalyzed, RunReport, Verdict
from citriage.models.incident import IncidentChanged, RunReleased
from citriage.notify.alerts import alert_audience, alert_key, render_alert
from citriage.notify.audience import NotifyPolicy, audience, released_audience
from citriage.notify.history import (
    RunRecord,
    judge_issue,
    judge_test,
    previous_run,
    run_risk,
    with_cluster_risk,
)
from citriage.notify.render import MailRenderer
from citriage.notify.unsubscribe import NO_LINKS, UnsubscribeLinks
from citriage.notify.view import MailContext
from citriage.ports import (
    Dedupe,
    HeldRuns,
    JobHistory,
    MailTransport,
    ReportReader,
    Subscriptions,
    Suppressions,
)

# A child of the function's Powertools Logger: structured, with the invocation's correlation id.
logger = Logger(child=True)

# How many of a job's runs the flakiness ratio covers, and how far back a pass streak is counted.
HISTORY_WINDOW = 20
HISTORY_DEPTH = 100


# A mail's claim stays pending this long. A worker killed mid-send (notify's timeout is 60 s)
# leaves it pending; the queue redelivers after its 360 s visibility timeout, by when the
# lease has run out and the retry sends the mail.
MAIL_LEASE_SECONDS = 300


@dataclass(frozen=True)
class DeliveryAttempt:
    """What became of one mail to one address."""

    status: Literal["sent", "suppressed", "already_sent"]
    receipts: list[str] = field(default_factory=list)


class MailDelivery:
    """Sends one mail to one address at most once: the suppression list, then a leased claim,
    then every transport. A failed send gives the claim back, so a redelivery sends it."""

    def __init__(
        self,
        dedupe: Dedupe,
        transports: Sequence[MailTransport],
        suppressions: Suppressions | None,
        links: UnsubscribeLinks,
    ) -> None:
        self._dedupe = dedupe
        self._transports = transports
        self._suppressions = suppressions
        self._links = links

    def deliver(self, key: str, email: str, render: Callable[[], MailMessage], what: str) -> DeliveryAttempt:
        """Render (only when it will be sent) and send the mail claimed under `key`."""
        if self._suppressions is not None and self._suppressions.is_suppressed(email):
            logger.warning("suppressed address skipped: %s (%s)", email, what)
            return DeliveryAttempt("suppressed")
        if not self._dedupe.claim(key, MAIL_LEASE_SECONDS):
            return DeliveryAttempt("already_sent")
        try:
            message = render().model_copy(update={"unsubscribe_url": self._links.url_for(email)})
            receipts = [transport.send(message, email) for transport in self._transports]
        except Exception:
            self._dedupe.release(key)
            raise
        self._dedupe.complete(key)
        return DeliveryAttempt("sent", receipts)


class Delivery(BaseModel):
    """One mail handed to the transports."""

    recipient: str
    receipts: list[str]
    kind: str = "run"


class NotifyOutcome(BaseModel):
    """What a RunAnalyzed event led to."""

    run_id: str
    sent: list[Delivery]
    already_sent: list[str]
    suppressed: list[str] = Field(default_factory=list)
    held: str | None = Field(default=None, description="The open incident that holds the run's mails")

    def record(self, email: str, attempt: DeliveryAttempt, kind: str) -> None:
        """Count one address's delivery under what became of it."""
        if attempt.status == "suppressed":
            self.suppressed.append(email)
        elif attempt.status == "already_sent":
            self.already_sent.append(email)
        else:
            self.sent.append(Delivery(recipient=email, receipts=attempt.receipts, kind=kind))


def history_context(report: RunReport, records: list[RunRecord], window: int) -> MailContext:
    """What the job's records (newest first) say about each failing test and known issue."""
    current = RunRecord.from_report(report)
    if not records or records[0].run_id != current.run_id:
        records = [current, *[r for r in records if r.run_id != current.run_id]]
    tests = {
        f.test_id: judge_test(f.test_id, records, window)
        for f in report.failures
        if current.has_results and not current.failed_truncated and f.test_id in current.failed
    }
    issues = {
        f.known_issue.id: judge_issue(f.known_issue.id, records, window)
        for f in report.failures
        if f.known_issue
    }
    return MailContext(
        tests_history=with_cluster_risk(report, tests),
        issues_history=issues,
        history_runs=min(len(records), window),
        previous=previous_run(records, current.run_id),
    )


class NotifyService:
    """Mails each interested address about a run, exactly once per run and address."""

    def __init__(
        self,
        reports: ReportReader,
        subscriptions: Subscriptions,
        dedupe: Dedupe,
        transports: Sequence[MailTransport],
        sender: str,
        renderer: MailRenderer | None = None,
        *,
        history: JobHistory | None = None,
        suppressions: Suppressions | None = None,
        policy: NotifyPolicy | None = None,
        links: UnsubscribeLinks = NO_LINKS,
        holds: HeldRuns | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._reports = reports
        self._holds = holds
        self._clock = clock
        self._subscriptions = subscriptions
        self._delivery = MailDelivery(dedupe, transports, suppressions, links)
        self._sender = sender
        self._renderer = renderer or MailRenderer()
        self._history = history
        self._policy = policy or NotifyPolicy()

    def handle(self, event: RunAnalyzed) -> NotifyOutcome:
        """Send the run's mails. A failed send frees its claim and raises, so a retry resends it."""
        report = self._reports.get_report(event.run_id)
        if report is None:
            raise CitriageError(f"no stored report for run {event.run_id}")
        if report.incident and report.verdict is Verdict.INFRA:
            # An outage's run: its developers are not mailed (it is not their code) and the admins
            # hear of the outage once, from its alert (docs/incidents.md). It is kept to be
            # rechecked when the outage is over (citriage.incidents.holds).
            if self._holds is not None:
                self._holds.hold(held_run(report, self._clock()))
            return NotifyOutcome(run_id=report.run_id, sent=[], already_sent=[], held=report.incident)
        records: list[RunRecord] = []
        if self._history is not None:
            records = self._history.recent(
                report.run.source, report.run.job, RunRecord.from_report(report), HISTORY_DEPTH
            )
        shared = (
            history_context(report, records, HISTORY_WINDOW) if self._history is not None else MailContext()
        )
        risk = run_risk(report, shared.tests_history) if self._history is not None else None
        recipients = audience(report, self._subscriptions.list(), self._policy, shared.previous, risk)
        outcome = NotifyOutcome(run_id=report.run_id, sent=[], already_sent=[])
        for recipient in recipients:
            email = recipient.email
            context = shared.model_copy(
                update={
                    "kind": recipient.context.kind,
                    "reason": recipient.context.reason,
                    "yours": recipient.context.yours,
                    "fixed_tests": recipient.context.fixed_tests,
                    "component_globs": recipient.context.component_globs,
                }
            )
            attempt = self._delivery.deliver(
                keys.run_mail(report.run_id, email),
                email,
                partial(self._renderer.render, report, self._sender, [email], context),
                f"run {report.run_id}",
            )
            outcome.record(email, attempt, context.kind)
        return outcome

    def released(self, event: RunReleased) -> NotifyOutcome:
        """Mail a held run that never ran again to the subscribers of its job, once per address."""
        report = self._reports.get_report(event.run_id)
        if report is None:
            raise CitriageError(f"no stored report for run {event.run_id}")
        outcome = NotifyOutcome(run_id=report.run_id, sent=[], already_sent=[])
        for recipient in released_audience(report, self._subscriptions.list()):
            context = recipient.context.model_copy(
                update={
                    "held_incident": event.incident,
                    "held_since": event.held_at,
                    "held_because": event.because,
                }
            )
            attempt = self._delivery.deliver(
                keys.run_mail(report.run_id, recipient.email),
                recipient.email,
                partial(self._renderer.render, report, self._sender, [recipient.email], context),
                f"released run {report.run_id}",
            )
            outcome.record(recipient.email, attempt, "released")
        return outcome

    def incident_alert(self, changed: IncidentChanged) -> NotifyOutcome:
        """Mail an incident's opening or closing to the CI admins and to the subscribers of
        infra verdicts of the jobs it hit, once per address."""
        outcome = NotifyOutcome(run_id=changed.incident.id, sent=[], already_sent=[])
        for email, reason in alert_audience(
            changed.incident, self._subscriptions.list(), self._policy
        ).items():
            attempt = self._delivery.deliver(
                alert_key(changed, email),
                email,
                render_alert(self._renderer, changed, self._sender, email, reason),
                f"incident {changed.incident.id} {changed.change.value}",
            )
            outcome.record(email, attempt, "incident")
        return outcome
