"""The DynamoDB adapters against a real endpoint (moto server over HTTP)."""

import secrets
import time

import boto3
import pytest
from citriage.adapters.aws.dynamodb import DedupeStore, RunStore, SubscriptionStore
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.errors import InvalidSignature
from citriage.models import (
    Classification,
    Failure,
    KnownIssue,
    RunEvent,
    RunReport,
    Subscription,
    TestCounts,
    Verdict,
)

pytestmark = pytest.mark.integration


def table(name):
    return boto3.resource("dynamodb").Table(name)


def test_dedupe_claim_is_taken_once_and_can_be_released(stack):
    dedupe = DedupeStore(table(stack.env["DEDUPE_TABLE"]))
    assert dedupe.claim("run#zuul:b1") is True
    assert dedupe.claim("run#zuul:b1") is False
    dedupe.release("run#zuul:b1")
    assert dedupe.claim("run#zuul:b1") is True


def test_leased_claim_is_taken_again_only_after_its_lease_and_never_once_completed(stack):
    clock = [1_000_000.0]
    dedupe = DedupeStore(table(stack.env["DEDUPE_TABLE"]), clock=lambda: clock[0])
    # Given a pending claim under a 300 s lease
    assert dedupe.claim("mail#r#a@example.org", lease_seconds=300) is True
    # Then it cannot be taken while the lease runs
    clock[0] += 299
    assert dedupe.claim("mail#r#a@example.org", lease_seconds=300) is False
    # And it can once the lease ran out (the worker died without completing)
    clock[0] += 2
    assert dedupe.claim("mail#r#a@example.org", lease_seconds=300) is True
    # And once completed it is final, however long after
    dedupe.complete("mail#r#a@example.org")
    clock[0] += 10**6
    assert dedupe.claim("mail#r#a@example.org", lease_seconds=300) is False
    # And a plain (final) claim is never taken again by a leased one
    assert dedupe.claim("run#zuul:b9") is True
    assert dedupe.claim("run#zuul:b9", lease_seconds=1) is False


def test_run_report_round_trips_and_huge_details_are_trimmed_to_fit(stack):
    runs = RunStore(table(stack.env["RUNS_TABLE"]))
    # Given a report whose tracebacks are far over DynamoDB's 400 KB item limit, even gzipped
    noise = [secrets.token_hex(1000) for _ in range(400)]
    report = RunReport(
        run=RunEvent(
            source="zuul", job="tempest-full", build_id="b1", result="FAILURE", log_url="https://l/"
        ),
        verdict=Verdict.FAILED_NEW,
        tests=TestCounts(total=400, failed=400),
        failures=[
            Failure(test_id=f"t.{i}", classification=Classification.NEW, details=noise[i]) for i in range(400)
        ],
    )
    # When it is stored and read back
    runs.put_report(report)
    stored = runs.get_report("zuul:b1")
    # Then everything but the trimmed details survives, and the trim is noted
    assert stored is not None
    assert stored.verdict is Verdict.FAILED_NEW and len(stored.failures) == 400
    assert all(len(f.details) <= 200 for f in stored.failures)
    assert "shortened" in stored.notes[-1]
    assert runs.get_report("zuul:nope") is None
    item = table(stack.env["RUNS_TABLE"]).get_item(Key={"pk": "RUN#zuul:b1", "sk": "REPORT"})["Item"]
    assert 399 * 86400 < int(item["expires_at"]) - time.time() <= 400 * 86400


def test_known_issue_store_refuses_invalid_pattern_and_round_trips(stack):
    store = KnownIssueStore(table(stack.env["KNOWN_ISSUES_TABLE"]))
    good = KnownIssue(
        id="LP-1", title="t", bug_url="https://b/1", pattern=r"in-use \(attaching\)", jobs=["tempest-*"]
    )
    store.put(good)
    with pytest.raises(InvalidSignature, match="not valid RE2"):
        store.put(good.model_copy(update={"id": "LP-2", "pattern": r"(a)\1"}))
    assert store.list() == [good]


def test_subscription_store_round_trips(stack):
    store = SubscriptionStore(table(stack.env["SUBSCRIPTIONS_TABLE"]))
    sub = Subscription(email="a@example.org", tests=["tempest.api.volume.*"], verdicts=[Verdict.FAILED_NEW])
    store.put(sub)
    assert store.list() == [sub]
    store.delete("a@example.org")
    assert store.list() == []


def test_a_report_too_big_for_an_item_is_shortened_stored_and_read_back(stack):
    # Given a run of 60,000 failures, 40,000 notes and long texts (well over DynamoDB's 400 KB)
    from citriage.adapters.aws.dynamodb import RunStore
    from citriage.models import Classification, Failure, RunEvent, RunReport, TestCounts, Verdict

    frames = "  frame\n" * 40
    failures = [
        Failure(
            test_id=f"tempest.api.compute.servers.test_{n}.ServersTestJSON.test_case_{n}",
            classification=Classification.NEW if n % 7 == 0 else Classification.KNOWN,
            details=f"Traceback (most recent call last):\n{frames}ValueError: case {n} broke",
        )
        for n in range(60_000)
    ]
    report = RunReport(
        run=RunEvent(source="zuul", job="huge", build_id="h1", log_url="https://logs.example.org/h1/"),
        verdict=Verdict.FAILED_NEW,
        tests=TestCounts(total=70_000, passed=10_000, failed=60_000),
        failures=failures,
        notes=[f"note {n}: something about file {n} could not be read" for n in range(40_000)],
    )
    store = RunStore(boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"]))
    # When it is stored (it used to fail on every attempt) and read back
    store.put_report(report)
    stored = store.get_report("zuul:h1")
    # Then verdict and counts are the run's, every failure is listed or counted, new ones first
    assert stored is not None
    assert (stored.verdict, stored.tests) == (report.verdict, report.tests)
    assert len(stored.failures) + sum(stored.omitted_failures.values()) == 60_000
    assert stored.failures[0].classification is Classification.NEW
    assert stored.omitted_failures["known"] > 0
    assert stored.notes[-1].startswith("The stored report was shortened to fit the run store")
