"""Digests: per subscriber runs and verdicts, top flaky tests, known issues, infra time lost."""

import logging
from datetime import UTC, datetime, timedelta

from citriage.models import Classification, Subscription, Verdict
from citriage.notify.digest import DigestService, build_digest, period_window
from citriage.notify.history import RunRecord

from tests.unit.fakes import FakeDedupe, FakeList, FakeTransport
from tests.unit.mail_fakes import (
    PORT_TEST,
    T0,
    VOLUME_TEST,
    FakeHistory,
    FakeSuppressions,
    failure,
    make_report,
)

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # the daily schedule, the morning after T0's day


def day_of_runs() -> FakeHistory:
    """Runs of 2026-11-01: tempest-full 4 times (port test flaky, LP hit twice), one infra run
    of devstack lasting 50 minutes, and a grenade run; plus one run the day before."""
    history = FakeHistory()
    reports = [
        make_report([failure(PORT_TEST)], build="t1", at=T0),
        make_report([], build="t2", at=T0 + timedelta(hours=1)),
        make_report([failure(VOLUME_TEST, Classification.KNOWN)], build="t3", at=T0 + timedelta(hours=2)),
        make_report(
            [failure(PORT_TEST), failure(VOLUME_TEST, Classification.KNOWN)],
            build="t4",
            at=T0 + timedelta(hours=3),
        ),
        make_report(
            [], verdict=Verdict.INFRA, build="d1", job="devstack", at=T0 + timedelta(hours=4), total=0
        ),
        make_report([failure(PORT_TEST)], build="g1", job="grenade", at=T0 + timedelta(hours=5)),
        make_report([failure(PORT_TEST)], build="old", at=T0 - timedelta(days=1)),
    ]
    for report in reports:
        history.record(report)
    return history


def records_of_the_day(history: FakeHistory) -> list[RunRecord]:
    start, end = period_window("daily", NOW)
    return history.between(start, end)


def test_period_window_is_the_day_before():
    assert period_window("daily", NOW) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 2, tzinfo=UTC),
    )
    assert period_window("weekly", NOW)[0] == datetime(2026, 10, 26, tzinfo=UTC)


def test_job_subscriber_digest():
    # Given a day of runs, and a subscriber to tempest-* and devstack
    sub = Subscription(email="d@example.org", jobs=["tempest-*", "devstack"], delivery="daily")
    start, end = period_window("daily", NOW)
    # When its digest is built
    view = build_digest(sub, records_of_the_day(day_of_runs()), "daily", start, end)
    # Then it counts its jobs' runs and verdicts, not grenade's nor yesterday's
    assert view.total_runs == 5
    assert [(j.job, j.runs, j.verdicts) for j in view.jobs] == [
        ("devstack", 1, "1 infra"),
        ("tempest-full", 4, "1 failed_known, 2 failed_new, 1 passed"),
    ]
    # The port test failed 2 of 4 runs: flaky; the volume test too
    assert [(f.test_id, f.text) for f in view.flaky] == [
        (PORT_TEST, "failed 2 of 4 runs of tempest-full"),
        (VOLUME_TEST, "failed 2 of 4 runs of tempest-full"),
    ]
    assert [(i.issue_id, i.runs) for i in view.issues] == [("LP-1929710", 2)]
    assert (view.infra_runs, view.infra_time) == (1, "0h 50m")


def test_test_subscriber_digest_covers_its_tests_only():
    sub = Subscription(email="s@example.org", tests=["tempest.api.volume.*"], delivery="daily")
    start, end = period_window("daily", NOW)
    view = build_digest(sub, records_of_the_day(day_of_runs()), "daily", start, end)
    assert [j.job for j in view.jobs] == ["tempest-full"]
    assert [f.test_id for f in view.flaky] == [VOLUME_TEST]


def service(history, transport, dedupe, suppressed=frozenset()):
    subs = [
        Subscription(email="daily@example.org", jobs=["tempest-*"], delivery="daily"),
        Subscription(email="weekly@example.org", jobs=["tempest-*"], delivery="weekly"),
        Subscription(email="quiet@example.org", jobs=["nothing-runs-*"], delivery="daily"),
        Subscription(email="gone@example.org", jobs=["*"], delivery="daily"),
        Subscription(email="now@example.org", jobs=["*"]),
    ]
    return DigestService(
        history,
        FakeList(subs),
        dedupe,
        [transport],
        "c@example.org",
        suppressions=FakeSuppressions(set(suppressed)),
    )


def test_digests_are_sent_once_per_period_and_skip_suppressed(caplog):
    # Given a day of runs and subscribers of every delivery
    history, transport, dedupe = day_of_runs(), FakeTransport(), FakeDedupe()
    # When the daily digest runs
    with caplog.at_level(logging.WARNING, logger="citriage.notify.digest"):
        outcome = service(history, transport, dedupe, {"gone@example.org"}).send("daily", NOW)
    # Then only daily subscribers with runs get one; the suppressed address is skipped and logged
    assert outcome.sent == ["daily@example.org"]
    assert outcome.empty == ["quiet@example.org"] and outcome.suppressed == ["gone@example.org"]
    assert "suppressed address skipped: gone@example.org" in caplog.text
    ((_recipient, mail),) = transport.sent
    assert mail.subject == "[citriage] Daily digest 2026-11-01: 4 runs, 0 infra, 2 flaky tests"
    assert "tempest-full: 4 run(s): 1 failed_known, 2 failed_new, 1 passed" in mail.text
    # When the schedule fires again for the same day, nothing new is sent
    again = service(history, transport, dedupe, {"gone@example.org"}).send("daily", NOW + timedelta(hours=1))
    assert again.sent == [] and "daily@example.org" in again.already_sent and len(transport.sent) == 1


def test_the_ci_admins_get_the_days_infra_runs_in_their_daily_digest_and_nothing_on_a_clean_day():
    # Given a day with one infra run (devstack, outside any incident) and a CI admin
    history, transport = day_of_runs(), FakeTransport()
    digests = DigestService(
        history, FakeList([]), FakeDedupe(), [transport], "c@example.org", admins=["ci-admins@example.org"]
    )
    # When the daily digest runs: the admin gets one, which says why and lists the infra run
    outcome = digests.send("daily", NOW)
    assert outcome.sent == ["ci-admins@example.org"]
    ((_recipient, mail),) = transport.sent
    assert mail.subject == "[citriage] Daily digest 2026-11-01: 6 runs, 1 infra, 2 flaky tests"
    assert "you are a CI admin: the runs that failed on the infrastructure outside any incident" in mail.text
    assert "devstack: 1 run(s): 1 infra" in mail.text
    # And no weekly digest for them, nor a daily one on a day without infra runs
    assert digests.send("weekly", NOW).sent == []
    clean = FakeHistory()
    clean.record(make_report([], build="p1", at=T0))
    quiet = DigestService(
        clean,
        FakeList([]),
        FakeDedupe(),
        [FakeTransport()],
        "c@example.org",
        admins=["ci-admins@example.org"],
    )
    assert quiet.send("daily", NOW).empty == ["ci-admins@example.org"]


def test_the_admins_weekly_digest_lists_the_signatures_to_retire_or_fix():
    from citriage.models import KnownIssue, SignatureStats

    class Signatures:
        def listed(self):
            old = KnownIssue(id="OLD-1", title="fixed", bug_url="https://b.example.org/1", pattern="gone",
                             bug_status="Fix Released")  # fmt: skip
            broad = KnownIssue(
                id="BROAD-2", title="broad", bug_url="https://b.example.org/2", pattern="Cloning"
            )
            fine = KnownIssue(id="FINE-3", title="fine", bug_url="https://b.example.org/3", pattern="fine")
            recent = SignatureStats(hits=3, runs_hit=3, last_hit_at=NOW - timedelta(days=1))
            return [
                (old, SignatureStats()),
                (broad, SignatureStats(passing_hits=2, last_passing_run_id="zuul:b9")),
                (fine, recent),
            ]

    transport = FakeTransport()
    digests = DigestService(
        day_of_runs(), FakeList([]), FakeDedupe(), [transport], "c@example.org",
        admins=["ci-admins@example.org"], known_issues=Signatures(),
    )  # fmt: skip
    # The weekly digest reaches the admin with the two signatures that need a person, saying why
    outcome = digests.send("weekly", NOW)
    assert outcome.sent == ["ci-admins@example.org"]
    text = dict(transport.sent)["ci-admins@example.org"].text
    assert "SIGNATURES TO RETIRE OR FIX" in text and "signatures that need a person" in text
    assert "* BROAD-2: fix: it matched 2 passing run(s), last zuul:b9" in text
    assert (
        "* OLD-1: retire: its bug is Fix Released and it has not explained a failure for 30 days (never)"
        in text
    )
    assert "FINE-3" not in text
    # With nothing to flag, the admins get no weekly digest
    quiet = DigestService(
        day_of_runs(), FakeList([]), FakeDedupe(), [FakeTransport()], "c@example.org",
        admins=["ci-admins@example.org"], known_issues=type("Nothing", (), {"listed": lambda self: []})(),
    )  # fmt: skip
    assert quiet.send("weekly", NOW).sent == []
