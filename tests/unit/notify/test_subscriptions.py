"""Subscriptions: the shapes CI teams keep, and what each subscription wants."""

import pytest
from citriage.errors import CitriageError
from citriage.models import FIXED, Classification, Subscription, Verdict
from citriage.notify.audience import dump_subscriptions_yaml, load_subscriptions_yaml

from tests.unit.mail_fakes import DNS_TEST, PORT_TEST, VOLUME_TEST, failure, make_report

SIMPLE = """
nova-core@example.org:
  jobs: tempest-*
storage@example.org:
  tests: ['tempest.api.volume.*']
  verdicts: [failed_new, failed_known, fixed]
  delivery: daily
qa@example.org: ['job:grenade-*', 'test:tempest.scenario.*']
"""


def test_simple_mapping_shape_is_read():
    # Given the mapping CI teams keep: address -> jobs and/or tests
    subs = {s.email: s for s in load_subscriptions_yaml(SIMPLE)}
    # Then each address gets its globs, verdicts and delivery
    assert subs["nova-core@example.org"].jobs == ["tempest-*"]
    assert subs["nova-core@example.org"].verdicts == [Verdict.FAILED_NEW, Verdict.FAILED_KNOWN]
    assert subs["storage@example.org"].tests == ["tempest.api.volume.*"]
    assert FIXED in subs["storage@example.org"].verdicts
    assert subs["storage@example.org"].delivery == "daily"
    assert (subs["qa@example.org"].jobs, subs["qa@example.org"].tests) == (
        ["grenade-*"],
        ["tempest.scenario.*"],
    )


def test_export_reads_back_unchanged():
    subs = load_subscriptions_yaml(SIMPLE)
    again = load_subscriptions_yaml(dump_subscriptions_yaml(subs))
    assert sorted(again, key=lambda s: s.email) == sorted(subs, key=lambda s: s.email)


def test_list_of_subscriptions_shape_is_still_read():
    text = "- email: a@example.org\n  jobs: ['*']\n  verdicts: [infra]\n"
    (sub,) = load_subscriptions_yaml(text)
    assert sub.verdicts == [Verdict.INFRA]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a@example.org: {jobs: x, owners: y}", "unknown keys"),
        ("a@example.org: ['grenade-*']", "not 'job:<glob>'"),
        ("a@example.org: {verdicts: [infra]}", "names no jobs and no tests"),
        ("not-an-address: {jobs: x}", "email"),
        ("a@example.org: {jobs: x, verdicts: [exploded]}", "verdicts"),
        ("- email: a@example.org\n  jobs: [x]\n- email: a@example.org\n  tests: [y]", "more than once"),
        ("just a string", "mapping"),
        ("a: [b", "not a YAML file"),
    ],
)
def test_bad_files_are_refused_with_where(text, message):
    with pytest.raises(CitriageError, match=message):
        load_subscriptions_yaml(text)


def test_test_subscription_is_judged_by_its_own_tests_and_their_classification():
    sub = Subscription(email="s@example.org", tests=["tempest.api.volume.*"])
    # Its test failed with a known issue: wanted
    assert sub.wants(make_report([failure(PORT_TEST), failure(VOLUME_TEST, Classification.KNOWN)]))
    # Another test failed: not wanted
    assert not sub.wants(make_report([failure(PORT_TEST)]))
    # Its test failed because of the infrastructure: not wanted unless it asks for infra
    infra = make_report([failure(VOLUME_TEST, Classification.INFRA), failure(DNS_TEST, Classification.INFRA)])
    assert not sub.wants(infra)
    assert sub.model_copy(update={"verdicts": [Verdict.INFRA]}).wants(infra)


def test_jobs_and_tests_together_mean_those_tests_in_those_jobs():
    sub = Subscription(email="s@example.org", jobs=["tempest-full"], tests=["tempest.api.volume.*"])
    assert sub.wants(make_report([failure(VOLUME_TEST)], job="tempest-full"))
    assert not sub.wants(make_report([failure(VOLUME_TEST)], job="tempest-slow"))


def test_job_subscription_is_judged_by_the_run_verdict():
    sub = Subscription(email="j@example.org", jobs=["tempest-*"])
    assert sub.wants(make_report([failure(PORT_TEST)]))
    assert not sub.wants(make_report([]))
    assert not sub.wants(make_report([failure(PORT_TEST)], job="grenade"))
    assert sub.model_copy(update={"verdicts": [Verdict.PASSED]}).wants(make_report([]))
