"""Failures past the ones kept whole are classified by the same rules, counted, and grouped;
totals and the merge are those of the files, whatever the test count."""

import pytest
from citriage.analyze import tally as tally_module
from citriage.analyze.classify import (
    ci_result_finding,
    classify_failure,
    explain_verdict,
    group_unlisted,
    text_judge,
)
from citriage.analyze.matching.compiled import Hit
from citriage.analyze.tally import tally_of
from citriage.models import Classification, TestResult, TestStatus, Verdict

from tests.unit.analyze.test_classify import RULES, SCOPED, SIGNATURES, VOLUME, failed, run

# One failure per classification rule (docs/classification.md), and the run they failed in.
CASES = [
    failed("t.sig", "Traceback\nvolume v failed to reach in-use status (current attaching)"),  # failure-1
    failed("t.infra_issue", "the mirror flapped"),  # failure-1, a known issue of category infra
    failed("t.rule", "curl: (6) Could not resolve host: mirror.example.org"),  # failure-2
    failed("tempest.api.network.test_ports.P.test_a", "AssertionError"),  # failure-3
    failed("t.cut", "", TestStatus.INTERRUPTED),  # failure-4
    failed("t.new", "Traceback\nAssertionError: 2 != 3"),  # failure-5
]
LOG_HITS = [Hit(SCOPED, "job-output.txt", 42, "agent ovs is down"), Hit(VOLUME, "job-output.txt", 7, "x")]
CI_INFRA = ci_result_finding(run("TIMED_OUT"))


def test_a_failure_kept_compact_is_classified_as_if_kept_whole(monkeypatch):
    # Given every failure kept compact (no room for any whole one)
    monkeypatch.setattr(tally_module, "MAX_FULL_FAILURES", 0)
    read = tally_of([("junit.xml", CASES)], judge=text_judge(SIGNATURES, RULES))
    assert read.failed == [] and len(read.compact) == len(CASES)
    # When the compact ones are grouped, and the same results classified whole
    groups = group_unlisted(read.compact, LOG_HITS, CI_INFRA)
    whole = [classify_failure(r, SIGNATURES, RULES, LOG_HITS, CI_INFRA) for r in CASES]
    # Then each test has the same classification and the same known issue either way
    compact = {g.examples[0]: (g.classification, g.known_issue and g.known_issue.id) for g in groups}
    assert compact == {f.test_id: (f.classification, f.known_issue and f.known_issue.id) for f in whole}
    assert [f.classification for f in whole] == [
        Classification.KNOWN,
        Classification.INFRA,
        Classification.INFRA,
        Classification.KNOWN,
        Classification.INFRA,
        Classification.NEW,
    ]


def test_the_first_failures_are_kept_whole_and_the_rest_grouped_by_message_shape(monkeypatch):
    monkeypatch.setattr(tally_module, "MAX_FULL_FAILURES", 2)
    results = [
        TestResult(test_id=f"t.{n}", status=TestStatus.FAILED, details="x", message=f"E: timeout after {n}s")
        for n in range(10)
    ] + [TestResult(test_id="t.other", status=TestStatus.FAILED, message="KeyError: 'a'")]
    read = tally_of([("junit.xml", results)], judge=text_judge(SIGNATURES, RULES))
    groups = group_unlisted(read.compact, [], None)
    assert [r.test_id for r in read.failed] == ["t.0", "t.1"]
    assert [(g.count, g.message, g.examples) for g in groups] == [
        (8, "E: timeout after 2s", ["t.2", "t.3", "t.4"]),
        (1, "KeyError: 'a'", ["t.other"]),
    ]


def test_a_rerun_pass_replaces_the_failure_and_each_test_counts_once(monkeypatch):
    # Given stestr's two runs of one environment: t.0 fails, then passes on the re-run; t.1 fails twice
    monkeypatch.setattr(tally_module, "MAX_FULL_FAILURES", 1)
    first = [
        failed("t.0", "boom"),
        failed("t.1", "boom"),
        TestResult(test_id="t.2", status=TestStatus.PASSED),
    ]
    rerun = [TestResult(test_id="t.0", status=TestStatus.PASSED), failed("t.1", "boom again")]
    read = tally_of([(".stestr/0", first), (".stestr/1", rerun)])
    # Then each test counts once, with its later result: only t.1 failed
    assert (read.tests.total, read.tests.passed, read.tests.failed) == (3, 2, 1)
    assert [f.test_id for f in [*read.failed, *read.compact]] == ["t.1"]


def test_an_interrupted_rerun_never_replaces_a_finished_compact_failure(monkeypatch):
    monkeypatch.setattr(tally_module, "MAX_FULL_FAILURES", 0)
    read = tally_of(
        [(".stestr/0", [failed("t.0", "boom")]), (".stestr/1", [failed("t.0", "", TestStatus.INTERRUPTED)])]
    )
    assert [c.status for c in read.compact] == [TestStatus.FAILED]


@pytest.mark.parametrize(
    ("listed", "unlisted_new", "expected"),
    [(Classification.KNOWN, True, Verdict.FAILED_NEW), (Classification.INFRA, False, Verdict.INFRA)],
)
def test_verdict_counts_the_unlisted_failures(monkeypatch, listed, unlisted_new, expected):
    # Given a listed failure, and unlisted ones that are new (or, like it, infra)
    monkeypatch.setattr(tally_module, "MAX_FULL_FAILURES", 0)
    text = "AssertionError: 1 != 2" if unlisted_new else "Could not resolve host: m"
    read = tally_of(
        [("junit.xml", [failed(f"t.{n}", text) for n in range(3)])], judge=text_judge(SIGNATURES, RULES)
    )
    groups = group_unlisted(read.compact, [], None)
    listed_failure = classify_failure(
        failed(
            "t.listed",
            "volume v failed to reach in-use status (current attaching)"
            if listed is Classification.KNOWN
            else "Could not resolve host: m",
        ),
        SIGNATURES,
        RULES,
        [],
        None,
    )
    verdict, reason = explain_verdict(run(), True, [listed_failure], [], True, groups)
    # Then the verdict is what all of them say, and a new unlisted one is never hidden
    assert verdict is expected
    if unlisted_new:
        assert reason == "verdict-1: t.0 and 2 more failed and nothing known explains it"
    else:
        assert reason == "verdict-2: all 4 failure(s) are infrastructure"
