"""Gerrit stream events: a CI account's comment-added becomes one run per failed job with its
log URL; a person's comment, other events and build-page links make none."""

from __future__ import annotations

import json

import pytest
from citriage.errors import Unauthorized
from citriage.intake.sources.gerrit import GerritSource, job_results
from citriage.intake.webhook import WebhookService

from tests.conftest import EVENTS
from tests.unit.fakes import FakeDedupe, FakeKeys, FakeQueue

LOGS = "https://logs.example.org"


def event(name: str) -> dict:
    return json.loads((EVENTS / "gerrit" / f"{name}.json").read_text().replace("${LOG_SERVER}", LOGS))


def test_zuuls_failure_comment_becomes_one_run_per_failed_job():
    runs = GerritSource().normalize(event("comment-added-zuul"))
    # The comment lists FAILURE, SUCCESS, POST_FAILURE (non-voting) and SKIPPED (a build page)
    assert [(r.job, r.result, r.voting) for r in runs] == [
        ("tempest-full-py3", "FAILURE", True),
        ("devstack-platform-rocky", "POST_FAILURE", False),
    ]
    first = runs[0]
    assert first.source == "gerrit"
    assert first.log_url == f"{LOGS}/tempest-mixed/"
    assert first.build_id == "logs.example.org/tempest-mixed"
    assert (first.project, first.change, first.patchset) == ("openstack/nova", "912345", "3")
    assert first.change_url == "https://review.opendev.org/c/openstack/nova/+/912345"
    assert first.revision == "01b1e22ac73c315f5bca670c76d6a939afa498c8"
    assert first.pipeline == "check"
    # Both runs are one buildset of two
    assert {r.buildset_id for r in runs} == {runs[0].buildset_id} and runs[0].buildset_id.startswith(
        "912345,3:"
    )
    assert {r.buildset_size for r in runs} == {2}


def test_a_person_quoting_the_same_list_makes_no_run():
    assert GerritSource().normalize(event("comment-added-human")) == []


def test_other_events_make_no_run():
    assert GerritSource().normalize(event("patchset-created")) == []


def test_configured_accounts_decide_whose_comments_count():
    assert GerritSource(["jenkins"]).normalize(event("comment-added-zuul")) == []
    # By e-mail too, whatever its case
    assert len(GerritSource(["ZUUL@opendev.org"]).normalize(event("comment-added-zuul"))) == 2


def test_a_gerrit_trigger_comment_gives_jenkins_runs_that_dedupe_with_the_jenkins_webhook():
    (run,) = GerritSource(["jenkins"]).normalize(event("comment-added-jenkins"))
    assert (run.source, run.job, run.build_id) == (
        "jenkins",
        "nova-unit",
        "jenkins.example.org/job/nova-unit/231",
    )
    assert (run.change, run.patchset, run.buildset_size) == ("912345", "3", 1)


def test_job_lines_are_read_in_both_styles_and_nothing_else():
    comment = (
        "Build failed (gate pipeline).\n"
        "- a-job https://l.example.org/a/ : TIMED_OUT in 3h 00m 00s\n"
        "- not a job line\n"
        "https://j.example.org/job/f/job/b-job/7/ : FAILURE (non-voting)\n"
        "https://j.example.org/no/job/here : FAILURE\n"
    )
    assert [(r.job, r.result, r.voting, r.jenkins) for r in job_results(comment)] == [
        ("a-job", "TIMED_OUT", True, False),
        ("f/b-job", "FAILURE", False, True),
    ]


def test_the_token_is_checked_in_the_header_or_the_query():
    source = GerritSource()
    source.verify({"X-Citriage-Token": "k"}, b"{}", "k")
    source.verify({}, b"{}", "k", {"token": "k"})
    with pytest.raises(Unauthorized):
        source.verify({}, b"{}", "k", {"token": "wrong"})


def test_a_comment_through_the_webhook_queues_its_runs_once():
    queue, dedupe = FakeQueue(), FakeDedupe()
    service = WebhookService(FakeKeys({"gerrit": "k"}), dedupe, queue, 1_000_000)
    body = json.dumps(event("comment-added-zuul")).encode()
    first = service.receive("gerrit", {"X-Citriage-Token": "k"}, body)
    again = service.receive("gerrit", {"X-Citriage-Token": "k"}, body)
    assert len(first.accepted) == 2 and again.accepted == [] and len(again.duplicates) == 2
    assert len(queue.sent) == 2
