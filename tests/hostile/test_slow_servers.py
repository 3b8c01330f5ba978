"""A file's deadline holds at the socket: a server that drips, never answers or never closes
gets its run a report, with a note, within the deadline and a few seconds."""

import time

import pytest
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.service import Analyzer
from citriage.config import FetchSettings, LayoutSettings
from citriage.models import RunEvent, Verdict

from tests.hostile.servers import black_hole, drip_body, drip_headers, hostile_server, never_close
from tests.unit.fakes import FakeList

DEADLINE = 3.0


RUN_DEADLINE = 8.0


def analyze(url: str, **settings) -> tuple[object, float]:
    fetch = FetchSettings(
        log_hosts=[url],
        allow_private_addresses=True,
        max_file_seconds=DEADLINE,
        max_run_seconds=RUN_DEADLINE,
        retries=0,
        **settings,
    )
    analyzer = Analyzer(FakeList([]), InfraRuleSet(load_builtin_rules()), fetch, LayoutSettings(), None)
    run = RunEvent(source="zuul", job="j", build_id="b1", result="FAILURE", log_url=f"{url}/")
    started = time.monotonic()
    report = analyzer.analyze(run)
    return report, time.monotonic() - started


@pytest.mark.parametrize("behaviour", [drip_body, never_close], ids=["drip-body", "never-close"])
def test_a_body_that_never_ends_is_cut_at_the_deadline(behaviour):
    # Given a log server whose every file comes a byte a second, or never stops coming
    with hostile_server(behaviour) as url:
        report, elapsed = analyze(url, connect_timeout=1, read_timeout=30)
    # Then the run still gets a report, each file cut at its deadline and said so
    assert report.verdict is Verdict.NO_RESULTS
    assert any("download stopped at its deadline" in note for note in report.notes), report.notes
    # Each file at most its deadline, and the whole run at most its own
    assert elapsed < RUN_DEADLINE + 5, elapsed


@pytest.mark.parametrize("behaviour", [black_hole, drip_headers], ids=["black-hole", "drip-headers"])
def test_a_server_that_never_answers_is_given_up_at_the_deadline(behaviour):
    # Given a log server that accepts and never answers, or drips its headers forever
    with hostile_server(behaviour) as url:
        report, elapsed = analyze(url, connect_timeout=1, read_timeout=30)
    # Then the logs could not be read, and the report says so, in bounded time (headers dripped
    # forever end as a response cut at its deadline; a black hole as no answer at all)
    assert report.verdict is Verdict.NO_RESULTS and not report.logs_read
    said = ("no answer within its deadline", "stopped at its deadline", "the run's time was up")
    assert any(phrase in note for note in report.notes for phrase in said), report.notes
    assert elapsed < RUN_DEADLINE + 5, elapsed


def test_no_file_is_opened_after_the_runs_deadline():
    with hostile_server(drip_body) as url:
        fetch = FetchSettings(log_hosts=[url], allow_private_addresses=True, max_file_seconds=30, retries=0)
        analyzer = Analyzer(FakeList([]), InfraRuleSet(load_builtin_rules()), fetch, LayoutSettings(), None)
        run = RunEvent(source="zuul", job="j", build_id="b1", result="FAILURE", log_url=f"{url}/")
        started = time.monotonic()
        report = analyzer.analyze(run, deadline=time.monotonic() + 2)
        elapsed = time.monotonic() - started
    assert elapsed < 7, elapsed
    assert any("time was up" in note or "deadline" in note for note in report.notes), report.notes
