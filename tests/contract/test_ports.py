"""The same cases against each port's fake and its real adapter (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from citriage.models import (
    KnownIssue,
    MailMessage,
    RunEvent,
    RunReport,
    Subscription,
    SweepCursor,
    TestCounts,
    Verdict,
)
from citriage.notify.history import RunRecord
from citriage.notify.ses_events import Suppression

from tests.conftest import SENDER

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def run(build: str, job: str = "contract-job", when: datetime = T0) -> RunEvent:
    return RunEvent(
        source="zuul",
        job=job,
        build_id=build,
        result="FAILURE",
        log_url=f"https://logs/{build}/",
        end_time=when,
    )


def report(build: str, verdict: Verdict = Verdict.FAILED_NEW, when: datetime = T0) -> RunReport:
    return RunReport(
        run=run(build, when=when), verdict=verdict, tests=TestCounts(total=3, passed=2, failed=1)
    )


# ---- Dedupe ----------------------------------------------------------------------------------


def test_dedupe_a_plain_claim_is_final(dedupe):
    assert dedupe.port.claim("k1") is True
    assert dedupe.port.claim("k1") is False
    dedupe.advance(10**6)
    assert dedupe.port.claim("k1") is False
    assert dedupe.port.is_pending("k1") is False


def test_dedupe_a_leased_claim_is_pending_until_completed_or_its_lease_runs_out(dedupe):
    # Given a leased claim
    assert dedupe.port.claim("k2", lease_seconds=60) is True
    assert dedupe.port.is_pending("k2") is True
    # Then it cannot be taken while its lease lasts
    dedupe.advance(30)
    assert dedupe.port.claim("k2", lease_seconds=60) is False
    # And once the lease ran out (its worker died), it can
    dedupe.advance(31)
    assert dedupe.port.claim("k2", lease_seconds=60) is True
    # And a completed claim is final, never pending
    dedupe.port.complete("k2")
    assert dedupe.port.is_pending("k2") is False
    dedupe.advance(10**6)
    assert dedupe.port.claim("k2", lease_seconds=60) is False


def test_dedupe_a_released_claim_can_be_taken_again(dedupe):
    assert dedupe.port.claim("k3", lease_seconds=60) is True
    dedupe.port.release("k3")
    assert dedupe.port.is_pending("k3") is False
    assert dedupe.port.claim("k3") is True


# ---- Queue and Publisher ---------------------------------------------------------------------


def test_queue_delivers_each_run_whole(queue):
    sent = [run("q1"), run("q2", job="other")]
    for item in sent:
        queue.port.send(item)
    arrived = queue.arrived()
    assert sorted(arrived, key=lambda r: r.build_id) == sent


def test_publisher_puts_the_run_analyzed_summary_of_a_report(publisher):
    publisher.port.run_analyzed(report("p1", Verdict.FAILED_KNOWN))
    [event] = publisher.arrived()
    assert (event.run_id, event.verdict, event.tests.failed) == ("zuul:p1", Verdict.FAILED_KNOWN, 1)


# ---- Reports, History, Cursors ---------------------------------------------------------------


def test_reports_are_none_until_stored_then_read_back_equal(reports):
    assert reports.get_report("zuul:r1") is None
    stored = report("r1")
    reports.put_report(stored)
    assert reports.get_report("zuul:r1") == stored
    # A redelivery overwrites: the last report stands
    again = stored.model_copy(update={"verdict": Verdict.INFRA})
    reports.put_report(again)
    assert reports.get_report("zuul:r1") == again


def test_history_keeps_a_jobs_records_newest_first_and_by_time(history):
    # Given five runs of a job an hour apart, and one of another job
    for n in range(5):
        history.record(report(f"h{n}", when=T0 + timedelta(hours=n)))
    other = report("x1", when=T0).model_copy(update={"run": run("x1", job="other-job")})
    history.record(other)
    # Then the job's recent records come newest first, capped, ending where asked
    recent = history.recent("zuul", "contract-job", None, 3)
    assert [r.run_id for r in recent] == ["zuul:h4", "zuul:h3", "zuul:h2"]
    up_to = RunRecord.from_report(report("h2", when=T0 + timedelta(hours=2)))
    assert [r.run_id for r in history.recent("zuul", "contract-job", up_to, 10)] == [
        "zuul:h2",
        "zuul:h1",
        "zuul:h0",
    ]
    # And by time, every job's records in [start, end)
    window = history.between(T0, T0 + timedelta(hours=2))
    assert sorted(r.run_id for r in window) == ["zuul:h0", "zuul:h1", "zuul:x1"]
    # And a redelivered run is recorded once
    history.record(report("h4", when=T0 + timedelta(hours=4)))
    assert len(history.recent("zuul", "contract-job", None, 10)) == 5


def test_cursors_start_empty_and_are_replaced_whole(cursors):
    assert cursors.get("zuul:job") == SweepCursor()
    cursors.put("zuul:job", SweepCursor(resume_skip=4, walk_top="b0", walk_newest=T0))
    assert cursors.get("zuul:job") == SweepCursor(resume_skip=4, walk_top="b0", walk_newest=T0)
    cursors.put("zuul:job", SweepCursor(since=T0))
    assert cursors.get("zuul:job") == SweepCursor(since=T0)
    assert cursors.get("jenkins:other") == SweepCursor()


# ---- Known issues, Subscriptions, Suppressions -----------------------------------------------


def test_known_issues_list_what_was_stored(known_issues):
    assert known_issues.port.list([]) == []
    issue = KnownIssue(
        id="LP-1", title="t", bug_url="https://bugs/1", pattern="timed out", jobs=["tempest-*"]
    )
    known_issues.add(issue)
    assert known_issues.port.list([]) == [issue]


def test_known_issues_version_moves_when_a_signature_is_stored(known_issues):
    first = known_issues.port.version()
    assert known_issues.port.version() == first
    known_issues.add(KnownIssue(id="LP-7", title="t", bug_url="https://bugs/7", pattern="disk full"))
    second = known_issues.port.version()
    assert second is not None and second != first
    known_issues.add(KnownIssue(id="LP-8", title="t", bug_url="https://bugs/8", pattern="oom killer"))
    assert known_issues.port.version() not in (first, second)
    # The version is no signature: the list holds the two stored, nothing else
    assert sorted(i.id for i in known_issues.port.list([])) == ["LP-7", "LP-8"]


def test_subscriptions_list_what_was_stored(subscriptions):
    assert subscriptions.port.list() == []
    subscription = Subscription(email="dev@example.org", jobs=["tempest-*"], verdicts=[Verdict.FAILED_NEW])
    subscriptions.add(subscription)
    assert subscriptions.port.list() == [subscription]


def test_suppressions_are_case_insensitive(suppressions):
    assert suppressions.port.is_suppressed("Bounce@Example.org") is False
    suppressions.add(Suppression(email="Bounce@Example.org", reason="bounce", at=T0))
    assert suppressions.port.is_suppressed("bounce@example.org") is True
    assert suppressions.port.is_suppressed("other@example.org") is False


# ---- Secrets ---------------------------------------------------------------------------------


def test_secrets_give_each_sources_entry_and_a_key_only_for_a_non_empty_string(secrets):
    secrets.add(("zuul", "k-zuul"))
    secrets.add(("jenkins", {"jenkins.example.org": "user:token"}))
    secrets.add(("gitlab", ""))
    assert secrets.port.key_for("zuul") == "k-zuul"
    assert secrets.port.key_for("jenkins") is None
    assert secrets.port.key_for("gitlab") is None
    assert secrets.port.key_for("github") is None
    assert secrets.port.entry_for("jenkins") == {"jenkins.example.org": "user:token"}
    assert secrets.port.entry_for("github") is None


# ---- Mail transport --------------------------------------------------------------------------


def test_transport_sends_each_mail_once_and_answers_an_id(transport):
    message = MailMessage(
        run_id="zuul:m1",
        sender=SENDER,
        recipients=["dev@example.org"],
        subject="s",
        html="<p>h</p>",
        text="t",
    )
    before = len(transport.arrived())
    first = transport.port.send(message, "dev@example.org")
    after_first = len(transport.arrived())
    second = transport.port.send(message, "ops@example.org")
    assert first and second and first != second
    # SES counts recipients its own way (moto counts the raw message's headers too): each send
    # adds to what was sent, and nothing is sent twice by one call of the fake.
    assert before < after_first < len(transport.arrived())


# ---- buildsets


def _member(run_id: str, verdict: str = "passed"):
    from citriage.models.buildset import BuildsetMember

    return BuildsetMember(
        run_id=run_id,
        job=run_id.rsplit(":", maxsplit=1)[-1],
        verdict=verdict,
        log_url=f"https://l.example.org/{run_id}/",
        analyzed_at=datetime(2026, 12, 5, 10, tzinfo=UTC),
    )


def test_buildsets_gather_runs_once_each_and_keep_the_first_deadline(buildsets):
    from citriage.models.buildset import BuildsetKey

    key = BuildsetKey(id="zuul:bs1", source="zuul", expected=2, change="912345", patchset="3")
    t0 = datetime(2026, 12, 5, 10, tzinfo=UTC)
    first = buildsets.record(key, _member("zuul:a"), t0, t0 + timedelta(hours=3))
    assert [m.run_id for m in first.members] == ["zuul:a"] and not first.complete
    # A redelivered run is the same member; a later run does not move the deadline
    buildsets.record(key, _member("zuul:a"), t0 + timedelta(minutes=1), t0 + timedelta(hours=9))
    second = buildsets.record(
        key, _member("zuul:b", "failed_new"), t0 + timedelta(minutes=2), t0 + timedelta(hours=9)
    )
    assert sorted(m.run_id for m in second.members) == ["zuul:a", "zuul:b"] and second.complete
    assert second.deadline == t0 + timedelta(hours=3) and second.change == "912345"


def test_buildsets_claim_an_event_once_and_the_round_sees_only_unsettled_overdue_ones(buildsets):
    from citriage.models.buildset import BuildsetAnalyzed, BuildsetKey

    t0 = datetime(2026, 12, 5, 10, tzinfo=UTC)
    for name in ("early", "late"):
        key = BuildsetKey(id=f"zuul:{name}", source="zuul", expected=2)
        hours = 1 if name == "early" else 5
        buildsets.record(key, _member(f"zuul:{name}-a"), t0, t0 + timedelta(hours=hours))
    assert buildsets.overdue(t0) == []
    (due,) = buildsets.overdue(t0 + timedelta(hours=2))
    assert due.id == "zuul:early" and due.published is None
    event = BuildsetAnalyzed.of(due, t0 + timedelta(hours=2), incomplete=True)
    assert buildsets.claim(event) is True
    assert buildsets.claim(event) is False
    # A claimed event that was not published can be claimed again after unclaim
    buildsets.unclaim(due.id)
    assert buildsets.claim(event) is True
    claimed = buildsets.overdue(t0 + timedelta(hours=2))[0]
    assert claimed.published == event
    buildsets.settle(claimed)
    assert [b.id for b in buildsets.overdue(t0 + timedelta(hours=6))] == ["zuul:late"]


# ---- uploads


def test_uploads_keep_the_run_then_the_archive_put_to_the_presigned_url(uploads):
    from citriage.errors import FetchFailed
    from citriage.models import RunEvent

    store, upload = uploads.port, "0123456789abcdef0123456789abcdef"
    assert store.get_run(upload) is None and store.archive_size(upload) is None
    run = RunEvent(source="upload", job="unit", build_id="b7", log_url=store.location(upload))
    store.put_run(upload, run)
    assert store.get_run(upload) == run
    url, headers = store.presign_archive(upload, 11, 60)
    assert url.startswith(("http://", "https://")) and headers["Content-Length"] == "11"
    uploads.put(upload, b"hello world")
    assert store.archive_size(upload) == 11
    assert store.open_archive(upload, 11).read() == b"hello world"
    with pytest.raises(FetchFailed):
        store.open_archive(upload, 10)
    with pytest.raises(FetchFailed):
        store.open_archive("f" * 32, 100)
