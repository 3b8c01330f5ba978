"""Subscriptions: the files CI teams keep, and who gets which mail about a run.

Two file shapes are read (YAML, so JSON too):

- the simple shape teams already keep, a mapping from address to what it is interested in::

      nova-core@example.org: {jobs: ['tempest-*']}
      storage@example.org:
        tests: ['tempest.api.volume.*']
        verdicts: [failed_new, failed_known, fixed]
        delivery: daily
      qa@example.org: ['job:grenade-*', 'test:tempest.scenario.*']

- a list of `Subscription` items (what `events/subscriptions.yaml` holds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from citriage.config import NotifySettings
from citriage.errors import CitriageError
from citriage.models import FIXED, DeliveryMode, RunReport, Subscription, Verdict, glob_match
from citriage.notify.history import FAILED_VERDICTS, RunRecord
from citriage.notify.view import MailContext


def _as_list(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise CitriageError(f"{where}: expected a glob or a list of globs")


def _from_simple(email: object, value: object) -> Subscription:
    where = f"subscription {email!r}"
    data: dict[str, Any] = {"email": email}
    if isinstance(value, dict):
        known = ("jobs", "tests", "verdicts", "delivery", "components", "risk")
        unknown = set(value) - set(known)
        if unknown:
            raise CitriageError(f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(known)})")
        data["jobs"] = _as_list(value.get("jobs"), where)
        data["tests"] = _as_list(value.get("tests"), where)
        data["components"] = _as_list(value.get("components"), where)
        for key in ("verdicts", "delivery", "risk"):
            if key in value:
                data[key] = value[key]
    elif isinstance(value, list | str):
        data["jobs"], data["tests"] = [], []
        for entry in _as_list(value, where):
            kind, sep, glob = entry.partition(":")
            if not sep or kind not in ("job", "test") or not glob:
                raise CitriageError(f"{where}: {entry!r} is not 'job:<glob>' or 'test:<glob>'")
            data["jobs" if kind == "job" else "tests"].append(glob)
    else:
        raise CitriageError(f"{where}: expected a mapping (jobs, tests, verdicts, delivery) or a list")
    return Subscription.model_validate(data)


def load_subscriptions_yaml(text: str) -> list[Subscription]:
    """Subscriptions from either file shape; an invalid entry is refused with where it is."""
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        raise CitriageError(f"not a YAML file: {exc}") from exc
    subscriptions = []
    try:
        if isinstance(data, dict):
            subscriptions = [_from_simple(email, value) for email, value in data.items()]
        elif isinstance(data, list):
            for position, item in enumerate(data, 1):
                try:
                    subscriptions.append(Subscription.model_validate(item))
                except ValidationError as exc:
                    raise CitriageError(f"subscription #{position}: {exc}") from exc
        else:
            raise CitriageError("a subscriptions file holds a mapping from address to interests, or a list")
    except ValidationError as exc:
        raise CitriageError(str(exc)) from exc
    for subscription in subscriptions:
        if not subscription.jobs and not subscription.tests:
            raise CitriageError(f"subscription {subscription.email!r} names no jobs and no tests")
    emails = [s.email for s in subscriptions]
    duplicates = sorted({e for e in emails if emails.count(e) > 1})
    if duplicates:
        raise CitriageError(f"addresses listed more than once: {', '.join(duplicates)}")
    return subscriptions


def dump_subscriptions_yaml(subscriptions: Iterable[Subscription]) -> str:
    """The simple mapping shape, which `load_subscriptions_yaml` reads back unchanged."""
    data: dict[str, dict[str, Any]] = {}
    for s in sorted(subscriptions, key=lambda s: s.email):
        entry: dict[str, Any] = {}
        if s.jobs:
            entry["jobs"] = list(s.jobs)
        if s.tests:
            entry["tests"] = list(s.tests)
        entry["verdicts"] = [str(v) for v in s.verdicts]
        entry["delivery"] = s.delivery.value
        if s.components:
            entry["components"] = list(s.components)
        if s.risk != "any":
            entry["risk"] = s.risk
        data[s.email] = entry
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class NotifyPolicy(BaseModel):
    """Site rules for who hears about what, beyond the subscriptions themselves."""

    ci_admins: list[str] = Field(default_factory=list, description="Get every infra and no-results run")
    fixed_mails: bool = Field(default=True, description="Send `fixed` mails to who asked for them")
    admin_infra_delivery: Literal["daily", "immediate"] = Field(
        default="daily",
        description="How the CI admins get an infra run outside any incident: in their daily digest "
        "(an outage reaches them as one incident alert), or a mail per run",
    )

    @classmethod
    def of(cls, settings: NotifySettings) -> NotifyPolicy:
        """The policy the notifier's settings give."""
        delivery = settings.ci_admin_infra_delivery
        return cls(
            ci_admins=settings.ci_admins, fixed_mails=settings.fixed_mails, admin_infra_delivery=delivery
        )


class Recipient(BaseModel):
    """One address to mail about a run, and how its mail differs from the others'."""

    email: str
    context: MailContext


def _globs(values: Sequence[str]) -> str:
    return ", ".join(values)


def _run_reasons(subscription: Subscription, report: RunReport) -> tuple[list[str], list[str]]:
    """(reasons, own failing tests) for a run mail, or ([], []) when the run is not for them."""
    if not subscription.wants(report):
        return [], []
    if subscription.tests:
        yours = [f.test_id for f in subscription.matching_failures(report)]
        return [
            f"you subscribed to tests {_globs(subscription.tests)} and {len(yours)} of them failed"
        ], yours
    return [f"you subscribed to {report.verdict.value} runs of jobs {_globs(subscription.jobs)}"], []


def _fixed_tests(subscription: Subscription, report: RunReport, previous: RunRecord) -> list[str] | None:
    """The tests a `fixed` mail is about, or None when this subscriber gets no fixed mail."""
    if not subscription.wants_verdict(FIXED) or not subscription.covers_job(report.run.job):
        return None
    if not subscription.jobs and not subscription.tests:
        return None
    failed_before = sorted(previous.failed)
    if subscription.tests:
        mine = [t for t in failed_before if glob_match(t, subscription.tests)]
        return mine or None
    return failed_before


def audience(
    report: RunReport,
    subscriptions: Iterable[Subscription],
    policy: NotifyPolicy,
    previous: RunRecord | None,
    risk: str | None = None,
) -> list[Recipient]:
    """Who gets an immediate mail about a run, and what each one's mail leads with. A `risk: high`
    subscription is not mailed a failed_new run whose `risk` is low (notify/history.run_risk).

    Infra and no-results runs go to the CI admins and to subscribers who asked for those
    verdicts, never to code owners by default. A test subscriber hears only when one of its
    tests failed, and its tests come first. A passed run after a failed one is `fixed` news.
    """
    reasons: dict[str, list[str]] = {}
    yours: dict[str, list[str]] = {}
    fixed: dict[str, list[str]] = {}
    globs: dict[str, set[str]] = {}
    is_fixed = (
        policy.fixed_mails
        and report.verdict is Verdict.PASSED
        and previous is not None
        and previous.verdict in FAILED_VERDICTS
    )
    admin_now = report.verdict is Verdict.NO_RESULTS or (
        report.verdict is Verdict.INFRA and policy.admin_infra_delivery == "immediate"
    )
    if admin_now:
        for email in policy.ci_admins:
            reasons.setdefault(email, []).append("you are a CI admin and this is an infrastructure matter")
    for subscription in subscriptions:
        if subscription.delivery is not DeliveryMode.IMMEDIATE:
            continue
        if subscription.risk == "high" and report.verdict is Verdict.FAILED_NEW and risk == "low":
            continue  # only low-risk new failures: the daily digest lists the run
        email = subscription.email
        globs.setdefault(email, set()).update(subscription.components)
        if is_fixed and previous is not None:
            tests = _fixed_tests(subscription, report, previous)
            if tests is not None:
                fixed.setdefault(email, []).extend(tests)
                reasons.setdefault(email, []).append(f"you asked to hear when {report.run.job} passes again")
                continue
        why, own = _run_reasons(subscription, report)
        if why:
            reasons.setdefault(email, []).extend(why)
            yours.setdefault(email, []).extend(own)
    recipients = []
    for email in sorted(reasons):
        context = MailContext(
            kind="fixed" if email in fixed else "run",
            reason="; ".join(dict.fromkeys(reasons[email])),
            yours=list(dict.fromkeys(yours.get(email, []))),
            fixed_tests=sorted(set(fixed.get(email, []))),
            previous=previous,
            component_globs=sorted(globs.get(email, set())),
        )
        recipients.append(Recipient(email=email, context=context))
    return recipients


# The verdicts of a run that actually tested its change: who asked for any of them wanted its news.
_CODE_VERDICTS = (Verdict.FAILED_NEW, Verdict.FAILED_KNOWN, Verdict.PASSED)


def released_audience(report: RunReport, subscriptions: Iterable[Subscription]) -> list[Recipient]:
    """Who hears that a held run never ran again: the immediate subscribers of its job who asked
    for the verdicts of a run that tested its change (they never got this one's). Subscribers of
    `infra` verdicts only, and the CI admins, heard of the outage from its alerts."""
    reasons = {
        s.email: f"you subscribed to runs of jobs {_globs(s.jobs)}"
        for s in subscriptions
        if s.delivery is DeliveryMode.IMMEDIATE
        and s.jobs
        and not s.tests
        and s.covers_job(report.run.job)
        and any(s.wants_verdict(v) for v in _CODE_VERDICTS)
    }
    return [
        Recipient(email=email, context=MailContext(kind="released", reason=reason))
        for email, reason in sorted(reasons.items())
    ]
