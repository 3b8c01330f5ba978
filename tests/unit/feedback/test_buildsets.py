"""The buildset tracker: one BuildsetAnalyzed per buildset, when its last run is in or its deadline
passes; approvable only when no voting run has a new (or unexplained) failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from citriage.feedback.buildsets import BuildsetTracker, ReportNotStored
from citriage.models import RunAnalyzed, RunEvent, RunReport
from citriage.models.report import Classification, Failure, KnownIssueRef, TestCounts, Verdict

from tests.unit.fakes import FakeBuildsets, FakePublisher, FakeReports

T0 = datetime(2026, 12, 5, 10, tzinfo=UTC)
BUG = KnownIssueRef(id="LP-1929710", bug_url="https://bugs.launchpad.net/nova/+bug/1929710", title="attach")


def report(
    job: str,
    verdict: Verdict,
    *failures: Failure,
    size: int = 3,
    voting: bool = True,
    result: str = "FAILURE",
):
    run = RunEvent(
        source="zuul",
        job=job,
        build_id=f"b-{job}",
        result=result,
        log_url=f"https://logs.example.org/{job}/",
        change="912345",
        patchset="3",
        project="openstack/nova",
        change_url="https://review.opendev.org/c/openstack/nova/+/912345",
        buildset_id="bs1",
        buildset_size=size,
        voting=voting,
    )
    return RunReport(run=run, verdict=verdict, tests=TestCounts(), failures=list(failures), analyzed_at=T0)


NEW = Failure(test_id="test_ports", classification=Classification.NEW, message="MismatchError: 2 != 3")
KNOWN = Failure(test_id="test_attach", classification=Classification.KNOWN, known_issue=BUG, message="stuck")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def tracker(*reports: RunReport, fail_publish: bool = False):
    store, reps, bus, clock = FakeBuildsets(), FakeReports(), FakePublisher(), Clock()
    for r in reports:
        reps.put_report(r)
    if fail_publish:
        bus.buildset_analyzed = lambda event: (_ for _ in ()).throw(ConnectionError("bus down"))
    return BuildsetTracker(store, reps, bus, timedelta(hours=3), clock), bus, clock, store


def test_the_last_run_publishes_one_event_naming_the_new_failure():
    runs = [
        report("tempest", Verdict.FAILED_NEW, NEW, KNOWN),
        report("docs", Verdict.PASSED),
        report("unit", Verdict.PASSED),
    ]
    track, bus, _, _ = tracker(*runs)
    assert track.on_run(RunAnalyzed.from_report(runs[0])) is None
    assert track.on_run(RunAnalyzed.from_report(runs[1])) is None
    event = track.on_run(RunAnalyzed.from_report(runs[2]))
    assert event is not None and bus.buildsets == [event]
    assert event.approvable is False and event.incomplete is False
    assert [(b.job, b.test_id, b.message) for b in event.blocking] == [
        ("tempest", "test_ports", "MismatchError: 2 != 3")
    ]
    assert [(w.test_id, w.issue) for w in event.waived] == [("test_attach", "LP-1929710")]
    assert event.verdicts == {"failed_new": 1, "passed": 2}
    # A redelivered run after the event publishes nothing more
    assert track.on_run(RunAnalyzed.from_report(runs[2])) is None and len(bus.buildsets) == 1


def test_known_and_infra_failures_only_are_approvable_and_a_non_voting_new_one_does_not_block():
    runs = [
        report("tempest", Verdict.FAILED_KNOWN, KNOWN, size=2),
        report("experimental", Verdict.FAILED_NEW, NEW, size=2, voting=False),
    ]
    track, bus, _, _ = tracker(*runs)
    for r in runs:
        track.on_run(RunAnalyzed.from_report(r))
    (event,) = bus.buildsets
    assert event.approvable is True and event.blocking == []
    assert [n.job for n in event.non_voting] == ["experimental"]


def test_a_failed_run_nothing_could_be_read_of_blocks_but_a_passed_one_does_not():
    failed = report("lint", Verdict.NO_RESULTS, size=2)
    passed = report("docs", Verdict.NO_RESULTS, size=2, result="SUCCESS")
    track, bus, _, _ = tracker(failed, passed)
    track.on_run(RunAnalyzed.from_report(failed))
    track.on_run(RunAnalyzed.from_report(passed))
    (event,) = bus.buildsets
    assert event.approvable is False and [b.job for b in event.blocking] == ["lint"]


def test_the_deadline_round_publishes_an_incomplete_buildset_once():
    first = report("tempest", Verdict.PASSED)
    track, bus, clock, _ = tracker(first)
    track.on_run(RunAnalyzed.from_report(first))
    assert track.round() == []
    clock.now = T0 + timedelta(hours=3, minutes=1)
    (event,) = track.round()
    assert (
        event.incomplete is True and event.approvable is False and event.analyzed == 1 and event.expected == 3
    )
    assert track.round() == [] and len(bus.buildsets) == 1


def test_a_bus_failure_leaves_the_event_to_be_published_again():
    only = report("tempest", Verdict.PASSED, size=1)
    track, bus, _, store = tracker(only, fail_publish=True)
    with pytest.raises(ConnectionError):
        track.on_run(RunAnalyzed.from_report(only))
    assert store.get("zuul:bs1").published is None
    bus.buildset_analyzed = bus.buildsets.append
    event = track.on_run(RunAnalyzed.from_report(only))
    assert event is not None and event.approvable is True and bus.buildsets == [event]


def test_runs_whose_buildset_size_nobody_knows_are_not_tracked_and_a_missing_report_is_retried():
    unsized = report("x", Verdict.PASSED)
    unsized = unsized.model_copy(update={"run": unsized.run.model_copy(update={"buildset_size": None})})
    track, bus, _, store = tracker(unsized)
    assert track.on_run(RunAnalyzed.from_report(unsized)) is None and store.heads == {}
    with pytest.raises(ReportNotStored):
        track.on_run(RunAnalyzed.from_report(report("y", Verdict.PASSED)))
    assert bus.buildsets == []


def test_an_openqa_builds_size_comes_from_the_sizes_and_its_runs_fill_it():
    class Sizes:
        def size_of(self, run):
            return run.buildset_size or 2

    def job(n: int, verdict: Verdict, *failures: Failure) -> RunReport:
        run = RunEvent(
            source="openqa",
            job=f"test{n}",
            build_id=f"openqa.example.org/{n}",
            result="failed",
            log_url=f"https://openqa.example.org/tests/{n}",
            buildset_id="openqa.example.org/1/:41234:kernel",
        )
        return RunReport(
            run=run, verdict=verdict, tests=TestCounts(), failures=list(failures), analyzed_at=T0
        )

    runs = [job(1, Verdict.PASSED), job(2, Verdict.FAILED_KNOWN, KNOWN)]
    store, reps, bus = FakeBuildsets(), FakeReports(), FakePublisher()
    for r in runs:
        reps.put_report(r)
    track = BuildsetTracker(store, reps, bus, timedelta(hours=3), Clock(), sizes=Sizes())
    assert track.on_run(RunAnalyzed.from_report(runs[0])) is None
    event = track.on_run(RunAnalyzed.from_report(runs[1]))
    assert event is not None and event.id == "openqa:openqa.example.org/1/:41234:kernel"
    assert (event.expected, event.approvable) == (2, True)
