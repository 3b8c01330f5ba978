"""Daily and weekly digests: per subscriber, the runs and verdicts of their jobs, the top flaky
tests, the known issues that hit most, and the CI time infrastructure failures cost.

Built from the run records the analyze step keeps (`citriage.notify.history`); sent once per
subscriber and period (the dedupe key names both), skipping suppressed addresses.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from pydantic import BaseModel, Field

from citriage import keys
from citriage.known_issues.lifecycle import lifecycle_flags
from citriage.models import Subscription, Verdict, glob_match
from citriage.notify.history import RunRecord
from citriage.notify.render import MailRenderer
from citriage.notify.service import MailDelivery
from citriage.notify.unsubscribe import NO_LINKS, UnsubscribeLinks
from citriage.ports import Dedupe, KnownIssueReads, MailTransport, RecordsByTime, Subscriptions, Suppressions

Period = Literal["daily", "weekly"]
PERIOD_LENGTH: dict[str, timedelta] = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
TOP = 10
ADMIN_REASON = (
    "you are a CI admin: the runs that failed on the infrastructure outside any incident "
    "are listed here, not mailed one by one"
)
ADMIN_WEEKLY_REASON = "you are a CI admin: signatures that need a person are listed here each week"


class DigestTrigger(BaseModel):
    """The input the schedule passes to the digest function: a digest period, or `monthly` for
    the downtime report (citriage.notify.downtime_mail)."""

    period: Period | Literal["monthly"]


class JobLine(BaseModel):
    """One job's runs in the period."""

    job: str
    runs: int
    verdicts: str = Field(description="e.g. '5 passed, 2 failed_new'")
    last_verdict: str
    last_url: str


class FlakyLine(BaseModel):
    """A test that both failed and passed in the period."""

    test_id: str
    job: str
    failed: int
    runs: int
    text: str


class IssueLine(BaseModel):
    """A known issue and how many runs it hit."""

    issue_id: str
    runs: int
    jobs: int
    text: str


class DigestView(BaseModel):
    """Everything the digest templates may use (StrictUndefined)."""

    subject: str
    period: str
    start: str
    end: str
    reason: str
    total_runs: int
    jobs: list[JobLine]
    flaky: list[FlakyLine]
    issues: list[IssueLine]
    infra_runs: int
    infra_time: str
    signatures: list[str] = Field(
        default_factory=list, description="The CI admins' weekly digest: signatures to retire or fix, and why"
    )


def period_window(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the period that ended at the last midnight UTC before `now`."""
    end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - PERIOD_LENGTH[period], end


def _in_scope(subscription: Subscription, record: RunRecord) -> bool:
    if not subscription.covers_job(record.job):
        return False
    if subscription.tests:
        return any(glob_match(t, subscription.tests) for t in record.failed)
    return bool(subscription.jobs)


def _hours(seconds: float) -> str:
    minutes = int(seconds) // 60
    return f"{minutes // 60}h {minutes % 60:02d}m"


def build_digest(
    subscription: Subscription, records: Sequence[RunRecord], period: Period, start: datetime, end: datetime
) -> DigestView:
    """The digest of one subscriber over the records of the period."""
    if subscription.tests:
        # A test subscriber's jobs are those where one of its tests failed in the period.
        jobs_in_scope = {r.job for r in records if _in_scope(subscription, r)}
        mine = [r for r in records if r.job in jobs_in_scope]
    else:
        mine = [r for r in records if _in_scope(subscription, r)]
    by_job: dict[str, list[RunRecord]] = defaultdict(list)
    for record in sorted(mine, key=lambda r: r.when):
        by_job[record.job].append(record)
    jobs = []
    for job, runs in sorted(by_job.items()):
        counts = Counter(r.verdict.value for r in runs)
        jobs.append(
            JobLine(
                job=job,
                runs=len(runs),
                verdicts=", ".join(f"{n} {v}" for v, n in sorted(counts.items())),
                last_verdict=runs[-1].verdict.value,
                last_url=runs[-1].log_url,
            )
        )
    flaky = []
    for job, runs in by_job.items():
        judged = [r for r in runs if r.has_results and not r.failed_truncated]
        failures = Counter(t for r in judged for t in r.failed)
        for test_id, failed in failures.items():
            if subscription.tests and not glob_match(test_id, subscription.tests):
                continue
            if 0 < failed < len(judged):
                flaky.append(
                    FlakyLine(
                        test_id=test_id,
                        job=job,
                        failed=failed,
                        runs=len(judged),
                        text=f"failed {failed} of {len(judged)} runs of {job}",
                    )
                )
    flaky.sort(key=lambda f: (-f.failed / f.runs, -f.failed, f.test_id))
    issue_runs: Counter[str] = Counter()
    issue_jobs: dict[str, set[str]] = defaultdict(set)
    for record in mine:
        for issue in record.known_issues():
            issue_runs[issue] += 1
            issue_jobs[issue].add(record.job)
    issues = [
        IssueLine(
            issue_id=issue,
            runs=n,
            jobs=len(issue_jobs[issue]),
            text=f"hit {n} run{'s' if n != 1 else ''} in {len(issue_jobs[issue])} job(s)",
        )
        for issue, n in sorted(issue_runs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    ]
    infra = [r for r in mine if r.verdict is Verdict.INFRA]
    known_time = sum(r.duration_seconds for r in infra if r.duration_seconds is not None)
    unknown_time = sum(1 for r in infra if r.duration_seconds is None)
    infra_time = _hours(known_time) if infra else "none"
    if unknown_time:
        infra_time += f" (and {unknown_time} run(s) of unknown duration)"
    parts = [f"jobs {', '.join(subscription.jobs)}"] if subscription.jobs else []
    parts += [f"tests {', '.join(subscription.tests)}"] if subscription.tests else []
    scope = "; ".join(parts)
    day = "%Y-%m-%d"
    return DigestView(
        subject=f"[citriage] {period.capitalize()} digest {start.strftime(day)}: "
        f"{len(mine)} runs, {len(infra)} infra, {len(flaky)} flaky tests",
        period=period,
        start=start.strftime("%Y-%m-%d %H:%M UTC"),
        end=end.strftime("%Y-%m-%d %H:%M UTC"),
        reason=f"you subscribed to a {period} digest of {scope}",
        total_runs=len(mine),
        jobs=jobs,
        flaky=flaky[:TOP],
        issues=issues,
        infra_runs=len(infra),
        infra_time=infra_time,
    )


class DigestOutcome(BaseModel):
    """What a digest round did, per address."""

    period: str
    sent: list[str] = Field(default_factory=list)
    already_sent: list[str] = Field(default_factory=list)
    empty: list[str] = Field(default_factory=list)
    suppressed: list[str] = Field(default_factory=list)


class DigestService:
    """Sends each digest subscriber its digest of the period, once."""

    def __init__(
        self,
        records: RecordsByTime,
        subscriptions: Subscriptions,
        dedupe: Dedupe,
        transports: Sequence[MailTransport],
        sender: str,
        renderer: MailRenderer | None = None,
        suppressions: Suppressions | None = None,
        links: UnsubscribeLinks = NO_LINKS,
        admins: Sequence[str] = (),
        admin_infra_daily: bool = True,
        known_issues: KnownIssueReads | None = None,
    ) -> None:
        self._records = records
        self._admins = list(admins)
        self._admin_infra_daily = admin_infra_daily
        self._known_issues = known_issues
        self._subscriptions = subscriptions
        self._delivery = MailDelivery(dedupe, transports, suppressions, links)
        self._sender = sender
        self._renderer = renderer or MailRenderer()

    def send(self, period: Period, now: datetime) -> DigestOutcome:
        """Send the digests of the period that ended before `now`; a failed send raises (and
        frees its claim), so the next invocation sends what is missing."""
        start, end = period_window(period, now)
        outcome = DigestOutcome(period=period)
        # A `risk: high` subscription's low-risk runs were not mailed at once: its daily digest lists them.
        subscribers = [
            s
            for s in self._subscriptions.list()
            if s.delivery == period or (period == "daily" and s.delivery == "immediate" and s.risk == "high")
        ]
        # The CI admins' daily digest carries the infra runs no incident took in: an outage
        # reaches them as one alert, a lone broken run here (docs/incidents.md). Their weekly one
        # lists the signatures to retire or fix (docs/clusters.md), when there are any.
        flags = self._signature_flags(now) if period == "weekly" else []
        wanted = (period == "daily" and self._admin_infra_daily) or bool(flags)
        admins = [
            Subscription(email=a, jobs=["*"], delivery=period)
            for a in (self._admins if wanted else [])
            if a not in {s.email for s in subscribers}
        ]
        if not subscribers and not admins:
            return outcome
        records = list(self._records.between(start, end))
        for subscription in sorted([*subscribers, *admins], key=lambda s: s.email):
            email = subscription.email
            view = build_digest(subscription, records, period, start, end)
            if subscription in admins:
                reason = ADMIN_REASON if period == "daily" else ADMIN_WEEKLY_REASON
                view = view.model_copy(update={"reason": reason, "signatures": flags})
            quiet = view.infra_runs == 0 if period == "daily" else not flags
            if (view.total_runs == 0 and not view.signatures) or (subscription in admins and quiet):
                outcome.empty.append(email)
                continue
            attempt = self._delivery.deliver(
                keys.digest_mail(period, start.date().isoformat(), email),
                email,
                partial(
                    self._renderer.render_view,
                    "digest",
                    view,
                    view.subject,
                    self._sender,
                    [email],
                    f"digest-{period}-{start.date()}",
                ),
                f"{period} digest",
            )
            if attempt.status == "suppressed":
                outcome.suppressed.append(email)
            elif attempt.status == "already_sent":
                outcome.already_sent.append(email)
            else:
                outcome.sent.append(email)
        return outcome

    def _signature_flags(self, now: datetime) -> list[str]:
        """`<id>: retire: …` / `<id>: fix: …` for each signature that needs a person."""
        if self._known_issues is None:
            return []
        return [
            f"{issue.id}: {flag}"
            for issue, stats in sorted(self._known_issues.listed(), key=lambda row: row[0].id)
            for flag in lifecycle_flags(issue, stats, now)
        ]
