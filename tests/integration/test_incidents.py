"""Incidents on the real table (the embedded endpoint): opened by a burst of infra runs on one
service, once under concurrency, grown, closed by clean runs or quiet, announced once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from citriage.adapters.aws.incidents import IncidentStore
from citriage.incidents.tracker import IncidentTracker
from citriage.models import InfraFinding, RunEvent, RunReport, TestCounts, Verdict
from citriage.models.incident import IncidentPolicy, IncidentState, IncidentThreshold

from tests.unit.fakes import FakePublisher

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
MIRROR = "mirror.regionone.example.org"


def run(
    n: int, job: str, minutes: float, verdict: Verdict = Verdict.INFRA, service: str | None = MIRROR
) -> RunReport:
    ended = T0 + timedelta(minutes=minutes)
    infra = (
        [
            InfraFinding(
                rule="dns-temporary-failure",
                category="network",
                service=service,
                excerpt=f"{service}: no DNS",
            )
        ]
        if verdict is Verdict.INFRA
        else []
    )
    return RunReport(
        run=RunEvent(
            source="zuul",
            job=job,
            build_id=f"b{n}",
            log_url=f"https://logs.example/{n}/",
            start_time=ended - timedelta(minutes=40),
            end_time=ended,
        ),
        verdict=verdict,
        tests=TestCounts(),
        infra=infra,
        analyzed_at=ended,
    )


@pytest.fixture
def tracker(stack):
    clock = [T0 + timedelta(minutes=30)]
    store = IncidentStore(
        boto3.resource("dynamodb").Table(stack.env["INCIDENTS_TABLE"]), boto3.client("dynamodb")
    )
    tracking = IncidentTracker(store, IncidentPolicy(), clock=lambda: clock[0])
    return tracking, store, clock


def test_a_burst_on_one_mirror_is_one_incident_and_two_clean_runs_close_it(tracker):
    tracking, store, clock = tracker
    publisher = FakePublisher()
    # Given two infra runs on the mirror: below the threshold (3 runs), no incident
    assert tracking.observe(run(1, "tempest-full", 0)).incident is None
    assert tracking.observe(run(2, "tempest-full", 4)).incident is None
    # When a third run, of a second job, fails on it within 30 minutes: one incident, with all three
    third = tracking.observe(run(3, "devstack", 9))
    assert third.incident and [i.id for i in third.opened] == [third.incident]
    # And two more runs of a third job join it (a run of another service does not)
    assert tracking.observe(run(4, "grenade", 17)).incident == third.incident
    assert tracking.observe(run(5, "grenade", 24)).incident == third.incident
    assert tracking.observe(run(6, "tox", 25, service="pypi.example.org")).incident is None
    incident = store.get(third.incident)
    assert incident is not None and incident.state is IncidentState.OPEN
    assert (incident.run_count, incident.jobs, incident.service) == (
        5,
        ["devstack", "grenade", "tempest-full"],
        MIRROR,
    )
    assert incident.runs == ["zuul:b1", "zuul:b2", "zuul:b3", "zuul:b4", "zuul:b5"]
    assert incident.opened_at == T0 and incident.last_hit_at == T0 + timedelta(minutes=24)
    assert incident.ci_seconds_lost == 5 * 40 * 60
    # And a redelivered run is not counted twice
    assert tracking.observe(run(5, "grenade", 24)).incident == third.incident
    assert store.get(third.incident).run_count == 5
    # Then its opening is announced once, however often asked
    assert tracking.announce(publisher) == 1
    assert tracking.announce(publisher) == 0
    assert publisher.incident_events == [("open", third.incident)]
    # When two clean runs of its jobs end after its last hit, it closes
    clock[0] = T0 + timedelta(minutes=45)
    assert tracking.observe(run(7, "tempest-full", 40, Verdict.PASSED)).closed == []
    assert tracking.observe(run(7, "tempest-full", 40, Verdict.PASSED)).closed == []  # the same run again
    closed = tracking.observe(run(8, "devstack", 42, Verdict.FAILED_NEW)).closed
    assert [(i.id, i.closed_by) for i in closed] == [(third.incident, "clean runs")]
    # It ended when the closing run ended
    assert closed[0].duration_seconds == 42 * 60
    assert store.open_for(closed[0].key) is None
    assert tracking.announce(publisher) == 1
    assert publisher.incident_events == [("open", third.incident), ("closed", third.incident)]
    # And a new burst on the mirror later is a new incident
    for n, minutes in ((9, 120), (10, 121), (11, 122)):
        later = tracking.observe(run(n, "tempest-full" if n < 11 else "devstack", minutes))
    assert later.incident and later.incident != third.incident


def test_an_incident_closes_after_its_quiet_time_and_a_new_hit_resets_its_clean_runs(tracker):
    tracking, store, clock = tracker
    for n, job in enumerate(["a", "b", "a"], 1):
        observed = tracking.observe(run(n, job, n))
    incident_id = observed.incident
    assert incident_id
    # A clean run, then a new hit: the clean count starts again
    clock[0] = T0 + timedelta(minutes=20)
    tracking.observe(run(4, "a", 10, Verdict.PASSED))
    assert store.get(incident_id).clean_runs == 1
    tracking.observe(run(5, "b", 12))
    assert store.get(incident_id).clean_runs == 0
    # 59 minutes after its last hit it is still open; at 60 it closes as quiet
    clock[0] = T0 + timedelta(minutes=12 + 59)
    assert tracking.close_quiet() == []
    clock[0] = T0 + timedelta(minutes=12 + 60)
    assert [(i.id, i.closed_by) for i in tracking.close_quiet()] == [(incident_id, "quiet")]
    # Its end is its last hit: the quiet hour is not downtime
    assert store.get(incident_id).duration_seconds == (12 - 1) * 60


def test_a_category_threshold_of_its_own_applies(stack):
    store = IncidentStore(
        boto3.resource("dynamodb").Table(stack.env["INCIDENTS_TABLE"]), boto3.client("dynamodb")
    )
    policy = IncidentPolicy(categories={"network": IncidentThreshold(runs=2, jobs=1)})
    tracking = IncidentTracker(store, policy, clock=lambda: T0 + timedelta(minutes=5))
    assert tracking.observe(run(1, "a", 0)).incident is None
    assert tracking.observe(run(2, "a", 1)).incident is not None


def test_ten_concurrent_analyses_of_one_burst_open_one_incident(tracker):
    tracking, store, _ = tracker
    ids: list[str | None] = []
    opened: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def analyse(n: int) -> None:
        report = run(n, f"job-{n % 4}", n)
        barrier.wait()
        observed = tracking.observe(report)
        with lock:
            ids.append(observed.incident)
            opened.extend(i.id for i in observed.opened)

    threads = [threading.Thread(target=analyse, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One incident opened, and it holds all ten runs, each counted once
    assert len(opened) == 1
    incident = store.get(opened[0])
    assert incident is not None and incident.run_count == 10
    assert sorted(incident.runs) == sorted(f"zuul:b{n}" for n in range(10))
    # Every run that came after the threshold was met names it (the first ones came before it)
    assert {i for i in ids if i} == {opened[0]}


def test_the_ledger_counts_each_incidents_time_within_the_period(tracker):
    from citriage.incidents.ledger import IncidentLedger

    tracking, store, clock = tracker
    # Given a closed outage of the mirror (T0 .. T0+45 min) and one of another host still open
    for n, job in enumerate(["a", "b", "a"], 1):
        tracking.observe(run(n, job, n))
    clock[0] = T0 + timedelta(minutes=45)
    tracking.observe(run(4, "a", 40, Verdict.PASSED))
    assert tracking.observe(run(5, "b", 41, Verdict.PASSED)).closed
    for n, job in ((6, "c"), (7, "d"), (8, "c")):
        tracking.observe(run(n, job, 60 + n, service="git.example.org"))
    clock[0] = T0 + timedelta(minutes=100)
    ledger = IncidentLedger(store, clock=lambda: clock[0])
    # When the ledger of [T0+30 min, T0+100 min) is asked for
    report = ledger.report(T0 + timedelta(minutes=30), T0 + timedelta(minutes=100))
    # Then the mirror counts its 11 minutes within the period (it ended with the run that
    # closed it, at 41), the open one its 34 up to now
    rows = {row.service: row for row in report.rows}
    assert rows[MIRROR].downtime_seconds == 11 * 60 and rows[MIRROR].runs == 3
    assert rows["git.example.org"].downtime_seconds == (100 - 66) * 60
    assert report.downtime_seconds == sum(r.downtime_seconds for r in report.rows)
    assert report.incidents == 2 and report.runs == 6
    assert [i.service for i in ledger.search(T0, T0 + timedelta(minutes=100))] == ["git.example.org", MIRROR]
