"""A failure's text: kept whole enough, cut honestly, matched never at a cut, its exception found."""

import time
from datetime import date

import pytest
from citriage.analyze.classify import classify_failure, search_failure_text
from citriage.analyze.failure_text import (
    MARKER_PREFIX,
    BoundedText,
    cut,
    exception_line,
    for_report,
    matchable_segments,
)
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.known_issues.signatures import SignatureSet
from citriage.models import Classification, KnownIssue, TestResult, TestStatus

RULES = InfraRuleSet(load_builtin_rules())
TODAY = date(2026, 12, 1)


def issue(issue_id: str, pattern: str, **extra) -> KnownIssue:
    return KnownIssue(
        id=issue_id, title=issue_id, bug_url=f"https://bugs/{issue_id}", pattern=pattern, **extra
    )


def failed(text: str, **extra) -> TestResult:
    return TestResult(test_id="t.x", status=TestStatus.FAILED, details=text, **extra)


def long_traceback(frames: int, last: str) -> str:
    body = "".join(
        f'  File "/opt/stack/nova/nova/module_{n}.py", line {n}, in f{n}\n    call_{n}()\n'
        for n in range(frames)
    )
    return "Traceback (most recent call last):\n" + body + last


def test_a_signature_on_the_last_line_of_a_25_kb_traceback_matches_it():
    # Given a 25 KB traceback whose real exception is its last line
    text = long_traceback(350, "nova.exception.VolumeAttachFailed: attaching vol-1 timed out after 300s")
    assert len(text) > 25_000
    sigs = SignatureSet(
        [issue("LP-1", r"^nova\.exception\.VolumeAttachFailed: .* timed out after \d+s$")], TODAY
    )
    # When it is classified
    f = classify_failure(failed(text), sigs, RULES, [], None)
    # Then the signature written for that line explains it, and the message is that line
    assert f.classification is Classification.KNOWN and f.known_issue.id == "LP-1"
    assert f.evidence[0].excerpt.startswith("nova.exception.VolumeAttachFailed: attaching vol-1")
    assert f.message == "nova.exception.VolumeAttachFailed: attaching vol-1 timed out after 300s"


def test_a_nested_quantifier_on_a_long_line_does_not_match_and_returns_quickly():
    # Given a long assertion line that does not end in "a" (it ends in "!"), cut for the report
    line = "AssertionError: " + "a" * 200_000 + "!"
    sigs = SignatureSet([issue("BAD-1", r"(a+)+$")], TODAY)
    started = time.monotonic()
    f = classify_failure(failed(line), sigs, RULES, [], None)
    elapsed = time.monotonic() - started
    # Then the pattern matches nothing (the line ends in "!"), not even at the report's cut
    assert f.classification is Classification.NEW
    assert MARKER_PREFIX in f.details and "cut inside the" in f.details
    assert search_failure_text(sigs, f.details, "traceback") == []
    assert elapsed < 30  # linear time: a backtracking engine would never return


def test_an_anchored_signature_never_matches_at_a_cut():
    # Given a report's text cut in the middle of a long line ("… Error:" would end at the cut)
    text = "setup ok\n" + "x" * 5000 + " Error: " + "y" * 200_000 + "\nfinal line\n"
    kept = cut(text, 5008, 1000)
    assert "cut inside the line above]" in kept
    sigs = SignatureSet(
        [issue("ANCH-1", r"Error:$"), issue("ANCH-2", r"^y+$"), issue("OK-1", r"^final line$")], TODAY
    )
    # Then the fragments on both sides of the cut are never matched, whole lines still are
    assert [h.item.id for h in search_failure_text(sigs, kept, "traceback")] == ["OK-1"]


def test_cuts_fall_at_line_boundaries_and_the_marker_counts_what_was_left_out():
    lines = [f"line {n:05d}" for n in range(20_000)]
    text = "\n".join(lines)
    kept = cut(text, 1000, 3000)
    head, marker_line, tail = (
        kept.partition("\n[citriage: ")[0],
        "[citriage: " + kept.split("[citriage: ")[1].split("\n")[0],
        kept.split("omitted]\n")[1],
    )
    assert head.splitlines()[0] == "line 00000" and all(
        line.startswith("line ") for line in head.splitlines()
    )
    assert tail.splitlines()[-1] == "line 19999" and tail.splitlines()[0].startswith("line ")
    omitted = 20_000 - len(head.splitlines()) - len(tail.splitlines())
    assert marker_line.startswith(f"[citriage: {omitted} lines (")
    assert "cut inside" not in marker_line
    # And text that fits is kept as it is
    assert cut("short\ntext", 10, 10) == "short\ntext"


def test_segments_split_at_markers_with_real_line_numbers():
    text = "a\nb\n" + "[citriage: 10 lines (99 bytes) omitted]" + "\nc\nd"
    assert [(s.first_line, s.text) for s in matchable_segments(text)] == [(1, "a\nb"), (4, "c\nd")]


def test_bounded_text_from_pieces_keeps_head_and_tail_and_counts_the_middle():
    collector = BoundedText(head=100, tail=100)
    for n in range(1000):
        collector.add(f"row {n:04d}\n".encode())
    text = collector.text()
    assert text.startswith("row 0000\n") and text.endswith("row 0999\n")
    [marker_line] = [line for line in text.splitlines() if line.startswith(MARKER_PREFIX)]
    kept = [line for line in text.splitlines() if line.startswith("row ")]
    assert int(marker_line.split()[1]) == 1000 - len(kept)


@pytest.mark.parametrize(
    ("text", "given", "expected"),
    [
        # Python: the exception after the last traceback, chained exceptions included
        (
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\n    g()\nKeyError: 'x'\n\n"
            "During handling of the above exception, another exception occurred:\n\n"
            'Traceback (most recent call last):\n  File "a.py", line 3, in f\n    h()\n'
            "socket.gaierror: [Errno -3] Temporary failure in name resolution",
            None,
            "socket.gaierror: [Errno -3] Temporary failure in name resolution",
        ),
        # JUnit's message attribute wins, its first line
        ("long text", "assert 1 == 2\n +  where 1 = f()", "assert 1 == 2"),
        # unittest-xml-reporting: the traceback in the body says it whole, type included
        (
            'Traceback (most recent call last):\n  File "t.py", line 3, in test_x\n'
            "    self.assertEqual(1, 2)\nAssertionError: 1 != 2",
            "1 != 2",
            "AssertionError: 1 != 2",
        ),
        # Robot Framework: the message is the failure (its type attribute, kept apart, is not prefixed)
        ("", "expected != actual", "expected != actual"),
        # mocha: the stack's first line carries the message with its type
        (
            "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n\n2 !== 3\n"
            "    at Context",
            "Expected values to be strictly equal:\n\n2 !== 3\n",
            "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
        ),
        # JavaScript: the message first, the stack after it
        (
            "Error: expect(received).toBe(expected)\n    at Object.<anonymous> (sum.test.js:4:17)",
            None,
            "Error: expect(received).toBe(expected)",
        ),
        # pytest's long form: the first E line
        (
            "def test_x():\n>       assert f() == 3\nE       assert 2 == 3\nE        +  where 2 = f()\n"
            "\ntests/test_a.py:5: AssertionError",
            None,
            "assert 2 == 3",
        ),
    ],
)
def test_exception_line_the_way_each_ecosystem_writes_it(text, given, expected):
    assert exception_line(text, given) == expected


def test_captured_output_is_searched_only_by_signatures_scoped_to_it():
    # Given a failure whose captured stdout holds a line two signatures describe
    result = failed(
        'Traceback (most recent call last):\n  File "t.py", line 1\nAssertionError: 1 != 2',
        output={"stdout": "connecting\nERROR: database is locked\n"},
    )
    unscoped = issue("ANY-1", r"database is locked")
    scoped = issue("OUT-1", r"database is locked", files=["stdout"])
    # Then an unscoped signature does not explain it from the output
    f = classify_failure(result, SignatureSet([unscoped], TODAY), RULES, [], None)
    assert f.classification is Classification.NEW and f.message == "AssertionError: 1 != 2"
    assert f.evidence[0].excerpt == "AssertionError: 1 != 2"
    # And one scoped to stdout does, with the output line as its evidence
    f = classify_failure(result, SignatureSet([scoped], TODAY), RULES, [], None)
    assert f.classification is Classification.KNOWN
    assert (f.evidence[0].file, f.evidence[0].line) == ("stdout", 2)
    # And the output is kept apart in the report, never in the failure's text
    assert f.output == {"stdout": "connecting\nERROR: database is locked\n"}
    assert "database is locked" not in f.details


def test_for_report_keeps_small_text_as_it_is():
    assert for_report("Traceback\nValueError: x") == "Traceback\nValueError: x"
