"""The sweeper's rules, with in-memory fakes: Jenkins cursors, retries then a report, bounded walks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from citriage.config import JenkinsPeriodicJob, SweepSettings, ZuulPeriodicJob
from citriage.intake.sweep import JsonApi, SweepApiError, Sweeper
from citriage.models import RunEvent, SweepCursor

from tests.unit.fakes import FakeCursors, FakeDedupe, FakeQueue

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
JOB_URL = "https://jenkins.example.org/job/nightly/"


class FakeApi:
    """Answers by URL; records calls."""

    def __init__(self, answers) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict]] = []

    def get(self, url, params, headers=None):
        self.calls.append((url, dict(params)))
        answer = self.answers(url, params) if callable(self.answers) else self.answers
        if isinstance(answer, Exception):
            raise answer
        return answer


def settings(**kwargs) -> SweepSettings:
    return SweepSettings(analyze_queue_url="q", dedupe_table="t", lookback_hours=24, **kwargs)


def jenkins_build(number: int, result: str | None, hours_ago: float, building: bool = False) -> dict:
    return {
        "_class": "hudson.model.FreeStyleBuild",
        "number": number,
        "url": f"{JOB_URL}{number}/",
        "result": result,
        "building": building,
        "timestamp": int((NOW - timedelta(hours=hours_ago)).timestamp() * 1000),
    }


def make(api, queue=None, dedupe=None, cursors=None, **kwargs) -> Sweeper:
    return Sweeper(
        settings(**kwargs),
        api,
        cursors or FakeCursors(),
        dedupe or FakeDedupe(),
        queue or FakeQueue(),
        now=lambda: NOW,
    )


def test_jenkins_first_sweep_takes_the_lookback_and_stops_below_a_running_build():
    job = JenkinsPeriodicJob(kind="jenkins", job_url=JOB_URL)
    builds = [
        jenkins_build(13, None, 0.5, building=True),
        jenkins_build(12, "FAILURE", 2),
        jenkins_build(11, "SUCCESS", 5),
        jenkins_build(10, "FAILURE", 30),  # older than the lookback
    ]
    queue, cursors, dedupe = FakeQueue(), FakeCursors(), FakeDedupe()
    api = FakeApi({"name": "nightly", "builds": builds})
    # When the job is swept for the first time
    outcome = make(api, queue, dedupe, cursors).sweep([job])[0]
    # Then the finished builds inside the lookback are queued, oldest first, keyed like the webhook
    assert outcome.enqueued == [
        "jenkins:jenkins.example.org/job/nightly/11",
        "jenkins:jenkins.example.org/job/nightly/12",
    ]
    assert queue.sent[0].log_url == f"{JOB_URL}11/" and queue.sent[0].job == "nightly"
    # And the cursor stays below the running build, so it is picked up when it finishes
    assert cursors.items[job.key] == SweepCursor(last_number=12)
    assert api.calls[0][0] == f"{JOB_URL}api/json" and "{0,50}" in api.calls[0][1]["tree"]

    # When build 13 finishes and 14 runs
    builds[0] = jenkins_build(13, "SUCCESS", 0.2)
    api.answers = {"name": "nightly", "builds": [jenkins_build(14, None, 0.1, building=True), *builds]}
    again = make(api, queue, dedupe, cursors).sweep([job])[0]
    # Then only 13 is new
    assert again.enqueued == ["jenkins:jenkins.example.org/job/nightly/13"]
    assert cursors.items[job.key] == SweepCursor(last_number=13)


def test_a_failing_api_is_reported_per_job_and_the_other_jobs_still_run():
    broken = ZuulPeriodicJob(
        kind="zuul", api="https://zuul.example.org", tenant="t", pipeline="periodic", job_name="a"
    )
    fine = JenkinsPeriodicJob(kind="jenkins", job_url=JOB_URL)

    def answers(url, params):
        if "zuul" in url:
            return SweepApiError(f"{url}: gave up after 3 attempts (HTTP 503)")
        return {"name": "nightly", "builds": [jenkins_build(5, "FAILURE", 1)]}

    outcomes = make(FakeApi(answers)).sweep([broken, fine])
    assert outcomes[0].error and "503" in outcomes[0].error
    assert outcomes[1].error is None and len(outcomes[1].enqueued) == 1


def test_zuul_walk_is_bounded_by_max_pages_and_says_so():
    job = ZuulPeriodicJob(
        kind="zuul", api="https://zuul.example.org", tenant="t", pipeline="periodic", job_name="a"
    )
    endless = [
        {
            "uuid": "u",
            "job_name": "a",
            "result": "SUCCESS",
            "log_url": "https://logs/",
            "end_time": NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    ] * 2
    api = FakeApi(endless)
    outcome = make(api, page_size=2, max_pages=3).sweep([job])[0]
    assert len(api.calls) == 3
    assert any("stopped after 3 pages" in note for note in outcome.notes)


def test_zuul_builds_without_logs_are_not_enqueued():
    job = ZuulPeriodicJob(
        kind="zuul", api="https://zuul.example.org", tenant="t", pipeline="periodic", job_name="a"
    )
    end = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    builds = [
        {"uuid": "b1", "job_name": "a", "result": "NODE_FAILURE", "log_url": None, "end_time": end},
        {"uuid": "b2", "job_name": "a", "result": "FAILURE", "log_url": "https://logs/b2/", "end_time": end},
        {"not": "a build"},
    ]
    queue = FakeQueue()
    outcome = make(FakeApi(builds), queue).sweep([job])[0]
    assert outcome.enqueued == ["zuul:b2"]
    assert queue.sent[0].web_url == "https://zuul.example.org/t/t/build/b2"
    assert outcome.notes == ["skipped a malformed build entry"]


class FlakySession:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def get(self, *args, **kwargs):
        self.calls += 1
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        requests.Timeout("slow"),
        requests.ConnectionError("down"),
        requests.exceptions.ChunkedEncodingError("body cut off"),
    ],
)
def test_json_api_retries_then_gives_up_with_the_reason(error):
    session, slept = FlakySession(error), []
    api = JsonApi(settings(api_retries=2), session=session, backoff=1.0, sleep=slept.append)  # type: ignore[arg-type]
    with pytest.raises(SweepApiError, match=f"gave up after 3 attempts \\({type(error).__name__}\\)"):
        api.get("https://zuul.example.org/api/tenant/t/builds", {})
    assert session.calls == 3 and slept == [1.0, 2.0]


def test_json_api_turns_other_request_errors_into_a_sweep_error_at_once():
    # Given a request that fails in a way a retry will not mend (a redirect loop)
    session, slept = FlakySession(requests.TooManyRedirects("Exceeded 30 redirects.")), []
    api = JsonApi(settings(api_retries=2), session=session, backoff=1.0, sleep=slept.append)  # type: ignore[arg-type]
    # When it is asked for a page
    with pytest.raises(
        SweepApiError, match=r"^https://zuul.example.org/api/tenant/t/builds: TooManyRedirects$"
    ):
        api.get("https://zuul.example.org/api/tenant/t/builds", {})
    # Then it says why, without retrying
    assert session.calls == 1 and slept == []


class QueueFailingOnce:
    """Fails the first send of one build (as SQS can), then takes everything."""

    def __init__(self, build_id: str) -> None:
        self.build_id = build_id
        self.sent: list[RunEvent] = []

    def send(self, run: RunEvent) -> None:
        if run.build_id == self.build_id:
            self.build_id = ""
            raise RuntimeError("SQS SendMessage: ServiceUnavailable")
        self.sent.append(run)


def test_an_unexpected_error_stops_only_that_job_saves_the_zuul_cursor_and_is_logged(caplog):
    zuul = ZuulPeriodicJob(
        kind="zuul", api="https://zuul.example.org", tenant="t", pipeline="periodic", job_name="a"
    )
    jenkins = JenkinsPeriodicJob(kind="jenkins", job_url=JOB_URL)
    end = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    builds = [
        {
            "uuid": f"b{n}",
            "job_name": "a",
            "result": "FAILURE",
            "log_url": f"https://logs/{n}/",
            "end_time": end,
        }
        for n in range(6)
    ]

    def answers(url, params):
        if "zuul" in url:
            return builds[int(params["skip"]) : int(params["skip"]) + int(params["limit"])]
        return {"name": "nightly", "builds": [jenkins_build(5, "FAILURE", 1)]}

    api, cursors, dedupe = FakeApi(answers), FakeCursors(), FakeDedupe()
    # Given the queue fails to take a build on the Zuul job's second page
    queue = QueueFailingOnce("b2")
    sweeper = make(api, queue, dedupe, cursors, page_size=2)
    # When the Zuul job, then the Jenkins job, is swept
    with caplog.at_level(logging.ERROR, logger="citriage.intake.sweep"):
        zuul_outcome, jenkins_outcome = sweeper.sweep([zuul, jenkins])
    # Then the Zuul job reports the error, logged with its traceback, and keeps the page it reached
    assert zuul_outcome.error == "unexpected RuntimeError: SQS SendMessage: ServiceUnavailable"
    assert zuul_outcome.enqueued == ["zuul:b0", "zuul:b1"]
    assert cursors.items[zuul.key] == SweepCursor(
        resume_skip=2, walk_top="b0", walk_newest=NOW - timedelta(hours=1)
    )
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RuntimeError]
    assert "run#zuul:b2" not in dedupe.keys and "run#zuul:b1" in dedupe.keys
    # And the Jenkins job after it was still swept
    assert jenkins_outcome.error is None
    assert jenkins_outcome.enqueued == ["jenkins:jenkins.example.org/job/nightly/5"]

    # When the next sweep runs, the queue well again
    api.calls.clear()
    again = sweeper.sweep([zuul])[0]
    # Then it resumes at the saved page and enqueues the rest
    assert [(int(p["skip"]), int(p["limit"])) for _, p in api.calls] == [(0, 1), (2, 2), (4, 2), (6, 2)]
    assert again.error is None and again.enqueued == ["zuul:b2", "zuul:b3", "zuul:b4", "zuul:b5"]


def test_a_cursor_that_cannot_be_read_is_that_jobs_error_and_the_next_job_is_swept():
    class BrokenCursors(FakeCursors):
        def get(self, job_key: str) -> SweepCursor:
            if "zuul" in job_key:
                raise OSError("DynamoDB GetItem: throttled")
            return super().get(job_key)

    zuul = ZuulPeriodicJob(
        kind="zuul", api="https://zuul.example.org", tenant="t", pipeline="periodic", job_name="a"
    )
    jenkins = JenkinsPeriodicJob(kind="jenkins", job_url=JOB_URL)
    api = FakeApi({"name": "nightly", "builds": [jenkins_build(5, "FAILURE", 1)]})
    # Given the Zuul job's cursor cannot be read
    # When the Zuul job, then the Jenkins job, is swept
    outcomes = make(api, cursors=BrokenCursors()).sweep([zuul, jenkins])
    # Then the Zuul job reports it and the Jenkins job is swept
    assert (
        outcomes[0].job == zuul.key and outcomes[0].error == "unexpected OSError: DynamoDB GetItem: throttled"
    )
    assert outcomes[1].error is None and len(outcomes[1].enqueued) == 1


def test_a_slow_api_stops_the_walk_before_the_function_times_out_and_it_resumes_there():
    job = ZuulPeriodicJob(
        kind="zuul", api="https://zuul.example.org", tenant="t", pipeline="periodic", job_name="a"
    )
    end = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    builds = [
        {
            "uuid": f"b{n}",
            "job_name": "a",
            "result": "SUCCESS",
            "log_url": f"https://logs/{n}/",
            "end_time": end,
        }
        for n in range(6)
    ]
    api = FakeApi(
        lambda url, params: builds[int(params["skip"]) : int(params["skip"]) + int(params["limit"])]
    )
    cursors = FakeCursors()
    # Given each page takes 40 s of a 100 s budget (a slow API), and a request may need 3 x 10 s
    clock = iter([100.0, 60.0, 20.0])
    sweeper = make(api, cursors=cursors, page_size=2, api_retries=2, api_timeout=10)
    # When the job is swept
    outcome = sweeper.sweep([job], time_left=lambda: next(clock))[0]
    # Then it stops before a request it has no time for, says so, and saves where it got to
    assert outcome.error is not None and "out of time" in outcome.error
    assert outcome.enqueued == ["zuul:b0", "zuul:b1", "zuul:b2", "zuul:b3"]
    assert cursors.items[job.key].resume_skip == 4
    # When the next sweep has time
    again = sweeper.sweep([job])[0]
    # Then it resumes at the saved page and finishes
    assert again.error is None and again.enqueued == ["zuul:b4", "zuul:b5"] and again.duplicates == []
