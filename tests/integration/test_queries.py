"""The read side over the real adapters on the embedded endpoint (a moto server over HTTP): what
the analyze step writes is what the API answers, page by page, and no read ever scans."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from citriage.adapters.aws.dynamodb import RunStore
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.adapters.aws.run_index import IndexedHistoryStore, QueueDepths, RunQueries
from citriage.adapters.aws.sqs import RunQueue
from citriage.adapters.aws.tokens import TokenStore
from citriage.errors import BadRequest, NotFound
from citriage.models import (
    Classification,
    Failure,
    KnownIssue,
    KnownIssueRef,
    RunEvent,
    RunReport,
    TestCounts,
    Verdict,
)
from citriage.models.query import TokenScope
from citriage.query.auth import authorize
from citriage.query.service import QueryService, RunFilters, decode_cursor

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
BUG = KnownIssue(id="BUG-1", title="libvirt dies", bug_url="https://bugs.example/1", pattern="libvirt died")


class NoScan:
    """A table that fails the test on a Scan, and counts every call it passes on."""

    def __init__(self, table):
        self._table = table
        self.calls: list[str] = []

    def __getattr__(self, name):
        if name == "scan":
            raise AssertionError("the read side scanned a table")
        self.calls.append(name)
        return getattr(self._table, name)


def report(
    n: int, job: str, verdict: Verdict, *, project="openstack/nova", change=None, failures=(), source="zuul"
):
    failed = [
        Failure(
            test_id=test_id,
            classification=cls,
            known_issue=KnownIssueRef(id=BUG.id, bug_url=BUG.bug_url, title=BUG.title)
            if cls is Classification.KNOWN
            else None,
        )
        for test_id, cls in failures
    ]
    ended = NOW - timedelta(hours=n)
    return RunReport(
        run=RunEvent(
            source=source,
            job=job,
            build_id=f"b{n}",
            log_url=f"https://logs.example/{n}/",
            project=project,
            change=change,
            end_time=ended,
        ),
        verdict=verdict,
        # An infrastructure failure here read no test results.
        tests=TestCounts()
        if verdict is Verdict.INFRA
        else TestCounts(total=10, passed=10 - len(failed), failed=len(failed)),
        failures=failed,
        analyzed_at=ended + timedelta(minutes=1),
    )


@pytest.fixture
def world(stack):
    dynamodb = boto3.resource("dynamodb")
    runs_table = dynamodb.Table(stack.env["RUNS_TABLE"])
    issues_table = dynamodb.Table(stack.env["KNOWN_ISSUES_TABLE"])
    KnownIssueStore(issues_table).put(BUG)
    history = IndexedHistoryStore(runs_table)
    store = RunStore(runs_table)
    reports = [
        report(
            1, "tempest-full", Verdict.FAILED_NEW, change="901", failures=[("test_a", Classification.NEW)]
        ),
        report(2, "tempest-full", Verdict.PASSED, change="900"),
        report(3, "tempest-full", Verdict.FAILED_KNOWN, failures=[("test_a", Classification.KNOWN)]),
        report(4, "tox-py311", Verdict.PASSED, project="openstack/neutron"),
        report(5, "tempest-full", Verdict.INFRA),
        report(6, "tempest-full", Verdict.PASSED, source="jenkins"),
    ]
    for r in reports:
        store.put_report(r)
        history.record(r)
    guarded_runs, guarded_issues = NoScan(runs_table), NoScan(issues_table)
    sqs = boto3.client("sqs")
    service = QueryService(
        runs=RunQueries(guarded_runs),
        reports=RunStore(guarded_runs),
        known_issues=KnownIssueStore(guarded_issues),
        queues=QueueDepths(sqs, {"analyze": stack.analyze_queue_url}),
        analyze_queue=RunQueue(sqs, stack.analyze_queue_url),
    )
    return service, reports, guarded_runs, stack


def ids(page):
    return [item.run_id for item in page.items]


def test_run_search_filters_and_pages_newest_first_without_a_scan(world):
    service, _, guarded, _ = world
    # Every run of the last week, newest first
    assert ids(service.search_runs(RunFilters())) == [
        f"{s}:b{n}"
        for s, n in [("zuul", 1), ("zuul", 2), ("zuul", 3), ("zuul", 4), ("zuul", 5), ("jenkins", 6)]
    ]
    # A job's runs across its sources, and each filter on its own
    assert ids(service.search_runs(RunFilters(job="tempest-full", source="zuul"))) == [
        "zuul:b1",
        "zuul:b2",
        "zuul:b3",
        "zuul:b5",
    ]
    assert len(service.search_runs(RunFilters(job="tempest-full")).items) == 5
    assert ids(service.search_runs(RunFilters(verdict=Verdict.PASSED))) == [
        "zuul:b2",
        "zuul:b4",
        "jenkins:b6",
    ]
    assert ids(service.search_runs(RunFilters(project="openstack/neutron"))) == ["zuul:b4"]
    assert ids(service.search_runs(RunFilters(change="901"))) == ["zuul:b1"]
    assert ids(service.search_runs(RunFilters(since=NOW - timedelta(hours=2, minutes=30)))) == [
        "zuul:b1",
        "zuul:b2",
    ]
    # Pages of two walk every run once, in order, with and without a job
    for filters in ({}, {"job": "tempest-full"}):
        walked, cursor = [], None
        while True:
            page = service.search_runs(RunFilters(limit=2, cursor=cursor, **filters))
            walked += ids(page)
            cursor = page.cursor
            if cursor is None:
                break
        assert walked == ids(service.search_runs(RunFilters(**filters)))
    # The summary says what a list needs
    first = service.search_runs(RunFilters(limit=1)).items[0]
    assert (first.job, first.verdict, first.new, first.change, first.log_url) == (
        "tempest-full",
        Verdict.FAILED_NEW,
        1,
        "901",
        "https://logs.example/1/",
    )
    assert "query" in guarded.calls


def test_jobs_history_tests_known_issues_and_status(world):
    service, _, _, _ = world
    jobs = {(j.job, j.source): j for j in service.jobs().items}
    assert set(jobs) == {("tempest-full", "zuul"), ("tempest-full", "jenkins"), ("tox-py311", "zuul")}
    tempest = jobs[("tempest-full", "zuul")]
    assert (tempest.last_run.run_id, tempest.recent_runs, tempest.passed, tempest.failed, tempest.infra) == (
        "zuul:b1",
        4,
        1,
        2,
        1,
    )
    assert tempest.pass_rate == round(1 / 3, 3)
    assert ids(service.job_history("tempest-full", "zuul")) == ["zuul:b1", "zuul:b2", "zuul:b3", "zuul:b5"]
    with pytest.raises(NotFound):
        service.job_history("no-such-job")
    # test_a failed in b1 (new) and b3 (known); it passed in b2; b5 read no results
    history = service.test_history("test_a")
    assert [(f.run_id, f.classification) for f in history.failures] == [
        ("zuul:b1", Classification.NEW),
        ("zuul:b3", Classification.KNOWN),
    ]
    assert [(j.job, j.runs, j.failed) for j in history.jobs] == [("tempest-full", 3, 2)]
    # The known issue: listed through its index, with the run it explained
    listed = service.known_issues()
    assert [s.issue.id for s in listed] == ["BUG-1"]
    info = service.known_issue("BUG-1")
    assert [(h.run_id, h.test_id, h.tests) for h in info.recent_hits] == [("zuul:b3", "test_a", 1)]
    with pytest.raises(NotFound):
        service.known_issue("BUG-404")
    # The run's report, and one that does not exist
    assert service.run("zuul:b3").verdict is Verdict.FAILED_KNOWN
    with pytest.raises(NotFound):
        service.run("zuul:nope")
    # Status: the queue, each source's last run, the last hour (none ended in it)
    status = service.status()
    assert [q.name for q in status.queues] == ["analyze"]
    assert {s: r.run_id for s, r in status.last_run_by_source.items()} == {
        "zuul": "zuul:b1",
        "jenkins": "jenkins:b6",
    }
    later = service.status(now=NOW - timedelta(minutes=30))
    assert later.analyses_last_hour == 1 and later.verdicts_last_hour == {"failed_new": 1}


def test_an_older_run_analysed_late_does_not_replace_a_jobs_last_run(world, stack):
    service, _, _, _ = world
    table = boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"])
    IndexedHistoryStore(table).record(report(30, "tempest-full", Verdict.PASSED))
    jobs = {(j.job, j.source): j for j in service.jobs().items}
    assert jobs[("tempest-full", "zuul")].last_run.run_id == "zuul:b1"


def test_reanalyze_queues_the_run_again_with_a_reanalysis_id(world):
    service, _, _, stack = world
    run = service.reanalyze("zuul:b2")
    body = boto3.client("sqs").receive_message(QueueUrl=stack.analyze_queue_url)["Messages"][0]["Body"]
    queued = RunEvent.model_validate_json(body)
    assert (queued.run_id, queued.reanalysis) == ("zuul:b2", run.reanalysis)
    assert run.reanalysis


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "bm90IGEga2V5", "A" * 700, "MjAyNi0wMS0wMVQwMDowMDowMC4wMDAwMDBaIwA"],
)
def test_a_cursor_the_api_did_not_give_is_a_bad_request(cursor):
    with pytest.raises(BadRequest, match="cursor"):
        decode_cursor(cursor)


def test_tokens_are_stored_hashed_and_checked_by_the_authorizer(stack):
    table = boto3.resource("dynamodb").Table(stack.env["TOKENS_TABLE"])
    tokens = TokenStore(table)
    token, stored = tokens.create("ci-bot", TokenScope.READ)
    # The table never holds the token itself
    item = table.get_item(Key={"token_id": stored.token_id})["Item"]
    assert token not in str(item) and token.split("_")[-1] not in str(item)
    assert authorize(f"Bearer {token}", tokens) == {
        "isAuthorized": True,
        "context": {"scope": "read", "token_id": stored.token_id},
    }
    for header in (
        None,
        "",
        "Bearer",
        f"Basic {token}",
        f"Bearer {token}x",
        f"Bearer {token[:-1]}A",
        "Bearer citr_aaaaaaaaaa_" + "A" * 43,
    ):
        assert authorize(header, tokens) == {"isAuthorized": False}
    assert [t.name for t in tokens.list()] == ["ci-bot"]
    assert tokens.revoke(stored.token_id) is True
    assert tokens.revoke(stored.token_id) is False
    assert authorize(f"Bearer {token}", tokens) == {"isAuthorized": False}
