"""One test per classification and verdict precedence rule, named after it (docs/classification.md)."""

from datetime import date

from citriage.analyze.classify import (
    ci_result_finding,
    classify_failure,
    explain_verdict,
    job_failure,
)
from citriage.analyze.failure_text import REPORT_HEAD, REPORT_TAIL
from citriage.analyze.matching.compiled import Hit
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.known_issues.signatures import SignatureSet
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


# --- failure classification (failure-1 .. failure-5) -------------------------------------


def test_failure_1_signature_on_traceback_is_known():
    # Given a traceback that a known issue's signature matches
    f = classify_failure(
        failed("t.x", "Traceback\nvolume v failed to reach in-use status (current attaching)"),
        SIGNATURES,
        RULES,
        [],
        None,
    )
    # Then the failure is known, with that issue, and the evidence says where and by which rule
    assert f.classification is Classification.KNOWN
    assert f.known_issue is not None and f.known_issue.id == "LP-1929710"
    evidence = f.evidence[0]
    assert (evidence.kind, evidence.file, evidence.line, evidence.rule) == (
        "signature",
        "traceback",
        2,
        "failure-1",
    )
    assert evidence.excerpt == "volume v failed to reach in-use status (current attaching)"
    assert evidence.message == "Volume attach times out"


def test_failure_1_infra_category_signature_is_infra_with_its_issue():
    f = classify_failure(failed("t.x", "the mirror flapped"), SIGNATURES, RULES, [], None)
    assert f.classification is Classification.INFRA
    assert f.known_issue is not None and f.known_issue.id == "INFRA-1"


def test_failure_1_signature_wins_over_infra_rule():
    text = "failed to reach in-use status (current attaching)\nTemporary failure in name resolution"
    f = classify_failure(failed("t.x", text), SIGNATURES, RULES, [], None)
    assert f.classification is Classification.KNOWN and f.evidence[0].rule == "failure-1"


def test_failure_1_message_uses_capture_groups():
    # Given a signature whose message names its capture groups
    issue = KnownIssue(
        id="LP-3",
        title="Volume stuck",
        bug_url="https://example.org/3",
        pattern=r"volume (?P<volume>\S+) failed to reach (\S+) status",
        message="volume {volume} never reached {2}",
    )
    sigs = SignatureSet([issue], date(2026, 11, 21))
    # When it explains a failure
    f = classify_failure(failed("t.x", "volume v-42 failed to reach in-use status"), sigs, RULES, [], None)
    # Then the evidence carries the message with the captured values
    assert f.evidence[0].message == "volume v-42 never reached in-use"


def test_failure_2_infra_rule_on_traceback_is_infra():
    f = classify_failure(
        failed("t.x", "ConnectionError: [Errno -3] Temporary failure in name resolution"),
        SIGNATURES,
        RULES,
        [],
        None,
    )
    assert f.classification is Classification.INFRA
    assert f.evidence[0].matched_by == "dns-temporary-failure" and f.evidence[0].rule == "failure-2"
    assert f.evidence[0].message is not None and f.evidence[0].message.startswith("network:")


def test_failure_3_test_scoped_signature_in_logs_is_known_only_for_that_test():
    hit = Hit(SCOPED, "job-output.txt", 42, "agent ovs is down")
    net = classify_failure(
        failed("tempest.api.network.test_ports.P.test_a", "AssertionError"), SIGNATURES, RULES, [hit], None
    )
    other = classify_failure(
        failed("tempest.api.compute.test_s.S.test_b", "AssertionError"), SIGNATURES, RULES, [hit], None
    )
    assert net.classification is Classification.KNOWN
    assert (net.evidence[0].file, net.evidence[0].line, net.evidence[0].rule) == (
        "job-output.txt",
        42,
        "failure-3",
    )
    assert other.classification is Classification.NEW


def test_failure_3_unscoped_log_hit_does_not_explain_a_test():
    hit = Hit(VOLUME, "job-output.txt", 7, "failed to reach in-use status (current attaching)")
    f = classify_failure(failed("t.x", "AssertionError: 2 != 3"), SIGNATURES, RULES, [hit], None)
    assert f.classification is Classification.NEW


def test_failure_4_interrupted_test_under_ci_infra_result_is_infra():
    ci = ci_result_finding(run("TIMED_OUT"))
    f = classify_failure(failed("t.x", "", TestStatus.INTERRUPTED), SIGNATURES, RULES, [], ci)
    assert f.classification is Classification.INFRA
    assert (f.evidence[0].kind, f.evidence[0].rule) == ("ci_result", "failure-4")


def test_failure_4_needs_the_test_to_be_interrupted():
    ci = ci_result_finding(run("TIMED_OUT"))
    f = classify_failure(failed("t.x", "AssertionError"), SIGNATURES, RULES, [], ci)
    assert f.classification is Classification.NEW


def test_failure_5_unexplained_is_new_with_its_last_line_as_evidence():
    f = classify_failure(failed("t.x", "Traceback\nAssertionError: 2 != 3"), SIGNATURES, RULES, [], None)
    assert f.classification is Classification.NEW
    assert f.evidence[0].excerpt == "AssertionError: 2 != 3" and f.evidence[0].rule == "failure-5"


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


# --- the job itself, when the CI failed it but no test failed (job-1 .. job-3) ----------


def test_job_1_unscoped_signature_in_logs_explains_the_job():
    hit = Hit(VOLUME, "job-output.txt", 3, "failed to reach in-use status (current attaching)")
    f = job_failure(run(), results_found=False, known_hits=[hit], error_lines=[])
    assert f is not None and f.classification is Classification.KNOWN and f.test_id == "job:tempest-full"
    assert f.evidence[0].rule == "job-1"


def test_job_2_tests_passed_but_job_failed_is_new():
    line = Evidence(kind="unexplained", file="job-output.txt", line=9, excerpt="fatal: [c]: FAILED!")
    f = job_failure(run(), results_found=True, known_hits=[], error_lines=[line])
    assert f is not None and f.classification is Classification.NEW
    assert (f.evidence[0].file, f.evidence[0].line, f.evidence[0].excerpt) == (
        "job-output.txt",
        9,
        line.excerpt,
    )
    assert f.evidence[0].rule == "job-2"


def test_job_3_no_failure_without_results_or_explanation():
    assert job_failure(run(), results_found=False, known_hits=[], error_lines=[]) is None


# --- run verdict (verdict-1 .. verdict-6) ------------------------------------------------


def _f(classification: Classification) -> Failure:
    return Failure(test_id="t", classification=classification)


CI_INFRA = InfraFinding(rule="zuul-result-NODE_FAILURE", category="ci")


def _verdict(failures, infra, result, results_found=True, logs_read=True):
    return explain_verdict(run(result), results_found, [_f(c) for c in failures], infra, logs_read)


def test_verdict_1_any_new_failure_is_failed_new():
    verdict, reason = _verdict(
        [Classification.KNOWN, Classification.NEW, Classification.INFRA], [CI_INFRA], "FAILURE"
    )
    assert verdict is Verdict.FAILED_NEW and reason.startswith("verdict-1:")


def test_verdict_2_all_failures_infra_is_infra():
    verdict, reason = _verdict([Classification.INFRA, Classification.INFRA], [], "FAILURE")
    assert verdict is Verdict.INFRA and reason.startswith("verdict-2:")


def test_verdict_3_known_and_infra_failures_are_failed_known():
    verdict, reason = _verdict([Classification.KNOWN, Classification.INFRA], [], "FAILURE")
    assert verdict is Verdict.FAILED_KNOWN and reason.startswith("verdict-3:")


def test_verdict_4_nothing_failed_and_ci_passed_is_passed():
    assert _verdict([], [], "SUCCESS")[0] is Verdict.PASSED
    # the CI did not say, and results were read
    verdict, reason = _verdict([], [], None)
    assert verdict is Verdict.PASSED and reason.startswith("verdict-4:")


def test_verdict_4_unreadable_logs_are_never_a_pass():
    verdict, reason = _verdict([], [], "SUCCESS", results_found=False, logs_read=False)
    assert verdict is Verdict.NO_RESULTS and "could not be read" in reason


def test_verdict_5_no_failing_test_and_infra_finding_is_infra():
    verdict, reason = _verdict([], [CI_INFRA], "NODE_FAILURE", results_found=False)
    assert (
        verdict is Verdict.INFRA and reason.startswith("verdict-5:") and "zuul-result-NODE_FAILURE" in reason
    )


def test_verdict_6_nothing_says_what_happened_is_no_results():
    verdict, reason = _verdict([], [], "FAILURE", results_found=False)
    assert verdict is Verdict.NO_RESULTS and reason.startswith("verdict-6:")


# --- CI result words (data in rules/infra.yaml) ------------------------------------------


def test_ci_infra_results_are_findings():
    for word in ("NODE_FAILURE", "RETRY_LIMIT", "POST_FAILURE", "TIMED_OUT", "DISK_FULL", "ABORTED"):
        finding = ci_result_finding(run(word))
        assert finding is not None and finding.category == "ci"
        assert finding.rule == f"zuul-result-{word}" and f"ci-result-{word}" in finding.excerpt
    assert ci_result_finding(run("FAILURE")) is None
    assert ci_result_finding(run(None)) is None


def test_long_traceback_keeps_its_head_its_final_exception_line_and_says_what_it_left_out():
    # Given a 160 KB traceback whose exception is its last line
    text = (
        "Traceback (most recent call last):\n"
        + "".join(f"  frame {n}\n" for n in range(16000))
        + "socket.gaierror: Temporary failure in name resolution"
    )
    f = classify_failure(failed("t.x", text), SIGNATURES, RULES, [], None)
    # Then the report keeps its head and its end, cut at line boundaries around a marker line
    assert f.details.startswith("Traceback (most recent call last):\n  frame 0\n")
    assert f.details.endswith("\nsocket.gaierror: Temporary failure in name resolution")
    assert len(f.details.encode()) <= REPORT_HEAD + REPORT_TAIL + 100
    [marker_line] = [line for line in f.details.splitlines() if line.startswith("[citriage: ")]
    assert marker_line.endswith("bytes) omitted]")
    kept = [line for line in f.details.splitlines() if line.startswith("  frame ")]
    assert int(marker_line.split()[1]) == 16000 - len(kept)
    # And the exception line is the message (the rule found it though the text was cut)
    assert f.message == "socket.gaierror: Temporary failure in name resolution"
    assert f.classification is Classification.INFRA
