"""Incident alerts: one mail to the CI admins (and to who subscribed to infra verdicts of the jobs
it hit) when an outage opens and one when it closes, instead of a mail per broken run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from pydantic import BaseModel

from citriage import keys
from citriage.models import DeliveryMode, MailMessage, Subscription, Verdict
from citriage.models.incident import Incident, IncidentChanged, IncidentState
from citriage.notify.audience import NotifyPolicy
from citriage.notify.render import MailRenderer
from citriage.notify.wording import duration_text

# How many of its runs an alert lists (its counters count them all).
ALERT_RUNS = 20


class IncidentView(BaseModel):
    """What an alert mail says."""

    subject: str
    change: str
    what: str
    category: str
    service: str
    opened_at: str
    closed_at: str
    closed_by: str
    duration: str
    run_count: int
    jobs: list[str]
    runs: list[str]
    more_runs: int
    evidence: list[str]
    rules: list[str]
    ci_time_lost: str
    reason: str


def incident_view(incident: Incident, change: IncidentState, reason: str) -> IncidentView:
    """The alert's view of an incident that opened or closed."""
    what = f"{incident.category} {incident.service or '(no single service)'}"
    verb = "opened" if change is IncidentState.OPEN else "closed"
    return IncidentView(
        subject=f"[citriage] incident {verb}: {what} ({incident.run_count} runs, {len(incident.jobs)} jobs)",
        change=verb,
        what=what,
        category=incident.category,
        service=incident.service or "",
        opened_at=f"{incident.opened_at:%Y-%m-%d %H:%M} UTC",
        closed_at=f"{incident.closed_at:%Y-%m-%d %H:%M} UTC" if incident.closed_at else "",
        closed_by=incident.closed_by or "",
        duration=duration_text(incident.duration_seconds) if incident.duration_seconds is not None else "",
        run_count=incident.run_count,
        jobs=incident.jobs,
        runs=incident.runs[:ALERT_RUNS],
        more_runs=max(0, incident.run_count - ALERT_RUNS),
        evidence=incident.evidence,
        rules=incident.rules,
        ci_time_lost=duration_text(incident.ci_seconds_lost),
        reason=reason,
    )


def alert_audience(
    incident: Incident, subscriptions: Sequence[Subscription], policy: NotifyPolicy
) -> dict[str, str]:
    """Who hears of an incident, and why: the CI admins, and immediate subscribers of `infra`
    verdicts whose jobs it hit."""
    who = dict.fromkeys(policy.ci_admins, "you are a CI admin and this is an infrastructure outage")
    for subscription in subscriptions:
        if subscription.delivery is not DeliveryMode.IMMEDIATE or not subscription.wants_verdict(
            Verdict.INFRA
        ):
            continue
        if any(subscription.covers_job(job) for job in incident.jobs):
            who.setdefault(subscription.email, "you asked for infrastructure failures of jobs it hit")
    return who


def alert_key(changed: IncidentChanged, email: str) -> str:
    """The claim of one alert to one address (one per incident, change and address)."""
    return keys.incident_mail(changed.incident.id, changed.change.value, email)


def render_alert(
    renderer: MailRenderer, changed: IncidentChanged, sender: str, email: str, reason: str
) -> Callable[[], MailMessage]:
    """The alert mail to one address, rendered when it is sent."""
    view = incident_view(changed.incident, changed.change, reason)
    # Named by incident and change: the opening's and the closing's mails are two (files too).
    name = f"{changed.incident.id}.{view.change}"
    return partial(renderer.render_view, "incident", view, view.subject, sender, [email], name)
