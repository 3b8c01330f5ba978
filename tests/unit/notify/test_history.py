"""History lines: flaky versus regression, judged from a job's sequence of runs."""

from datetime import timedelta

from citriage.models import Classification, RunAnalyzed, Subscription, Verdict
from citriage.notify.audience import NotifyPolicy
from citriage.notify.history import RunRecord, judge_issue, judge_test, previous_run
from citriage.notify.service import NotifyService

from tests.unit.fakes import FakeDedupe, FakeList, FakeReports, FakeTransport
from tests.unit.mail_fakes import DNS_TEST, PORT_TEST, T0, VOLUME_TEST, FakeHistory, failure, make_report


def run_sequence(pattern: str, test_id: str = PORT_TEST, history: FakeHistory | None = None) -> FakeHistory:
    """Record one run per character, oldest first: F fails the test, . passes it, I is an
    infrastructure run that read no results, K fails the volume test with the known issue."""
    history = history or FakeHistory()
    for n, mark in enumerate(pattern):
        at = T0 + timedelta(hours=n)
        build = f"b{n:03d}"
        if mark == "F":
            report = make_report([failure(test_id)], build=build, at=at)
        elif mark == "K":
            report = make_report([failure(VOLUME_TEST, Classification.KNOWN)], build=build, at=at)
        elif mark == "I":
            report = make_report([], verdict=Verdict.INFRA, build=build, at=at, total=0)
        else:
            report = make_report([], build=build, at=at)
        history.record(report)
    return history


def newest_first(history: FakeHistory) -> list[RunRecord]:
    return sorted(history.records.values(), key=lambda r: r.sort_key, reverse=True)


def test_first_failure_after_40_passes_is_a_likely_regression():
    # Given 40 passing runs, then one failing the test
    records = newest_first(run_sequence("." * 40 + "F"))
    # When judged
    line = judge_test(PORT_TEST, records, window=20)
    # Then it is called out as a regression, this run being the first failing one
    assert line.kind == "regression"
    assert line.text == "first failure after 40 passes — likely a regression"
    assert line.first_failed_run_id == "zuul:b040"
    assert (line.failed, line.runs, line.passes_before) == (1, 20, 40)


def test_intermittent_failures_are_flaky_with_the_first_failure_linked():
    # Given a test that failed in 3 earlier runs of the last 20, with passes in between
    records = newest_first(run_sequence("." * 10 + "..F....F.....F....." + "F"))
    # When judged
    line = judge_test(PORT_TEST, records, window=20)
    # Then: failed 4 of the last 20 runs, flaky; the first failure in the window is linked
    assert line.kind == "flaky"
    assert line.text == "failed 4 of the last 20 runs — flaky"
    assert line.first_failed_url == "https://logs.example.org/b012/"


def test_failure_outside_the_window_does_not_make_it_flaky():
    records = newest_first(run_sequence("F" + "." * 25 + "F"))
    line = judge_test(PORT_TEST, records, window=20)
    assert line.kind == "regression" and line.passes_before == 25


def test_a_failing_streak_after_passes_links_the_first_failing_run():
    records = newest_first(run_sequence("." * 30 + "FFF"))
    line = judge_test(PORT_TEST, records, window=20)
    assert line.kind == "regression"
    assert line.text == "failing for the last 3 runs, after 30 passes — likely a regression"
    assert line.first_failed_url == "https://logs.example.org/b030/"


def test_never_passed_on_record_is_still_failing():
    line = judge_test(PORT_TEST, newest_first(run_sequence("FFFF")), window=20)
    assert line.kind == "still_failing" and line.text.startswith("failed in all 4 recorded runs")


def test_first_run_on_record_has_no_history():
    line = judge_test(PORT_TEST, newest_first(run_sequence("F")), window=20)
    assert line.kind == "no_history"


def test_runs_without_results_count_neither_way():
    # Infrastructure runs between the passes read no results: they are not passes
    records = newest_first(run_sequence(".I.I.II" + "F"))
    line = judge_test(PORT_TEST, records, window=20)
    assert line.passes_before == 3 and line.runs == 4


def test_known_issue_hits_over_the_last_runs():
    records = newest_first(run_sequence("K..K.K" + "K"))
    line = judge_issue("LP-1929710", records, window=5)
    assert line.text == "hit 3 of the last 5 runs of this job"


def test_previous_run_is_the_one_before():
    records = newest_first(run_sequence("F."))
    previous = previous_run(records, "zuul:b001")
    assert previous is not None and previous.run_id == "zuul:b000"
    assert previous_run(records, "zuul:b000") is None


def test_record_keeps_what_judging_needs():
    report = make_report(
        [failure(VOLUME_TEST, Classification.KNOWN), failure(DNS_TEST, Classification.INFRA)]
    )
    record = RunRecord.from_report(report)
    assert record.known_issues() == {"LP-1929710"}
    assert record.infra_categories == ["network"]
    assert record.duration_seconds == 3000
    assert not record.passed_test(VOLUME_TEST) and record.passed_test(PORT_TEST)


def test_a_run_with_unlisted_failures_never_counts_an_unlisted_test_as_passed():
    # Given a run whose report lists one failure and groups 2,000 more it could not list
    report = make_report([failure(VOLUME_TEST, Classification.KNOWN)]).model_copy(
        update={"omitted_failures": {"new": 2000}}
    )
    record = RunRecord.from_report(report)
    # Then a test it does not list is not taken for a pass (it may be one of the 2,000)
    assert not record.passed_test(PORT_TEST)


def test_mail_shows_the_history_lines_of_a_stored_sequence():
    # Given 41 runs passing the port test, two of them failing the volume test, then a run failing both
    history = run_sequence("." * 30 + "....K.....K", test_id=PORT_TEST)
    last = make_report(
        [failure(PORT_TEST), failure(VOLUME_TEST, Classification.KNOWN)],
        build="b999",
        at=T0 + timedelta(days=5),
    )
    history.record(last)
    reports = FakeReports()
    reports.put_report(last)
    transport = FakeTransport()
    service = NotifyService(
        reports,
        FakeList([Subscription(email="nova@example.org", jobs=["tempest-*"])]),
        FakeDedupe(),
        [transport],
        "citriage@example.org",
        history=history,
        policy=NotifyPolicy(),
    )
    # When the last run is notified
    service.handle(RunAnalyzed.from_report(last))
    ((_, mail),) = transport.sent
    # Then each failing test carries its own history line, and the known issue its hit rate
    assert "History: first failure after 41 passes — likely a regression" in mail.text
    assert (
        "History: failed 3 of the last 20 runs — flaky (first failing run: https://logs.example.org/b034/)"
        in (mail.text)
    )
    assert "hit 3 of the last 20 runs of this job" in mail.text
    assert "history: the last 20 runs of tempest-full on record" in mail.text
    assert "first failure after 41 passes" in mail.html


def test_infra_failure_is_not_called_a_regression():
    # Given 10 passing runs, then one where the test failed because DNS broke
    history = run_sequence("." * 10, test_id=DNS_TEST)
    last = make_report([failure(DNS_TEST, Classification.INFRA)], build="b999", at=T0 + timedelta(days=1))
    history.record(last)
    records = history.recent("zuul", "tempest-full", None, 100)
    from citriage.notify.service import history_context
    from citriage.notify.view import build_view

    # When the mail view is built
    (view,) = build_view(last, history_context(last, records, 20)).infra_failures
    # Then its history says the infrastructure, not "likely a regression"
    assert view.history == "failed 1 of the last 11 runs; this time the infrastructure"
    assert view.history_kind == "infra"


def test_previous_run_passes_over_runs_without_results():
    records = newest_first(run_sequence("FI."))
    previous = previous_run(records, "zuul:b002")
    assert previous is not None and previous.run_id == "zuul:b000"
