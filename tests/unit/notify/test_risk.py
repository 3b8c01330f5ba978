"""Risk-gated mail: a new failure after a long pass streak is probably the change (high risk,
mailed at once); one of a flaky test is probably not (low risk, the daily digest only). The
mail says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citriage.models import RunAnalyzed, Subscription
from citriage.notify.audience import NotifyPolicy
from citriage.notify.digest import DigestService
from citriage.notify.history import judge_test
from citriage.notify.service import NotifyService

from tests.unit.fakes import FakeDedupe, FakeList, FakeReports, FakeTransport
from tests.unit.mail_fakes import PORT_TEST, FakeHistory, failure, make_report

START = datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
GATED = Subscription(email="careful@example.org", jobs=["tempest-*"], risk="high")
EVERYTHING = Subscription(email="all@example.org", jobs=["tempest-*"])


def runs(pattern: str, history: FakeHistory):
    """One run per character, oldest first, 20 minutes apart: F fails PORT_TEST, . passes."""
    report = None
    for n, mark in enumerate(pattern):
        at = START + timedelta(minutes=20 * n)
        report = make_report([failure(PORT_TEST)] if mark == "F" else [], build=f"b{n:03d}", at=at)
        history.record(report)
    return report


def mailed(pattern: str) -> tuple[dict, FakeHistory]:
    history, reports, transport = FakeHistory(), FakeReports(), FakeTransport()
    last = runs(pattern, history)
    reports.put_report(last)
    notifier = NotifyService(
        reports, FakeList([GATED, EVERYTHING]), FakeDedupe(), [transport], "c@example.org",
        history=history, policy=NotifyPolicy(ci_admins=[]),
    )  # fmt: skip
    notifier.handle(RunAnalyzed.from_report(last))
    return dict(transport.sent), history


def test_a_failure_after_40_passes_is_high_risk_and_mailed_at_once_saying_why():
    mails, history = mailed("." * 40 + "F")
    assert sorted(mails) == ["all@example.org", "careful@example.org"]
    assert "risk high: it passed 19 of its 19 runs before this one" in mails["careful@example.org"].text
    records = sorted(history.records.values(), key=lambda r: r.sort_key, reverse=True)
    assert judge_test(PORT_TEST, records, 20).risk == "high"


def test_a_test_failing_5_of_its_last_20_runs_is_low_risk_and_reaches_the_digest_only():
    pattern = "." * 20 + "..F...F....F....F..F"  # the last 20: 5 failures, the newest one now
    mails, history = mailed(pattern)
    # Not mailed at once to the gated subscription; the other one hears, and is told why
    assert sorted(mails) == ["all@example.org"]
    assert (
        "risk low: it passed only 15 of its 19 runs before this one: flaky" in mails["all@example.org"].text
    )
    # The gated subscription's daily digest lists the run
    transport = FakeTransport()
    digests = DigestService(
        history, FakeList([GATED, EVERYTHING]), FakeDedupe(), [transport], "c@example.org"
    )
    outcome = digests.send("daily", datetime(2026, 11, 2, 6, 0, tzinfo=UTC))
    assert outcome.sent == ["careful@example.org"]
    digest = dict(transport.sent)["careful@example.org"]
    assert "5 failed_new" in digest.text and "https://logs.example.org/b039/" in digest.text


def test_a_failure_with_no_history_is_high_risk_and_one_broken_before_is_low():
    mails, _ = mailed("F")
    assert "careful@example.org" in mails
    assert "risk high: no earlier run of this job is on record" in mails["careful@example.org"].text
    mails, _ = mailed("FFFF")
    assert sorted(mails) == ["all@example.org"]
    assert (
        "risk low: it failed in all 3 runs before this one: broken before this change"
        in mails["all@example.org"].text
    )


def test_a_failure_widespread_across_changes_is_low_risk_whatever_its_own_history():
    from citriage.models.report import ClusterRef

    history, reports, transport = FakeHistory(), FakeReports(), FakeTransport()
    last = runs("." * 40 + "F", history)
    # Its failure's cluster failed runs of 4 changes (this one's included)
    cluster = ClusterRef(id="c-0123456789ab", runs=6, jobs=3, changes=4)
    last = last.model_copy(
        update={"failures": [f.model_copy(update={"cluster": cluster}) for f in last.failures]}
    )
    reports.put_report(last)
    NotifyService(
        reports, FakeList([GATED, EVERYTHING]), FakeDedupe(), [transport], "c@example.org",
        history=history, policy=NotifyPolicy(ci_admins=[]),
    ).handle(RunAnalyzed.from_report(last))  # fmt: skip
    mails = dict(transport.sent)
    assert sorted(mails) == ["all@example.org"]
    text = mails["all@example.org"].text
    assert "risk low: the same failure is in runs of 3 other changes (cluster c-0123456789ab)" in text
    assert "Also seen: in 5 other runs of 3 jobs (cluster c-0123456789ab)" in text
