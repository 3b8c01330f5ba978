"""The sweep against a local fake of Zuul's builds API over HTTP, with the real dedupe table,
cursor items and analyze queue on the embedded AWS endpoint."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from citriage.adapters.aws.dynamodb import CursorStore, DedupeStore
from citriage.adapters.aws.sqs import RunQueue
from citriage.config import JenkinsPeriodicJob, SweepSettings, ZuulPeriodicJob
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.sweep import JsonApi, Sweeper
from citriage.local.embedded import HandlerChain

from tests.fake_ci import FakeCi, Route, fake_ci

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PAGE = 4


def zuul_build(n: int, log_server: str) -> dict:
    """Build n of the job, newest first: n=0 ended 10 minutes before NOW, each next one an hour earlier."""
    end = NOW - timedelta(minutes=10) - timedelta(hours=n)
    return {
        "_id": 9000 - n,
        "uuid": f"{n:02d}" + "ab" * 15,
        "job_name": "tempest-full-periodic",
        "result": "FAILURE" if n % 3 == 0 else "SUCCESS",
        "held": False,
        "start_time": (end - timedelta(minutes=50)).strftime("%Y-%m-%dT%H:%M:%S"),
        "end_time": end.strftime("%Y-%m-%dT%H:%M:%S"),
        "duration": 3000.0,
        "voting": True,
        "log_url": f"{log_server}/tempest-passing/",
        "nodeset": "ubuntu-noble",
        "error_detail": None,
        "final": True,
        "artifacts": [],
        "provides": [],
        "project": "openstack/nova",
        "branch": "master",
        "pipeline": "periodic",
        "change": None,
        "patchset": None,
        "ref": {
            "project": "openstack/nova",
            "branch": "master",
            "change": None,
            "patchset": None,
            "ref": "refs/heads/master",
            "oldrev": None,
            "newrev": "01b1e22ac73c315f5bca670c76d6a939afa498c8",
            "ref_url": "https://opendev.org/openstack/nova/commit/01b1e22ac73c315f5bca670c76d6a939afa498c8",
        },
        "buildset": {"uuid": f"bs{n:02d}"},
        "event_id": f"ev{n}",
    }


class ZuulBuildsApi:
    """The builds endpoint: newest first, paged by skip and limit, pages counted."""

    def __init__(self, builds: list[dict]) -> None:
        self.builds = builds
        self.queries: list[dict[str, str]] = []
        self.fail_skips: dict[int, int] = {}
        self.cut_skips: dict[int, int] = {}

    def __call__(self, query: dict[str, str]) -> Route:
        self.queries.append(query)
        assert (query["pipeline"], query["job_name"], query["complete"]) == (
            "periodic",
            "tempest-full-periodic",
            "true",
        )
        skip, limit = int(query.get("skip", 0)), int(query.get("limit", 50))
        if self.fail_skips.get(skip, 0) > 0:
            self.fail_skips[skip] -= 1
            return Route(status=503, body=b"")
        body = json.dumps(self.builds[skip : skip + limit]).encode()
        if self.cut_skips.get(skip, 0) > 0:
            self.cut_skips[skip] -= 1
            return Route(body=body, cut_off=True)
        return Route(body=body)


def sweeper(stack, ci: FakeCi) -> tuple[Sweeper, ZuulPeriodicJob]:
    job = ZuulPeriodicJob(
        kind="zuul", api=ci.url, tenant="openstack", pipeline="periodic", job_name="tempest-full-periodic"
    )
    settings = SweepSettings(
        analyze_queue_url=stack.analyze_queue_url,
        dedupe_table=stack.env["DEDUPE_TABLE"],
        sweep_jobs=[job],
        page_size=PAGE,
        api_retries=1,
        api_timeout=5,
        lookback_hours=48,
    )
    table = boto3.resource("dynamodb").Table(settings.dedupe_table)
    return (
        Sweeper(
            settings,
            JsonApi(settings, backoff=0),
            CursorStore(table),
            DedupeStore(table),
            RunQueue(boto3.client("sqs"), stack.analyze_queue_url),
            now=lambda: NOW,
        ),
        job,
    )


def queued_build_ids(queue_url: str) -> Counter[str]:
    sqs = boto3.client("sqs")
    seen: Counter[str] = Counter()
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not messages:
            return seen
        for message in messages:
            seen[json.loads(message["Body"])["build_id"]] += 1


def test_three_pages_enqueued_once_resumed_after_failure_and_webhook_builds_skipped(stack, log_server):
    builds = [zuul_build(n, log_server) for n in range(10)]  # pages of 4, 4 and 2
    api = ZuulBuildsApi(builds)
    with fake_ci() as ci:
        ci.handlers["/api/tenant/openstack/builds"] = api
        sweep, job = sweeper(stack, ci)
        # Given build 5 (on page 2) was already delivered by the Zuul webhook
        delivered = builds[5]
        message = {
            "tenant": "openstack",
            "pipeline": "periodic",
            "project": "openstack/nova",
            "buildset": {"uuid": "bs05", "result": "FAILURE", "builds": [delivered]},
        }
        body = json.dumps(message).encode()
        status, response = HandlerChain(stack).post(
            "zuul", body, {"X-Citriage-Signature": sign_hmac_sha256(body, stack.webhook_keys["zuul"])}
        )
        assert (status, response["accepted"]) == (202, [f"zuul:{delivered['uuid']}"])
        # And the API fails on page 2 more times than the sweep retries
        api.fail_skips[PAGE] = 2

        # When the first sweep runs
        first = sweep.sweep()[0]
        # Then it enqueued page 1, stopped at page 2 and said why, without looping on it
        assert first.error is not None and "503" in first.error
        assert first.enqueued == [f"zuul:{b['uuid']}" for b in builds[:PAGE]]
        assert [int(q["skip"]) for q in api.queries] == [0, PAGE, PAGE]
        assert (
            CursorStore(boto3.resource("dynamodb").Table(stack.env["DEDUPE_TABLE"])).get(job.key).resume_skip
            == PAGE
        )

        # When the next sweep runs, the API being well again
        api.queries.clear()
        second = sweep.sweep()[0]
        # Then it resumed at page 2 (after checking the list's top had not moved), not at page 1
        assert second.error is None
        assert [(int(q["skip"]), int(q["limit"])) for q in api.queries] == [
            (0, 1),
            (PAGE, PAGE),
            (2 * PAGE, PAGE),
        ]
        # And enqueued the rest, skipping the build the webhook had delivered
        assert second.enqueued == [f"zuul:{b['uuid']}" for b in builds[PAGE:] if b is not delivered]
        assert second.duplicates == [f"zuul:{delivered['uuid']}"]

        # When a third sweep finds nothing new
        third = sweep.sweep()[0]
        # Then nothing is enqueued again
        assert third.enqueued == [] and third.error is None

    # And every build is on the analyze queue exactly once
    queued = queued_build_ids(stack.analyze_queue_url)
    assert queued == Counter({b["uuid"]: 1 for b in builds})


def test_new_builds_on_top_make_a_resume_start_over_without_double_enqueues(stack, log_server):
    builds = [zuul_build(n, log_server) for n in range(1, 10)]
    api = ZuulBuildsApi(builds)
    with fake_ci() as ci:
        ci.handlers["/api/tenant/openstack/builds"] = api
        sweep, _ = sweeper(stack, ci)
        # Given a sweep that failed on page 2
        api.fail_skips[PAGE] = 2
        assert sweep.sweep()[0].error
        # When a new build finishes before the next sweep (the pages shift by one)
        api.builds = [zuul_build(0, log_server), *builds]
        api.queries.clear()
        second = sweep.sweep()[0]
        # Then the sweep walks from the top again and enqueues only what it had not
        assert int(api.queries[1]["skip"]) == 0
        assert second.error is None
        assert sorted(second.enqueued) == sorted(f"zuul:{b['uuid']}" for b in [api.builds[0], *builds[PAGE:]])
    assert set(queued_build_ids(stack.analyze_queue_url).values()) == {1}


def test_a_body_cut_off_stops_only_that_job_and_the_next_sweep_resumes_the_walk(stack, log_server):
    builds = [zuul_build(n, log_server) for n in range(10)]
    api = ZuulBuildsApi(builds)
    with fake_ci() as ci:
        ci.handlers["/api/tenant/openstack/builds"] = api
        sweep, zuul = sweeper(stack, ci)
        at = int((NOW - timedelta(hours=1)).timestamp() * 1000)
        nightly = JenkinsPeriodicJob(kind="jenkins", job_url=f"{ci.url}/job/nightly/")
        ci.handlers["/job/nightly/api/json"] = lambda query: Route(
            body=json.dumps(
                {
                    "name": "nightly",
                    "builds": [
                        {
                            "number": 7,
                            "url": f"{nightly.job_url}7/",
                            "result": "FAILURE",
                            "building": False,
                            "timestamp": at,
                        }
                    ],
                }
            ).encode()
        )
        # Given Zuul's page 2 breaks off mid-body (chunked) on every attempt of the first sweep
        api.cut_skips[PAGE] = 2

        # When a sweep of the Zuul job, then a Jenkins job, runs
        zuul_outcome, jenkins_outcome = sweep.sweep([zuul, nightly])
        # Then the Zuul job reports the broken body after its retries, having enqueued page 1
        assert zuul_outcome.error is not None and "ChunkedEncodingError" in zuul_outcome.error
        assert zuul_outcome.enqueued == [f"zuul:{b['uuid']}" for b in builds[:PAGE]]
        assert [int(q["skip"]) for q in api.queries] == [0, PAGE, PAGE]
        # And the Jenkins job after it was still swept
        assert jenkins_outcome.error is None
        nightly_7 = f"{ci.url.removeprefix('http://')}/job/nightly/7"
        assert jenkins_outcome.enqueued == [f"jenkins:{nightly_7}"]

        # When the next sweep runs, Zuul answering whole bodies again
        api.queries.clear()
        second = sweep.sweep([zuul])[0]
        # Then the Zuul walk resumed at page 2 from the saved cursor and enqueued the rest
        assert second.error is None
        assert [(int(q["skip"]), int(q["limit"])) for q in api.queries] == [
            (0, 1),
            (PAGE, PAGE),
            (2 * PAGE, PAGE),
        ]
        assert second.enqueued == [f"zuul:{b['uuid']}" for b in builds[PAGE:]]

    # And every build is on the analyze queue exactly once
    queued = queued_build_ids(stack.analyze_queue_url)
    assert queued == Counter({**{b["uuid"]: 1 for b in builds}, nightly_7: 1})
