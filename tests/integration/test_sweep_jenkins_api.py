"""The Jenkins sweep against a local server playing the job API, sharing dedupe with the webhook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
from citriage.adapters.aws.dynamodb import CursorStore, DedupeStore
from citriage.adapters.aws.sqs import RunQueue
from citriage.config import JenkinsPeriodicJob, SweepSettings
from citriage.intake.sweep import JsonApi, Sweeper
from citriage.local.embedded import HandlerChain
from citriage.models import SweepCursor

from tests.conftest import EVENTS
from tests.fake_ci import Route, fake_ci
from tests.integration.test_sweep_zuul_api import queued_build_ids
from tests.unit.fakes import FakeTokens

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_jenkins_sweep_skips_the_build_the_webhook_delivered(stack):
    with fake_ci() as jenkins:
        job_url = f"{jenkins.url}/job/nova-unit/"
        seen_trees: list[str] = []

        def job_api(query: dict[str, str]) -> Route:
            seen_trees.append(query["tree"])
            at = int((NOW - timedelta(hours=1)).timestamp() * 1000)
            builds = [
                {"number": 43, "url": f"{job_url}43/", "result": None, "building": True, "timestamp": at},
                {
                    "number": 42,
                    "url": f"{job_url}42/",
                    "result": "UNSTABLE",
                    "building": False,
                    "timestamp": at,
                },
                {
                    "number": 41,
                    "url": f"{job_url}41/",
                    "result": "SUCCESS",
                    "building": False,
                    "timestamp": at,
                },
            ]
            return Route(body=json.dumps({"name": "nova-unit", "builds": builds}).encode())

        jenkins.handlers["/job/nova-unit/api/json"] = job_api
        # Given build 42 was delivered by the Notification plugin
        body = (
            (EVENTS / "jenkins" / "notification-completed.json")
            .read_text()
            .replace("${CI_SERVER}", jenkins.url)
        )
        status, response = HandlerChain(stack).post(
            "jenkins", body.encode(), {}, {"token": stack.webhook_keys["jenkins"]}
        )
        assert status == 202
        # When the job is swept with an API token configured for the Jenkins host
        job = JenkinsPeriodicJob(kind="jenkins", job_url=job_url)
        settings = SweepSettings(
            analyze_queue_url=stack.analyze_queue_url,
            dedupe_table=stack.env["DEDUPE_TABLE"],
            sweep_jobs=[job],
        )
        table = boto3.resource("dynamodb").Table(settings.dedupe_table)
        sweeper = Sweeper(
            settings,
            JsonApi(settings, backoff=0),
            CursorStore(table),
            DedupeStore(table),
            RunQueue(boto3.client("sqs"), stack.analyze_queue_url),
            tokens=FakeTokens({"jenkins": {urlsplit(jenkins.url).netloc: "citriage:api-token"}}),
            now=lambda: NOW,
        )
        outcome = sweeper.sweep()[0]
    # Then 41 is queued, 42 is the webhook's (a duplicate), 43 waits until it finishes
    host = jenkins.url.removeprefix("http://")
    assert outcome.enqueued == [f"jenkins:{host}/job/nova-unit/41"]
    assert outcome.duplicates == response["accepted"] == [f"jenkins:{host}/job/nova-unit/42"]
    assert CursorStore(table).get(job.key) == SweepCursor(last_number=42)
    assert seen_trees == ["name,builds[number,url,result,building,timestamp]{0,50}"]
    assert all(s.headers["authorization"] == "Basic Y2l0cmlhZ2U6YXBpLXRva2Vu" for s in jenkins.seen)
    assert sorted(queued_build_ids(stack.analyze_queue_url)) == [
        f"{host}/job/nova-unit/41",
        f"{host}/job/nova-unit/42",
    ]


def test_a_redirect_loop_is_that_jobs_error_and_the_next_job_is_swept(stack):
    with fake_ci() as jenkins:
        # Given a job whose API redirects to itself for ever, and a job that answers
        looping = JenkinsPeriodicJob(kind="jenkins", job_url=f"{jenkins.url}/job/looping/")
        jenkins.handlers["/job/looping/api/json"] = lambda query: Route(
            status=302, headers={"Location": "/job/looping/api/json"}
        )
        fine = JenkinsPeriodicJob(kind="jenkins", job_url=f"{jenkins.url}/job/fine/")
        at = int((NOW - timedelta(hours=1)).timestamp() * 1000)
        build = {
            "number": 3,
            "url": f"{fine.job_url}3/",
            "result": "FAILURE",
            "building": False,
            "timestamp": at,
        }
        jenkins.handlers["/job/fine/api/json"] = lambda query: Route(
            body=json.dumps({"name": "fine", "builds": [build]}).encode()
        )
        settings = SweepSettings(
            analyze_queue_url=stack.analyze_queue_url,
            dedupe_table=stack.env["DEDUPE_TABLE"],
            sweep_jobs=[looping, fine],
        )
        table = boto3.resource("dynamodb").Table(settings.dedupe_table)
        sweeper = Sweeper(
            settings,
            JsonApi(settings, backoff=0),
            CursorStore(table),
            DedupeStore(table),
            RunQueue(boto3.client("sqs"), stack.analyze_queue_url),
            now=lambda: NOW,
        )
        # When both are swept
        first, second = sweeper.sweep()
    # Then the loop is the first job's error, named
    assert first.error == f"{looping.job_url}api/json: TooManyRedirects"
    assert first.enqueued == [] and CursorStore(table).get(looping.key) == SweepCursor()
    # And the second job was swept
    host = jenkins.url.removeprefix("http://")
    assert second.error is None and second.enqueued == [f"jenkins:{host}/job/fine/3"]


def test_jenkins_sweep_sends_no_credential_to_a_host_the_secret_does_not_name(stack):
    with fake_ci() as jenkins:
        job_url = f"{jenkins.url}/job/nova-unit/"
        jenkins.handlers["/job/nova-unit/api/json"] = lambda query: Route(
            body=json.dumps({"name": "nova-unit", "builds": []}).encode()
        )
        # Given a Jenkins credential for another host, and a plain-string one (names no host)
        settings = SweepSettings(
            analyze_queue_url=stack.analyze_queue_url,
            dedupe_table=stack.env["DEDUPE_TABLE"],
            sweep_jobs=[JenkinsPeriodicJob(kind="jenkins", job_url=job_url)],
        )
        table = boto3.resource("dynamodb").Table(settings.dedupe_table)
        for entry in ({"jenkins.example.org": "citriage:api-token"}, "citriage:api-token"):
            sweeper = Sweeper(
                settings,
                JsonApi(settings, backoff=0),
                CursorStore(table),
                DedupeStore(table),
                RunQueue(boto3.client("sqs"), stack.analyze_queue_url),
                tokens=FakeTokens({"jenkins": entry}),
                now=lambda: NOW,
            )
            # When the job is swept
            assert sweeper.sweep()[0].error is None
    # Then the job's API was read without any Authorization header
    assert len(jenkins.seen) == 2 and all("authorization" not in s.headers for s in jenkins.seen)
