"""Held runs rechecked through their CI's API when the incident is over: stand-in Gerrit, zuul-web,
Jenkins, GitHub, GitLab and openQA servers on loopback record every request; the held runs are
kept in the real incidents table (the embedded endpoint). Every event is delivered more than
once, and by concurrent workers: each CI still gets one recheck per run."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import boto3
import pytest
from citriage.adapters.aws.holds import HeldRunStore
from citriage.adapters.aws.incidents import IncidentStore
from citriage.config import FetchSettings
from citriage.feedback.http import CiApi
from citriage.feedback.rechecks import CiRechecker
from citriage.incidents.holds import HoldService
from citriage.models import RunEvent
from citriage.models.incident import HeldRun, HoldPolicy, HoldState, Incident, IncidentHit

from tests.fake_ci import FakeCi, fake_ci
from tests.unit.fakes import FakePublisher, FakeTokens

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
GERRIT_LOGIN = "citriage-bot:gerrit-http-password"
JENKINS_LOGIN = "citriage:jenkins-api-token"
OPENQA_KEY, OPENQA_SECRET = "1234567890ABCDEF", "FEDCBA0987654321"


def _host(ci: FakeCi) -> str:
    return ci.url.split("://", 1)[1]


@pytest.fixture
def cis() -> Iterator[dict[str, FakeCi]]:
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(fake_ci())
            for name in ("gerrit", "zuul", "jenkins", "github", "gitlab", "openqa")
        }


def runs(cis: dict[str, FakeCi]) -> dict[str, RunEvent]:
    gerrit, zuul, jenkins = cis["gerrit"].url, cis["zuul"].url, cis["jenkins"].url
    return {
        "zuul-change": RunEvent(
            source="zuul",
            job="tempest-full",
            build_id="aaa",
            log_url="https://logs.example.org/aaa/",
            web_url=f"{zuul}/t/openstack/build/aaa",
            tenant="openstack",
            pipeline="check",
            project="openstack/nova",
            change="912345",
            patchset="3",
            change_url=f"{gerrit}/c/openstack/nova/+/912345",
        ),
        "zuul-periodic": RunEvent(
            source="zuul",
            job="periodic-tempest",
            build_id="bbb",
            log_url="https://logs.example.org/bbb/",
            web_url=f"{zuul}/t/openstack/build/bbb",
            tenant="openstack",
            pipeline="periodic",
            project="openstack/nova",
            branch="stable/2026.2",
        ),
        "jenkins": RunEvent(
            source="jenkins",
            job="unit",
            build_id="jenkins/42",
            log_url=f"{jenkins}/job/folder/job/unit/42/",
            web_url=f"{jenkins}/job/folder/job/unit/42/",
        ),
        "github": RunEvent(
            source="github",
            job="CI",
            build_id="77-1",
            log_url=f"{cis['github'].url}/api/v3/repos/octo/app/actions/runs/77",
        ),
        "gitlab": RunEvent(
            source="gitlab",
            job="pipeline",
            build_id="99",
            log_url=f"{cis['gitlab'].url}/api/v4/projects/5/pipelines/99",
        ),
        "openqa": RunEvent(
            source="openqa",
            job="sle-15-SP6-Online-x86_64-Build42-textmode",
            build_id="openqa/4321",
            log_url=f"{cis['openqa'].url}/tests/4321",
            web_url=f"{cis['openqa'].url}/tests/4321",
        ),
        "generic": RunEvent(
            source="generic", job="nightly", build_id="n1", log_url="https://logs.example.org/n1/"
        ),
    }


def tokens(cis: dict[str, FakeCi]) -> FakeTokens:
    return FakeTokens(
        {
            "gerrit": {_host(cis["gerrit"]): GERRIT_LOGIN},
            "zuul": {_host(cis["zuul"]): "zuul-jwt"},
            "jenkins": {_host(cis["jenkins"]): JENKINS_LOGIN},
            "github": {_host(cis["github"]): "ghs_token"},
            "gitlab": {_host(cis["gitlab"]): "glpat-token"},
            "openqa": {_host(cis["openqa"]): f"{OPENQA_KEY}:{OPENQA_SECRET}"},
        }
    )


class Setup:
    def __init__(self, stack, cis: dict[str, FakeCi], clock: list[datetime]) -> None:
        table = boto3.resource("dynamodb").Table(stack.env["INCIDENTS_TABLE"])
        self.incidents = IncidentStore(table, boto3.client("dynamodb"))
        self.held = HeldRunStore(table)
        self.publisher = FakePublisher()
        settings = FetchSettings(log_hosts=[c.url for c in cis.values()], allow_private_addresses=True)
        self.service = HoldService(
            self.incidents,
            self.held,
            CiRechecker(CiApi(settings), tokens(cis)),
            self.publisher,
            HoldPolicy(),
            clock=lambda: clock[0],
        )

    def incident(self, held: dict[str, RunEvent], closed: bool = True) -> Incident:
        incident = Incident(
            id="20261205-090000-network-mirror-abc123",
            key="network#mirror.example.org",
            category="network",
            service="mirror.example.org",
            opened_at=T0,
            last_hit_at=T0 + timedelta(minutes=20),
        )
        hits = [
            IncidentHit(run_id=r.run_id, job=r.job, source=r.source, when=T0, rule="dns")
            for r in held.values()
        ]
        self.incidents.open(incident, hits)
        for run in held.values():
            assert self.held.hold(HeldRun(run_id=run.run_id, incident=incident.id, run=run, held_at=T0))
        if closed:
            done = self.incidents.close(incident.id, T0 + timedelta(minutes=50), "clean runs")
            assert done is not None
            return done
        return incident


def stand_ins(cis: dict[str, FakeCi]) -> None:
    cis["gerrit"].action("/a/changes/openstack%2Fnova~912345/revisions/3/review", document={"labels": {}})
    cis["zuul"].action("/api/tenant/openstack/project/openstack%2Fnova/enqueue", document=True)
    cis["jenkins"].json(
        "/job/folder/job/unit/42/api/json?tree=actions%5Bparameters%5Bname%2Cvalue%5D%5D",
        {
            "_class": "hudson.model.FreeStyleBuild",
            "actions": [
                {"_class": "hudson.model.CauseAction"},
                {
                    "_class": "hudson.model.ParametersAction",
                    "parameters": [
                        {
                            "_class": "hudson.model.StringParameterValue",
                            "name": "GERRIT_REFSPEC",
                            "value": "refs/changes/45/912345/3",
                        },
                        {"_class": "hudson.model.BooleanParameterValue", "name": "DEBUG", "value": True},
                    ],
                },
            ],
        },
    )
    cis["jenkins"].action("/job/folder/job/unit/buildWithParameters", status=201)
    cis["github"].action("/api/v3/repos/octo/app/actions/runs/77/rerun-failed-jobs", status=201)
    cis["gitlab"].action(
        "/api/v4/projects/5/pipelines/99/retry", status=201, document={"id": 99, "status": "pending"}
    )
    cis["openqa"].action("/api/v1/jobs/4321/restart", document={"result": [{"4321": 4400}], "test_url": []})


def test_each_held_run_is_rechecked_once_through_its_ci_under_redelivery_and_concurrency(stack, cis):
    clock = [T0 + timedelta(hours=1)]
    setup = Setup(stack, cis, clock)
    stand_ins(cis)
    held = runs(cis)
    incident = setup.incident(held)
    # A redelivered notify event holds nothing twice
    assert not setup.held.hold(
        HeldRun(run_id=held["jenkins"].run_id, incident=incident.id, run=held["jenkins"], held_at=T0)
    )
    # When the IncidentClosed event is delivered three times at once, and once more, and a round runs
    workers = [threading.Thread(target=setup.service.after_close, args=(incident,)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    setup.service.after_close(incident)
    setup.service.round()
    # Then each CI got exactly one recheck per run
    [review] = cis["gerrit"].posts()
    assert review.path == "/a/changes/openstack%2Fnova~912345/revisions/3/review"
    assert review.headers["authorization"] == "Basic " + base64.b64encode(GERRIT_LOGIN.encode()).decode()
    assert json.loads(review.body) == {"message": "recheck"}
    [enqueue] = cis["zuul"].posts()
    assert enqueue.path == "/api/tenant/openstack/project/openstack%2Fnova/enqueue"
    assert enqueue.headers["authorization"] == "Bearer zuul-jwt"
    assert json.loads(enqueue.body) == {
        "pipeline": "periodic",
        "ref": "refs/heads/stable/2026.2",
        "oldrev": "0" * 40,
        "newrev": "0" * 40,
    }
    [rebuild] = cis["jenkins"].posts()
    assert rebuild.path == "/job/folder/job/unit/buildWithParameters"
    assert dict(parse_qsl(rebuild.body.decode())) == {
        "GERRIT_REFSPEC": "refs/changes/45/912345/3",
        "DEBUG": "true",
    }
    assert rebuild.headers["authorization"] == "Basic " + base64.b64encode(JENKINS_LOGIN.encode()).decode()
    [rerun] = cis["github"].posts()
    assert rerun.path == "/api/v3/repos/octo/app/actions/runs/77/rerun-failed-jobs"
    assert rerun.headers["authorization"] == "Bearer ghs_token"
    [retry] = cis["gitlab"].posts()
    assert (
        retry.path == "/api/v4/projects/5/pipelines/99/retry"
        and retry.headers["private-token"] == "glpat-token"
    )
    [restart] = cis["openqa"].posts()
    assert restart.path == "/api/v1/jobs/4321/restart" and restart.headers["x-api-key"] == OPENQA_KEY
    # openQA's own check of its HMAC headers: the path and the microtime, signed with the secret
    expected = hmac.new(
        OPENQA_SECRET.encode(), f"{restart.path}{restart.headers['x-api-microtime']}".encode(), hashlib.sha1
    ).hexdigest()
    assert restart.headers["x-api-hash"] == expected
    # And each run records its recheck; the generic run, which no API can rerun, is released once
    states = {h.run_id: h for h in setup.held.held_of(incident.id)}
    assert {h.run.source for h in states.values() if h.state is HoldState.RECHECKED} == {
        "zuul",
        "jenkins",
        "github",
        "gitlab",
        "openqa",
    }
    assert states["zuul:aaa"].recheck is not None and states["zuul:aaa"].recheck.ci == "gerrit"
    assert states["zuul:bbb"].recheck is not None and states["zuul:bbb"].recheck.ci == "zuul"
    assert states["openqa:openqa/4321"].recheck.status == 200
    assert states["generic:n1"].state is HoldState.RELEASED
    assert [r.run_id for r in setup.publisher.released] == ["generic:n1"]
    assert "cannot be rechecked" in setup.publisher.released[0].because


def test_a_ci_that_fails_is_asked_again_and_one_that_refuses_or_has_no_credential_releases_the_run(
    stack, cis
):
    clock = [T0 + timedelta(hours=1)]
    setup = Setup(stack, cis, clock)
    stand_ins(cis)
    every = runs(cis)
    # GitLab answers 503 once; GitHub refuses (403); the Jenkins run is on a host with no credential
    cis["gitlab"].action("/api/v4/projects/5/pipelines/99/retry", status=201, fail_times=1)
    cis["github"].action("/api/v3/repos/octo/app/actions/runs/77/rerun-failed-jobs", status=403)
    stranger = every["jenkins"].model_copy(
        update={
            "build_id": "other/1",
            "web_url": "http://localhost:1/job/x/1/",
            "log_url": "http://localhost:1/job/x/1/",
        }
    )
    incident = setup.incident({"gitlab": every["gitlab"], "github": every["github"], "stranger": stranger})
    first = setup.service.after_close(incident)
    assert [h.run_id for h in first.retrying] == ["gitlab:99"]
    assert sorted(h.run_id for h in first.released) == ["github:77-1", "jenkins:other/1"]
    reasons = {r.run_id: r.because for r in setup.publisher.released}
    assert "HTTP 403" in reasons["github:77-1"]
    assert "no jenkins credential for localhost:1" in reasons["jenkins:other/1"]
    assert cis["jenkins"].seen == []  # nothing was sent anywhere for it
    # The next pass asks GitLab again, which takes it; nothing else is asked or released again
    second = setup.service.round()
    assert [h.run_id for h in second.rechecked] == ["gitlab:99"] and second.released == []
    assert len(cis["gitlab"].posts()) == 2 and len(cis["github"].posts()) == 1
    assert len(setup.publisher.released) == 2
    [gitlab] = [h for h in setup.held.held_of(incident.id) if h.run_id == "gitlab:99"]
    assert (
        gitlab.state is HoldState.RECHECKED
        and gitlab.attempts == 2
        and "HTTP 503" in (gitlab.last_error or "")
    )


def test_a_run_held_past_the_limit_of_an_incident_still_open_is_released_not_rechecked(stack, cis):
    clock = [T0 + timedelta(hours=23)]
    setup = Setup(stack, cis, clock)
    stand_ins(cis)
    incident = setup.incident({"gitlab": runs(cis)["gitlab"]}, closed=False)
    # Within 24 h of its hold, the round leaves it held
    assert setup.service.round().released == []
    clock[0] = T0 + timedelta(hours=24, minutes=5)
    done = setup.service.round()
    assert [h.run_id for h in done.released] == ["gitlab:99"]
    assert setup.publisher.released[0].because == "its incident was still open after 24 h"
    # And when the incident closes later, the released run is not rechecked
    closed = setup.incidents.close(incident.id, clock[0], "quiet")
    assert closed is not None
    assert setup.service.after_close(closed).rechecked == [] and cis["gitlab"].posts() == []
