"""Classifying failures and deciding a run's verdict. The rules are in docs/classification.md.

Each failure is judged from its own evidence only: its traceback, and log lines that a
signature scoped to that test found. A DNS error somewhere in a log does not explain an
unrelated assertion failure; that would hide real regressions.
"""

from __future__ import annotations

from collections.abc import Sequence

from citriage.models import (
    Classification,
    Evidence,
    Failure,
    InfraFinding,
    IssueCategory,
    KnownIssue,
    RunEvent,
    TestResult,
    TestStatus,
    Verdict,
)
from citriage.signatures import Hit, InfraRuleSet, SignatureSet

# Zuul build results that mean the infrastructure, not the change, failed the build.
CI_INFRA_RESULTS = frozenset({"NODE_FAILURE", "RETRY_LIMIT", "POST_FAILURE", "TIMED_OUT", "DISK_FULL"})
CI_PASSED_RESULTS = frozenset({"SUCCESS", "PASSED", "PASS"})
MAX_DETAILS_IN_REPORT = 2000


def clip_details(text: str) -> str:
    """A traceback cut to size for the report, keeping its end: the exception is the last line."""
    if len(text) <= MAX_DETAILS_IN_REPORT:
        return text
    return "…" + text[-(MAX_DETAILS_IN_REPORT - 1) :]


def _signature_evidence(hit: Hit[KnownIssue]) -> Evidence:
    return Evidence(
        kind="signature", matched_by=hit.item.id, file=hit.file, line=hit.line, excerpt=hit.excerpt
    )


def _known(result: TestResult, hit: Hit[KnownIssue]) -> Failure:
    classification = (
        Classification.INFRA if hit.item.category is IssueCategory.INFRA else Classification.KNOWN
    )
    return Failure(
        test_id=result.test_id,
        classification=classification,
        known_issue=hit.item.ref(),
        evidence=[_signature_evidence(hit)],
        status=result.status,
        details=clip_details(result.details),
    )


def classify_failure(
    result: TestResult,
    signatures: SignatureSet,
    rules: InfraRuleSet,
    log_hits: Sequence[Hit[KnownIssue]],
    ci_infra: InfraFinding | None,
) -> Failure:
    """Classify one failed or interrupted test. Precedence, first that applies:

    1. a known-issue signature (in scope for the test) matches its traceback -> known
       (or infra, for a known issue of category infra);
    2. an infrastructure rule matches its traceback -> infra;
    3. a signature scoped to this test by `tests` matched a line of the run's logs -> known;
    4. the test was interrupted and the CI reported an infrastructure result -> infra;
    5. otherwise -> new.
    """
    text = result.details
    for hit in signatures.search_text(text, file="traceback"):
        if hit.item.applies_to_test(result.test_id):
            return _known(result, hit)
    rule_hits = rules.search_text(text, file="traceback")
    if rule_hits:
        return Failure(
            test_id=result.test_id,
            classification=Classification.INFRA,
            evidence=[
                Evidence(kind="infra_rule", matched_by=h.item.id, file=h.file, line=h.line, excerpt=h.excerpt)
                for h in rule_hits
            ],
            status=result.status,
            details=clip_details(text),
        )
    for log_hit in log_hits:
        if log_hit.item.tests and log_hit.item.applies_to_test(result.test_id):
            return _known(result, log_hit)
    if result.status is TestStatus.INTERRUPTED and ci_infra is not None:
        return Failure(
            test_id=result.test_id,
            classification=Classification.INFRA,
            evidence=[Evidence(kind="ci_result", matched_by=ci_infra.rule, excerpt=ci_infra.excerpt)],
            status=result.status,
            details=clip_details(text),
        )
    first_line = next((line for line in reversed(text.splitlines()) if line.strip()), "")
    return Failure(
        test_id=result.test_id,
        classification=Classification.NEW,
        evidence=[Evidence(kind="unexplained", file="traceback", excerpt=first_line[:500])],
        status=result.status,
        details=clip_details(text),
    )


def ci_result_finding(run: RunEvent) -> InfraFinding | None:
    """An infra finding when the CI's own result word means infrastructure failure."""
    if run.result and run.result.upper() in CI_INFRA_RESULTS:
        return InfraFinding(
            rule=f"{run.source}-result-{run.result.upper()}",
            category="ci",
            excerpt=f"{run.source} reported the build as {run.result.upper()}",
        )
    return None


def ci_says_passed(run: RunEvent) -> bool | None:
    """True/False when the CI told its result, None when it did not."""
    if not run.result:
        return None
    return run.result.upper() in CI_PASSED_RESULTS


def job_failure(
    run: RunEvent,
    results_found: bool,
    known_hits: Sequence[Hit[KnownIssue]],
    error_lines: Sequence[Evidence],
) -> Failure | None:
    """A failure for the job itself, when the CI failed the build but no test failed.

    A known issue that hit the logs explains it (known). Otherwise, when tests were read and
    all passed, the job broke outside them: that is new, with the job's own error lines as
    evidence. With no results and no explanation there is nothing to blame: no failure.
    """
    test_id = f"job:{run.job}"
    for hit in known_hits:
        if not hit.item.tests:
            return Failure(
                test_id=test_id,
                classification=(
                    Classification.INFRA if hit.item.category is IssueCategory.INFRA else Classification.KNOWN
                ),
                known_issue=hit.item.ref(),
                evidence=[_signature_evidence(hit)],
            )
    if not results_found:
        return None
    evidence = list(error_lines) or [
        Evidence(kind="unexplained", excerpt=f"{run.source} reported {run.result}")
    ]
    return Failure(test_id=test_id, classification=Classification.NEW, evidence=evidence)


def decide_verdict(
    run: RunEvent,
    results_found: bool,
    failures: Sequence[Failure],
    infra: Sequence[InfraFinding],
    logs_read: bool = True,
) -> Verdict:
    """The run's verdict. Precedence, first that applies:

    1. any failure classified new -> failed_new (a failure nothing explains is never hidden);
    2. failures, all classified infra -> infra;
    3. failures, each known or infra -> failed_known;
    4. no failure, the logs were read, and the CI passed the build (or did not say, and results
       were read) -> passed; unreadable logs are never a pass;
    5. no failure, and an infrastructure finding (CI result or log line) -> infra;
    6. otherwise -> no_results: nothing was read that says what happened.
    """
    if failures:
        classes = {f.classification for f in failures}
        if Classification.NEW in classes:
            return Verdict.FAILED_NEW
        if classes == {Classification.INFRA}:
            return Verdict.INFRA
        return Verdict.FAILED_KNOWN
    passed = ci_says_passed(run)
    if logs_read and (passed or (passed is None and results_found)):
        return Verdict.PASSED
    if infra:
        return Verdict.INFRA
    return Verdict.NO_RESULTS
