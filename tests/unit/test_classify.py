"""One test per classification and verdict precedence rule (docs/classification.md)."""

from datetime import date

import pytest
from citriage.classify import ci_result_finding, classify_failure, decide_verdict, job_failure
from citriage.models import (
    Classification,
    Evidence,
    Failure,
    InfraFinding,
    KnownIssue,
    RunEvent,
    TestResult,
    TestStatus,
    Verdict,
)
from citriage.signatures import Hit, InfraRuleSet, SignatureSet, load_builtin_rules

RULES = InfraRuleSet(load_builtin_rules())
VOLUME = KnownIssue(
    id="LP-1929710",
    title="Volume attach times out",
    bug_url="https://bugs.launchpad.net/cinder/+bug/1929710",
    pattern=r"failed to reach in-use status \(current attaching\)",
)
INFRA_ISSUE = KnownIssue(
    id="INFRA-1",
    title="Mirror flaps",
    bug_url="https://example.org/1",
    pattern="mirror flapped",
    category="infra",
)
SCOPED = KnownIssue(
    id="LP-2",
    title="Neutron agent down",
    bug_url="https://example.org/2",
    pattern="agent .* is down",
    tests=["tempest.api.network.*"],
)
SIGNATURES = SignatureSet([VOLUME, INFRA_ISSUE, SCOPED], date(2026, 11, 21))


def run(result: str | None = "FAILURE") -> RunEvent:
    return RunEvent(source="zuul", job="tempest-full", build_id="b1", result=result, log_url="https://l/")


def failed(test_id: str, details: str, status: TestStatus = TestStatus.FAILED) -> TestResult:
    return TestResult(test_id=test_id, status=status, details=details)


# --- failure classification -------------------------------------------------------------


def test_rule1_signature_on_traceback_is_known():
    f = classify_failure(
        failed("t.x", "volume v failed to reach in-use status (current attaching)"),
        SIGNATURES,
        RULES,
        [],
        None,
    )
    assert f.classification is Classification.KNOWN
    assert f.known_issue is not None and f.known_issue.id == "LP-1929710"
    assert f.evidence[0].kind == "signature" and f.evidence[0].file == "traceback"


def test_rule1_infra_category_signature_is_infra_with_its_issue():
    f = classify_failure(failed("t.x", "the mirror flapped"), SIGNATURES, RULES, [], None)
    assert f.classification is Classification.INFRA
    assert f.known_issue is not None and f.known_issue.id == "INFRA-1"


def test_rule1_signature_before_infra_rule():
    text = "failed to reach in-use status (current attaching)\nTemporary failure in name resolution"
    assert (
        classify_failure(failed("t.x", text), SIGNATURES, RULES, [], None).classification
        is Classification.KNOWN
    )


def test_rule2_infra_rule_on_traceback_is_infra():
    f = classify_failure(
        failed("t.x", "ConnectionError: [Errno -3] Temporary failure in name resolution"),
        SIGNATURES,
        RULES,
        [],
        None,
    )
    assert f.classification is Classification.INFRA
    assert f.evidence[0].matched_by == "dns-temporary-failure"


def test_rule3_test_scoped_signature_in_logs_is_known_only_for_that_test():
    hit = Hit(SCOPED, "job-output.txt", 42, "agent ovs is down")
    net = classify_failure(
        failed("tempest.api.network.test_ports.P.test_a", "AssertionError"), SIGNATURES, RULES, [hit], None
    )
    other = classify_failure(
        failed("tempest.api.compute.test_s.S.test_b", "AssertionError"), SIGNATURES, RULES, [hit], None
    )
    assert net.classification is Classification.KNOWN and net.evidence[0].line == 42
    assert other.classification is Classification.NEW


def test_rule3_unscoped_log_hit_does_not_explain_a_test():
    hit = Hit(VOLUME, "job-output.txt", 7, "failed to reach in-use status (current attaching)")
    f = classify_failure(failed("t.x", "AssertionError: 2 != 3"), SIGNATURES, RULES, [hit], None)
    assert f.classification is Classification.NEW


def test_rule4_interrupted_test_under_ci_timeout_is_infra():
    ci = ci_result_finding(run("TIMED_OUT"))
    f = classify_failure(failed("t.x", "", TestStatus.INTERRUPTED), SIGNATURES, RULES, [], ci)
    assert f.classification is Classification.INFRA and f.evidence[0].kind == "ci_result"


def test_rule5_unexplained_is_new_with_its_last_line_as_evidence():
    f = classify_failure(failed("t.x", "Traceback\nAssertionError: 2 != 3"), SIGNATURES, RULES, [], None)
    assert f.classification is Classification.NEW
    assert f.evidence[0].excerpt == "AssertionError: 2 != 3"


def test_expired_signature_explains_nothing():
    expired = VOLUME.model_copy(update={"expires": date(2020, 1, 1)})
    sigs = SignatureSet([expired], date(2026, 11, 21))
    f = classify_failure(
        failed("t.x", "failed to reach in-use status (current attaching)"), sigs, RULES, [], None
    )
    assert f.classification is Classification.NEW


def test_job_scope_limits_signatures():
    scoped = VOLUME.model_copy(update={"jobs": ["grenade-*"]})
    sigs = SignatureSet([scoped], date(2026, 11, 21)).for_job("tempest-full")
    assert len(sigs) == 0


# --- run verdict -----------------------------------------------------------------------


def _f(classification: Classification) -> Failure:
    return Failure(test_id="t", classification=classification)


CI_INFRA = InfraFinding(rule="zuul-result-NODE_FAILURE", category="ci")


@pytest.mark.parametrize(
    ("failures", "infra", "result", "results_found", "logs_read", "expected"),
    [
        # 1. any new failure wins, even beside known and infra ones and infra findings
        (
            [Classification.KNOWN, Classification.NEW, Classification.INFRA],
            [CI_INFRA],
            "FAILURE",
            True,
            True,
            Verdict.FAILED_NEW,
        ),
        # 2. all failures infra
        ([Classification.INFRA, Classification.INFRA], [], "FAILURE", True, True, Verdict.INFRA),
        # 3. known (with or without infra)
        ([Classification.KNOWN, Classification.INFRA], [], "FAILURE", True, True, Verdict.FAILED_KNOWN),
        # 4. nothing failed and the CI passed it
        ([], [], "SUCCESS", True, True, Verdict.PASSED),
        # 4. nothing failed, the CI did not say, results were read
        ([], [], None, True, True, Verdict.PASSED),
        # 4. unreadable logs are never a pass
        ([], [], "SUCCESS", False, False, Verdict.NO_RESULTS),
        # 5. no failing test, infrastructure finding
        ([], [CI_INFRA], "NODE_FAILURE", False, True, Verdict.INFRA),
        # 6. nothing says what happened
        ([], [], "FAILURE", False, True, Verdict.NO_RESULTS),
    ],
)
def test_verdict_precedence(failures, infra, result, results_found, logs_read, expected):
    got = decide_verdict(run(result), results_found, [_f(c) for c in failures], infra, logs_read)
    assert got is expected


def test_ci_infra_results_are_findings():
    for word in ("NODE_FAILURE", "RETRY_LIMIT", "POST_FAILURE", "TIMED_OUT", "DISK_FULL"):
        finding = ci_result_finding(run(word))
        assert finding is not None and finding.category == "ci"
    assert ci_result_finding(run("FAILURE")) is None


def test_job_failure_known_when_unscoped_signature_hit_logs():
    hit = Hit(VOLUME, "job-output.txt", 3, "failed to reach in-use status (current attaching)")
    f = job_failure(run(), results_found=False, known_hits=[hit], error_lines=[])
    assert f is not None and f.classification is Classification.KNOWN and f.test_id == "job:tempest-full"


def test_job_failure_new_when_tests_passed_but_job_failed():
    line = Evidence(kind="unexplained", file="job-output.txt", line=9, excerpt="fatal: [c]: FAILED!")
    f = job_failure(run(), results_found=True, known_hits=[], error_lines=[line])
    assert f is not None and f.classification is Classification.NEW and f.evidence == [line]


def test_no_job_failure_without_results_or_explanation():
    assert job_failure(run(), results_found=False, known_hits=[], error_lines=[]) is None


def test_long_traceback_keeps_its_final_exception_line():
    text = (
        "Traceback (most recent call last):\n"
        + "  frame\n" * 2000
        + "socket.gaierror: Temporary failure in name resolution"
    )
    f = classify_failure(failed("t.x", text), SIGNATURES, RULES, [], None)
    assert f.details.endswith("Temporary failure in name resolution")
    assert len(f.details) <= 2000
