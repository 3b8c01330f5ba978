"""Classifying failures and deciding a run's verdict. The rules are in docs/classification.md.

Each failure is judged from its own evidence only: its traceback, and log lines that a
signature scoped to that test found. A DNS error somewhere in a log does not explain an
unrelated assertion failure; that would hide real regressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cache

from citriage.analyze.failure_text import exception_line, for_report, for_report_output, matchable_segments
from citriage.analyze.matching.compiled import Hit, ItemT
from citriage.analyze.matching.engine import PatternSet
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules, service_of
from citriage.analyze.tally import CompactFailure, TextJudge, TextJudgement
from citriage.known_issues.signatures import SignatureSet
from citriage.models import (
    Classification,
    Evidence,
    Failure,
    FailureGroup,
    InfraFinding,
    IssueCategory,
    KnownIssue,
    KnownIssueRef,
    RunEvent,
    TestResult,
    TestStatus,
    Verdict,
)

# Which CI result words mean the infrastructure failed the build is data: the `results` of the
# rules in rules/infra.yaml (Zuul NODE_FAILURE, RETRY_LIMIT, ..., Jenkins ABORTED).
# openQA "softfailed": passed with a known, accepted issue.
CI_PASSED_RESULTS = frozenset({"SUCCESS", "PASSED", "PASS", "SOFTFAILED"})


def search_failure_text(patterns: PatternSet[ItemT], text: str, file: str) -> list[Hit[ItemT]]:
    """The first hit of each item in a failure's text, matched segment by segment: never across
    an omission marker, never on a line a cut broke (failure_text.matchable_segments)."""
    first: dict[str, Hit[ItemT]] = {}
    for segment in matchable_segments(text):
        for hit in patterns.search_text(segment.text, file=file):
            if hit.item.id not in first:
                line = hit.line + segment.first_line - 1 if hit.line else None
                first[hit.item.id] = replace(hit, line=line)
    return [first[key] for key in sorted(first)]


@cache
def _builtin_rules() -> InfraRuleSet:
    return InfraRuleSet(load_builtin_rules())


def _where(file: str | None, line: int | None) -> str:
    if file and line:
        return f"{file}:{line}"
    return file or "the run"


def _signature_evidence(hit: Hit[KnownIssue], rule: str) -> Evidence:
    return Evidence(
        kind="signature",
        matched_by=hit.item.id,
        file=hit.file,
        line=hit.line,
        excerpt=hit.excerpt,
        message=hit.message(hit.item.message) or hit.item.title,
        rule=rule,
    )


def failure_message(result: TestResult) -> str | None:
    """The exception line of a result: its reader's, or found in its text."""
    return result.message or exception_line(result.details) or None


def _failure(
    result: TestResult,
    classification: Classification,
    evidence: list[Evidence],
    known_issue: KnownIssueRef | None = None,
) -> Failure:
    """The failure of one test result, with its text as the report keeps it."""
    return Failure(
        test_id=result.test_id,
        classification=classification,
        known_issue=known_issue,
        evidence=evidence,
        status=result.status,
        details=for_report(result.details),
        message=failure_message(result),
        env=result.env,
        output={name: for_report_output(text) for name, text in result.output.items()},
    )


def _known(result: TestResult, hit: Hit[KnownIssue], rule: str) -> Failure:
    classification = (
        Classification.INFRA if hit.item.category is IssueCategory.INFRA else Classification.KNOWN
    )
    return _failure(result, classification, [_signature_evidence(hit, rule)], hit.item.ref())


def classify_failure(
    result: TestResult,
    signatures: SignatureSet,
    rules: InfraRuleSet,
    log_hits: Sequence[Hit[KnownIssue]],
    ci_infra: InfraFinding | None,
) -> Failure:
    """Classify one failed or interrupted test. Precedence, first that applies (the ids are
    those of docs/classification.md, and each decision's evidence names its rule):

    failure-1. a known-issue signature (in scope for the test) matches its traceback, or a
       captured-output stream the signature names in `files` (stdout, stderr, pythonlogging)
       -> known (or infra, for a known issue of category infra);
    failure-2. an infrastructure rule matches its traceback -> infra;
    failure-3. a signature scoped to this test by `tests` matched a line of the run's logs -> known;
    failure-4. the test was interrupted and the CI reported an infrastructure result -> infra;
    failure-5. otherwise -> new.
    """
    by_text = _by_own_text(result, signatures, rules)
    if by_text is not None:
        return by_text
    log_hit = scoped_log_hit(result.test_id, log_hits)
    if log_hit is not None:
        return _known(result, log_hit, "failure-3")
    if result.status is TestStatus.INTERRUPTED and ci_infra is not None:
        return _failure(result, Classification.INFRA, [_ci_evidence(ci_infra)])
    # The exception line says what went wrong; captured output only when there is no text at all.
    why = failure_message(result) or next(
        (first for t in result.output.values() if (first := exception_line(t))), ""
    )
    return _failure(
        result,
        Classification.NEW,
        [
            Evidence(
                kind="unexplained",
                file="traceback",
                excerpt=why[:500],
                message="no known issue or infrastructure rule matches this failure",
                rule="failure-5",
            )
        ],
    )


def _by_own_text(result: TestResult, signatures: SignatureSet, rules: InfraRuleSet) -> Failure | None:
    """failure-1 and failure-2: what the failure's own text (and captured output) says."""
    text = result.details
    # The exception line is matched as a line of its own too: pytest prints it as `E   Error: ...`
    # in its text, and a signature is written for the exception as the runner reports it.
    message = result.message if result.message and result.message not in text.splitlines() else ""
    for hit in search_failure_text(signatures, f"{message}\n{text}" if message else text, "traceback"):
        if hit.item.applies_to_test(result.test_id):
            return _known(result, hit, "failure-1")
    for stream, captured in sorted(result.output.items()):
        for hit in search_failure_text(signatures.scoped_to(stream), captured, stream):
            if hit.item.applies_to_test(result.test_id):
                return _known(result, hit, "failure-1")
    rule_hits = search_failure_text(rules, text, "traceback")
    if not rule_hits:
        return None
    return _failure(
        result,
        Classification.INFRA,
        [
            Evidence(
                kind="infra_rule",
                matched_by=h.item.id,
                file=h.file,
                line=h.line,
                excerpt=h.excerpt,
                message=f"{h.item.category}: {h.item.description}" if h.item.description else None,
                rule="failure-2",
                category=h.item.category,
                service=service_of(h.groups),
            )
            for h in rule_hits
        ],
    )


def scoped_log_hit(test_id: str, log_hits: Sequence[Hit[KnownIssue]]) -> Hit[KnownIssue] | None:
    """failure-3: a hit in the run's logs of a signature scoped to this test by `tests`."""
    return next((h for h in log_hits if h.item.tests and h.item.applies_to_test(test_id)), None)


def _ci_evidence(ci_infra: InfraFinding) -> Evidence:
    """failure-4's evidence: the CI's infrastructure result."""
    return Evidence(
        kind="ci_result",
        matched_by=ci_infra.rule,
        excerpt=ci_infra.excerpt,
        message="the test never finished and the CI reported an infrastructure result",
        rule="failure-4",
    )


def text_judge(signatures: SignatureSet, rules: InfraRuleSet) -> TextJudge:
    """A judge of failures by their own text (failure-1, failure-2), for the failures a run keeps
    compact; judgements are shared, so a million failures of one cause hold one."""
    shared: dict[tuple[Classification, str, str], TextJudgement] = {}

    def judge(result: TestResult) -> TextJudgement | None:
        failure = _by_own_text(result, signatures, rules)
        if failure is None:
            return None
        first = failure.evidence[0]
        judged = TextJudgement(
            failure.classification, first.matched_by or "", first.rule or "", failure.known_issue
        )
        return shared.setdefault((judged.classification, judged.matched_by, judged.rule), judged)

    return judge


def judge_compact(
    failure: CompactFailure, log_hits: Sequence[Hit[KnownIssue]], ci_infra: InfraFinding | None
) -> TextJudgement:
    """A compact failure's classification by the same precedence as `classify_failure`."""
    if failure.judged is not None:
        return failure.judged
    log_hit = scoped_log_hit(failure.test_id, log_hits)
    if log_hit is not None:
        classification = (
            Classification.INFRA if log_hit.item.category is IssueCategory.INFRA else Classification.KNOWN
        )
        return TextJudgement(classification, log_hit.item.id, "failure-3", log_hit.item.ref())
    if failure.status is TestStatus.INTERRUPTED and ci_infra is not None:
        return TextJudgement(Classification.INFRA, ci_infra.rule, "failure-4")
    return TextJudgement(Classification.NEW, "", "failure-5")


def ci_result_finding(run: RunEvent, rules: InfraRuleSet | None = None) -> InfraFinding | None:
    """An infra finding when the CI's own result word means infrastructure failure.

    The words are the `results` of the infrastructure rules (the built-in pack by default).
    """
    if not run.result:
        return None
    rule = (rules or _builtin_rules()).for_result(run.result)
    if rule is None:
        return None
    word = run.result.upper()
    return InfraFinding(
        rule=f"{run.source}-result-{word}",
        category=rule.category,
        excerpt=f"{run.source} reported the build as {word} ({rule.id}: {rule.description or rule.category})",
    )


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
                evidence=[_signature_evidence(hit, "job-1")],
            )
    if not results_found:
        return None
    why = f"{run.source} reported {run.result} but every test passed"
    evidence = [e.model_copy(update={"rule": "job-2", "message": why}) for e in error_lines] or [
        Evidence(kind="unexplained", excerpt=f"{run.source} reported {run.result}", message=why, rule="job-2")
    ]
    return Failure(test_id=test_id, classification=Classification.NEW, evidence=evidence)


# Groups of unlisted failures a report keeps; the rest are one group per classification.
MAX_GROUPS = 50
_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|[0-9a-fA-F]{8,}|\d+")


def group_unlisted(
    compact: Iterable[CompactFailure], log_hits: Sequence[Hit[KnownIssue]], ci_infra: InfraFinding | None
) -> list[FailureGroup]:
    """The failures kept compact, classified and grouped by classification, cause and exception
    line (numbers and ids made alike): new ones first, then the largest groups."""
    groups: dict[tuple[Classification, str, str], FailureGroup] = {}
    for failure in compact:
        judged = judge_compact(failure, log_hits, ci_infra)
        shape = _NUMBERS.sub("#", failure.message or "")
        group = groups.get((judged.classification, judged.matched_by, shape))
        if group is None:
            group = groups[(judged.classification, judged.matched_by, shape)] = FailureGroup(
                classification=judged.classification,
                count=0,
                message=failure.message,
                known_issue=judged.known_issue,
                matched_by=judged.matched_by or None,
            )
        group.count += 1
        if len(group.examples) < 3:
            group.examples.append(failure.test_id)
    order = {Classification.NEW: 0, Classification.KNOWN: 1, Classification.INFRA: 2}
    ranked = sorted(groups.values(), key=lambda g: (order[g.classification], -g.count))
    kept, rest = ranked[:MAX_GROUPS], ranked[MAX_GROUPS:]
    for classification in order:
        others = [g for g in rest if g.classification is classification]
        if others:
            kept.append(
                FailureGroup(
                    classification=classification,
                    count=sum(g.count for g in others),
                    examples=[g.examples[0] for g in others[:3]],
                )
            )
    return kept


def explain_verdict(
    run: RunEvent,
    results_found: bool,
    failures: Sequence[Failure],
    infra: Sequence[InfraFinding],
    logs_read: bool = True,
    unlisted: Sequence[FailureGroup] = (),
) -> tuple[Verdict, str]:
    """The run's verdict and a sentence saying which rule decided it. Precedence, first that applies:

    verdict-1. any failure classified new -> failed_new (a failure nothing explains is never hidden);
    verdict-2. failures, all classified infra -> infra;
    verdict-3. failures, each known or infra -> failed_known;
    verdict-4. no failure, the logs were read, and the CI passed the build (or did not say, and
       results were read) -> passed; unreadable logs are never a pass;
    verdict-5. no failure, and an infrastructure finding (CI result or log line) -> infra;
    verdict-6. otherwise -> no_results: nothing was read that says what happened.

    `unlisted` are the failures past those listed in full; they count like the listed ones.
    """
    if failures or unlisted:
        new = [f.test_id for f in failures if f.classification is Classification.NEW]
        new += [t for g in unlisted if g.classification is Classification.NEW for t in g.examples[:1]]
        new_count = len(new) + sum(g.count - 1 for g in unlisted if g.classification is Classification.NEW)
        if new:
            more = f" and {new_count - 1} more" if new_count > 1 else ""
            return Verdict.FAILED_NEW, f"verdict-1: {new[0]}{more} failed and nothing known explains it"
        total = len(failures) + sum(g.count for g in unlisted)
        explained: list[Failure | FailureGroup] = [*failures, *unlisted]
        if all(f.classification is Classification.INFRA for f in explained):
            return Verdict.INFRA, f"verdict-2: all {total} failure(s) are infrastructure"
        issues = sorted({f.known_issue.id for f in explained if f.known_issue})
        return Verdict.FAILED_KNOWN, (
            f"verdict-3: every failure is explained by a known issue or the infrastructure"
            f" ({', '.join(issues) or 'infrastructure rules'})"
        )
    passed = ci_says_passed(run)
    if logs_read and (passed or (passed is None and results_found)):
        said = f"{run.source} reported {run.result}" if passed else "the CI did not say, results were read"
        return Verdict.PASSED, f"verdict-4: no test failed and {said}"
    if infra:
        first = infra[0]
        return Verdict.INFRA, (
            f"verdict-5: no test failed; infrastructure: {first.rule} at {_where(first.file, first.line)}"
            f" ({first.excerpt[:200]})"
        )
    reason = "the logs could not be read" if not logs_read else "no test results were found"
    return Verdict.NO_RESULTS, f"verdict-6: no failure could be judged: {reason}"
