"""The block-wise console pass finds what a simple line-by-line pass finds, line for line: on
generated consoles with Zuul's columns and without, hits that cross blocks, CRLF and lone
carriage returns, NUL bytes, bad UTF-8, over-long lines, a head-and-tail marker, error lines
and tempest's results."""

from __future__ import annotations

import io
import random
from datetime import date

import pytest
from citriage.analyze import console_scan
from citriage.analyze.console_scan import _ERROR_LINE, MAX_ERROR_LINES, scan_console_stream
from citriage.analyze.logs.streams import MAX_LINE, iter_lines, next_line_after
from citriage.analyze.matching.compiled import excerpt_of
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.parsers.console import parse_tempest_console, strip_console_prefix
from citriage.known_issues.signatures import SignatureSet
from citriage.models import KnownIssue

NAME = "job-output.txt"
SIGNATURES = SignatureSet(
    [
        KnownIssue(id="S-1", title="t", bug_url="https://b/1", pattern=r"volume \S+ failed to reach in-use"),
        KnownIssue(
            id="S-2", title="t", bug_url="https://b/2", pattern=r"^Traceback \(most recent call last\):$"
        ),
        KnownIssue(id="S-3", title="t", bug_url="https://b/3", pattern=r"code (?P<code>\d+) from placement"),
        KnownIssue(
            id="S-4",
            title="t",
            bug_url="https://b/4",
            pattern=r"kernel: Out of memory\n(?:.*\n){0,3}.*Killed process",
            multiline=True,
        ),
        KnownIssue(id="S-5", title="t", bug_url="https://b/5", pattern=r"\bcontroller\b"),
    ],
    date(2026, 12, 5),
)
# Without a multiline signature the pass skips, unread, the blocks a set over the raw lines
# (each `^` tolerant of Zuul's columns) says cannot hold a hit or an error line.
SINGLE_LINE = SignatureSet(
    [
        *(i for i in SIGNATURES.items if not i.multiline),
        KnownIssue(id="S-6", title="t", bug_url="https://b/6", pattern=r"^kernel: Killed process (\d+)"),
        KnownIssue(id="S-7", title="t", bug_url="https://b/7", pattern=r"(?i)^no space|^\s*something in"),
        KnownIssue(id="S-8", title="t", bug_url="https://b/8", pattern=r"(?:^|\s)got code"),
        KnownIssue(id="S-9", title="t", bug_url="https://b/9", pattern=r"[^x]^?unit failed$"),
    ],
    date(2026, 12, 5),
)
RULES = InfraRuleSet(load_builtin_rules())
BODIES = [
    "DEBUG nova.compute.manager [req-1] took 0.2 seconds",
    "volume v-{n} failed to reach in-use status (current attaching)",
    "Traceback (most recent call last):",
    "got code {n} from placement",
    "kernel: Out of memory",
    "something in between",
    "kernel: Killed process {n} (qemu)",
    "curl: (6) Could not resolve host: mirror.example.org",
    "ERROR nova.api [req-2] boom {n}",
    "fatal: [controller]: FAILED! => {{'msg': 'x'}}",
    "+ ./stack.sh:main:1 stack.sh failed",
    "Error: unit failed",
    "{{0}} tempest.api.compute.test_servers.ServersTest.test_{n} [1.5s] ... ok",
    "{{1}} tempest.api.volume.test_volumes.VolumesTest.test_{n} [2.0s] ... FAILED",
    "{{1}} tempest.api.volume.test_volumes.VolumesTest.test_7 [2.0s] ... FAILED",
    "Failed to start devstack@n-cpu.service",
    "the controller said hello",
    "",
    "No space left on device",
]


# stestr's failure summary, near the end of a tempest run (its lines with Zuul's columns).
SUMMARY = "".join(
    f"2026-12-05 11:00:00.000000 | controller | {line}\n"
    for line in [
        "Failed 1 tests - output below:",
        "==============================",
        "",
        "tempest.api.volume.test_volumes.VolumesTest.test_7",
        "--------------------------------------------------",
        "",
        "Captured traceback:",
        "~~~~~~~~~~~~~~~~~~~",
        "    Traceback (most recent call last):",
        '      File "tempest/api/volume/test_volumes.py", line 7, in test_7',
        "    AssertionError: 1 != 2",
        "",
        "Totals",
    ]
).encode()


def console(seed: int, lines: int) -> bytes:
    """A console of `lines` lines with every oddity a real one may have."""
    rnd = random.Random(seed)
    out = bytearray()
    for n in range(lines):
        body = rnd.choice(BODIES).format(n=n).encode()
        roll = rnd.random()
        if roll < 0.6:
            body = f"2026-12-05 10:{n % 60:02d}:00.{n:06d} | controller | ".encode() + body
        elif roll < 0.65:
            body = b"2026-12-05 10:00:00 | " + body  # the short form: no host column
        if rnd.random() < 0.03:
            body += b"\r"
        if rnd.random() < 0.01:
            body += b"\r\r"
        if rnd.random() < 0.02:
            body = body[:5] + b"\x00" + body[5:]
        if rnd.random() < 0.02:
            body += b" \xff\xfe bad utf-8 \xe2\x82"
        if rnd.random() < 0.01:
            body = b"x" * rnd.choice([MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, 3 * MAX_LINE + 7]) + body
        if n == lines // 2:
            out += b"[citriage: 40 lines (4000 bytes) skipped; the next line is line 90000]\n"
        if n == lines * 4 // 5:
            out += SUMMARY
        out += body + b"\n"
    if rnd.random() < 0.5:
        out += b"last line without a newline\r"
    return bytes(out)


def reference(data: bytes, parse_tests: bool, signatures: SignatureSet = SIGNATURES):
    """The simple pass: every line read, stripped, fed and checked on its own."""
    known, infra = signatures.scanner(NAME), RULES.scanner(NAME)
    errors: list[tuple[int, str]] = []
    texts: list[str] = []
    number = 0
    for line in iter_lines(io.BufferedReader(io.BytesIO(data))):
        number += 1
        jump = next_line_after(line)
        if jump is not None:
            number = jump - 1
            continue
        text = strip_console_prefix(line)
        known.feed(number, text)
        infra.feed(number, text)
        if _ERROR_LINE.search(text):
            errors = [*errors, (number, excerpt_of(text))][-MAX_ERROR_LINES:]
        texts.append(text)
    results = parse_tempest_console(texts, prefixed=False) if parse_tests else []
    return (
        [(h.item.id, h.line, h.excerpt, h.captures) for h in known.hits],
        [(h.item.id, h.line, h.excerpt) for h in infra.hits],
        errors,
        [(r.test_id, r.status, r.details) for r in results],
    )


def block_wise(data: bytes, parse_tests: bool, signatures: SignatureSet = SIGNATURES):
    scan, _ = scan_console_stream(NAME, io.BufferedReader(io.BytesIO(data)), signatures, RULES, parse_tests)
    return (
        [(h.item.id, h.line, h.excerpt, h.captures) for h in scan.known_hits],
        [(f.rule, f.line, f.excerpt) for f in scan.infra],
        [(e.line, e.excerpt) for e in scan.error_lines],
        [(r.test_id, r.status, r.details) for r in scan.results],
    )


@pytest.mark.parametrize("block", [4096, 65_536, console_scan.CONSOLE_BLOCK])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_block_wise_pass_finds_what_the_line_by_line_pass_finds(monkeypatch, block, seed):
    monkeypatch.setattr(console_scan, "CONSOLE_BLOCK", block)
    data = console(seed, 3000)
    for parse_tests in (False, True):
        expected = reference(data, parse_tests)
        assert block_wise(data, parse_tests) == expected
    # The console had something of everything to find
    known, infra, errors, _ = expected
    assert {"S-1", "S-2", "S-3", "S-4", "S-5"} <= {k[0] for k in known} and infra and len(errors) == 3
    with_summary = block_wise(data, True)[3]
    assert any(
        test_id.endswith("test_7") and "AssertionError: 1 != 2" in details
        for test_id, _, details in with_summary
    )


@pytest.mark.parametrize("block", [4096, console_scan.CONSOLE_BLOCK])
@pytest.mark.parametrize("seed", [4, 5])
def test_blocks_skipped_unread_hold_nothing_the_line_by_line_pass_finds(monkeypatch, block, seed):
    monkeypatch.setattr(console_scan, "CONSOLE_BLOCK", block)
    data = console(seed, 3000)
    expected = reference(data, False, SINGLE_LINE)
    assert block_wise(data, False, SINGLE_LINE) == expected
    assert {"S-6", "S-7", "S-8"} <= {k[0] for k in expected[0]}
    # And blocks were skipped: a console of lines that hold nothing costs no decoding
    quiet = b"2026-12-05 10:00:00.000000 | controller | all is well\n" * 20_000
    decoded: list[int] = []
    monkeypatch.setattr(console_scan, "strip_columns", lambda text: decoded.append(len(text)) or text)
    # (S-5 names the host column's word: it matches every raw line, so it is left out here)
    block_wise(quiet, False, SignatureSet([i for i in SINGLE_LINE.items if i.id != "S-5"], date(2026, 12, 5)))
    assert decoded == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"\r\n\r\n",
        b"no newline at all",
        b"x" * (3 * MAX_LINE) + b"\n",
        b"x" * (2 * MAX_LINE + 5),
        b"[citriage: 1 line (10 bytes) skipped; the next line is line 7]\n",
        b"ERROR first\n[citriage: 1 line (10 bytes) skipped; the next line is line 7]\nERROR after\n",
        "2026-12-05 10:00:00.000000 | controller | ERROR ünïcödé\n".encode(),
    ],
)
def test_edge_consoles_are_read_the_same_way(data):
    assert block_wise(data, True) == reference(data, True)


@pytest.mark.parametrize(
    ("pattern", "line"),
    [
        (r"^foo", "2026-12-05 10:00:00.000000 | controller | foo bar"),
        (r"xyz|^foo", "2026-12-05 10:00:00 | foo"),
        (r"(?i)^FOO$", "2026-12-05 10:00:00.1 | host | foo"),
        (r"[^x]^?y", "2026-12-05 10:00:00.000000 | controller | zy"),
        (r"[[:alpha:]^]oo", "2026-12-05 10:00:00.000000 | controller | foo"),
    ],
)
def test_a_tolerant_pattern_matches_the_line_with_its_columns(pattern, line):
    import re2
    from citriage.analyze.console_scan import tolerant
    from citriage.analyze.matching.compiled import compile_pattern

    # The pattern matches the line without Zuul's columns; its tolerant form, the line with them
    assert compile_pattern(pattern).search(strip_console_prefix(line).encode())
    assert re2.compile("(?m)" + tolerant(pattern)).search(line.encode())


def test_quoted_text_is_not_rewritten():
    from citriage.analyze.console_scan import tolerant

    assert tolerant(r"\Q^x\E") is None
    assert tolerant(r"^+x") is None
