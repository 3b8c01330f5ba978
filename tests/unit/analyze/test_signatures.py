"""The signature engine: one RE2 Set per block, linear time, bounded work, cached compilation."""

import io
import re
from datetime import date

import pytest
from citriage.analyze.matching import compiled, engine
from citriage.analyze.matching.compiled import compile_pattern, matcher_cache_info
from citriage.analyze.matching.engine import MULTILINE_WINDOW
from citriage.analyze.matching.infra_rules import (
    InfraRuleSet,
    load_builtin_rules,
    load_site_rules,
    merge_rules,
    parse_rules_yaml,
)
from citriage.analyze.service import Analyzer
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import InvalidSignature
from citriage.known_issues.signatures import SignatureSet, check_signature
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.models import InfraRule, KnownIssue, RunEvent, RunReport, TestCounts, Verdict
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.fakes import FakeList

TODAY = date(2026, 11, 21)


def issue(issue_id: str, pattern: str, **extra) -> KnownIssue:
    return KnownIssue(
        id=issue_id, title=f"title {issue_id}", bug_url=f"https://b/{issue_id}", pattern=pattern, **extra
    )


def scan(sigs, lines, file="job-output.txt"):
    scanner = sigs.scanner(file)
    for number, line in enumerate(lines, 1):
        scanner.feed(number, line)
    return [(h.item.id, h.line) for h in scanner.hits]


# --- linear time, refusals -------------------------------------------------------------


def test_catastrophic_pattern_returns_on_a_long_line():
    # Given the classic catastrophic-backtracking pattern and a 50,000-character line of a's
    sigs = SignatureSet([issue("EVIL", r"(a+)+$")], TODAY)
    line = "a" * 50_000
    # When it is searched in a traceback and in a log (a backtracking engine would not return)
    text_hits = sigs.search_text(line + "\n" + line + "b")
    log_hits = scan(sigs, [line + "b", line])
    # Then both return, and the match is where the line ends in a's
    assert [h.line for h in text_hits] == [1]
    assert log_hits == [("EVIL", 2)]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "invalid escape sequence"),
        (r"foo(?=bar)", "invalid perl operator"),
        (r"(unclosed", "missing )"),
        (r"a{2,1}", "invalid repetition size"),
    ],
)
def test_invalid_or_unsupported_regex_is_refused_with_a_clear_message(pattern, reason):
    with pytest.raises(InvalidSignature) as caught:
        compile_pattern(pattern)
    message = str(caught.value)
    assert "is not valid RE2" in message and repr(pattern) in message and reason in message


@pytest.mark.parametrize("pattern", [r"\Aboom", r"boom\z", r"(?-m)^boom", r"(?i-m)^boom"])
def test_anchors_at_a_block_of_lines_are_refused(pattern):
    # They would match or not depending on where a block of the log began
    with pytest.raises(InvalidSignature, match="anchors at the start or end of a block of log lines"):
        compile_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"[-Az]boom", r"\\Aboom", r"^boom$", r"(?i)^boom"])
def test_the_same_letters_as_text_or_line_anchors_are_fine(pattern):
    assert compile_pattern(pattern) is not None


@pytest.mark.parametrize("pattern", ["x*", "^$", r"(?:ERROR)?\s*"])
def test_pattern_matching_an_empty_line_is_refused(pattern):
    with pytest.raises(InvalidSignature, match="matches an empty line, so it would match every line"):
        compile_pattern(pattern)


def test_yaml_import_refuses_an_invalid_signature_naming_it():
    text = "- id: BAD-1\n  title: t\n  bug_url: https://b/1\n  pattern: 'x(?<=y)'\n"
    with pytest.raises(InvalidSignature, match=r"signature 'BAD-1': pattern 'x\(\?<=y\)' is not valid RE2"):
        load_known_issues_yaml(text)


def test_message_naming_a_missing_group_is_refused():
    with pytest.raises(InvalidSignature, match=r"uses \{volume\} but the pattern has no such capture group"):
        check_signature(issue("M-1", r"volume (\S+) stuck", message="volume {volume}"))
    check_signature(issue("M-2", r"volume (?P<volume>\S+) stuck", message="volume {volume} ({1})"))


# --- matching semantics ------------------------------------------------------------------


def test_engine_agrees_with_a_per_line_search_across_block_boundaries(monkeypatch):
    # Given small blocks (so lines cross many block boundaries) and a few patterns
    monkeypatch.setattr(engine, "BLOCK_BYTES", 300)
    patterns = {
        "A": r"ERROR \w+\.manager",
        "B": r"^Traceback",
        "C": r"took \d{2,}\.\d+ seconds$",
        "D": r"(?i)timeout",
        "E": r"never matches anything here",
    }
    sigs = SignatureSet([issue(k, p) for k, p in patterns.items()], TODAY)
    sigs_scanner = sigs.scanner("f")
    sigs_scanner.max_hits_per_item = 10_000
    lines = []
    for n in range(2000):
        lines.append(
            [
                f"INFO nova.compute took {n % 97}.5 seconds",
                f"ERROR nova.manager failed {n}",
                "Traceback (most recent call last):",
                f"  raise TimeOut({n})",
                f"x Traceback {n}",
            ][n % 5]
        )
    for number, line in enumerate(lines, 1):
        sigs_scanner.feed(number, line)
    got = sorted((h.item.id, h.line) for h in sigs_scanner.hits)
    # Then the hits are exactly those of Python's re, line by line
    expected = sorted(
        (k, number) for number, line in enumerate(lines, 1) for k, p in patterns.items() if re.search(p, line)
    )
    assert got == expected and len(got) > 1500


def test_single_line_signature_never_spans_lines():
    # Given `\s` and a negated class, which could match a newline in a joined block
    sigs = SignatureSet([issue("S", r"Killed\s+timeout"), issue("N", r"a[^x]b")], TODAY)
    assert scan(sigs, ["Killed", "timeout -s 9", "a", "b"]) == []
    assert scan(sigs, ["x", "Killed  timeout -s 9", "ayb"]) == [("S", 2), ("N", 3)]


def test_hits_per_signature_per_file_are_bounded():
    sigs = SignatureSet([issue("NOISY", "ERROR")], TODAY)
    assert scan(sigs, ["ERROR"] * 10_000) == [("NOISY", 1), ("NOISY", 2), ("NOISY", 3)]


def test_multiline_signature_matches_within_the_window_and_across_blocks(monkeypatch):
    monkeypatch.setattr(engine, "BLOCK_BYTES", 64)
    ml = issue("ML", r"Traceback[^\n]*\n(?:[^\n]*\n)*?[^\n]*ZeroDivisionError", multiline=True)
    sigs = SignatureSet([ml], TODAY)
    near = ["ok"] * 30 + ["Traceback (most recent call last):"] + [f"  frame {i}" for i in range(8)]
    near += ["ZeroDivisionError: division by zero"] + ["ok"] * 30
    # Then a match spanning 10 lines is found at its first line, though it crosses blocks
    assert scan(sigs, near) == [("ML", 31)]
    # And one spanning more than two windows is not
    far = ["Traceback (most recent call last):"] + ["  frame"] * (2 * MULTILINE_WINDOW + 5)
    far += ["ZeroDivisionError: division by zero"]
    assert scan(sigs, far) == []


def test_capture_groups_are_returned_with_the_hit():
    sigs = SignatureSet(
        [issue("C", r"volume (?P<vol>\S+) failed after (\d+)s", message="{vol}: {2}s")], TODAY
    )
    hit = sigs.search_text("Traceback\nvolume v-1 failed after 300s\n")[0]
    assert hit.line == 2 and hit.groups == {"1": "v-1", "2": "300", "vol": "v-1"}
    assert hit.message(hit.item.message) == "v-1: 300s"


def test_file_and_job_scopes_filter_the_shared_matcher():
    sigs = SignatureSet(
        [
            issue("F", "boom", files=["*/n-cpu.txt"]),
            issue("J", "boom", jobs=["grenade-*"]),
            issue("ALL", "boom"),
        ],
        TODAY,
    )
    assert scan(sigs.for_job("tempest-full"), ["boom"], file="controller/logs/n-cpu.txt") == [
        ("ALL", 1),
        ("F", 1),
    ]
    assert scan(sigs.for_job("grenade-py3"), ["boom"], file="job-output.txt") == [("ALL", 1), ("J", 1)]


def test_scan_stream_reads_bytes_blocks_like_fed_lines(monkeypatch):
    monkeypatch.setattr(engine, "BLOCK_BYTES", 50)
    sigs = SignatureSet([issue("A", r"^needle \d+$")], TODAY)
    data = "".join(f"hay {i}\r\n" if i != 37 else "needle 37\r\n" for i in range(100)).encode()
    scanner = sigs.scanner("f")
    scanner.scan_stream(io.BytesIO(data))
    assert [(h.line, h.excerpt) for h in scanner.hits] == [(38, "needle 37")]


def test_scan_stream_cuts_an_endless_line_without_losing_bytes(monkeypatch):
    monkeypatch.setattr(engine, "BLOCK_BYTES", 16)
    sigs = SignatureSet([issue("END", r"zz$")], TODAY)
    scanner = sigs.scanner("f")
    scanner.scan_stream(io.BytesIO(b"a" * 100 + b"zz"))
    assert scanner.bytes_scanned == 102 and [h.item.id for h in scanner.hits] == ["END"]


def test_compiled_matcher_is_cached_and_rebuilt_when_signatures_change():
    # Given a signature list compiled once
    first = [issue("K-1", r"cache test alpha \d+"), issue("K-2", "cache test beta")]
    SignatureSet(first, TODAY)
    count, keys = matcher_cache_info()
    # When the same patterns come again (titles may differ, the order may differ)
    again = [first[1].model_copy(update={"title": "renamed"}), first[0]]
    SignatureSet(again, TODAY)
    # Then the cache holds the same matcher (no new entry) ...
    assert matcher_cache_info() == (count, keys)
    # ... and a changed pattern gives a new one, which finds what the new pattern says
    changed = SignatureSet([issue("K-1", r"cache test gamma"), first[1]], TODAY)
    assert matcher_cache_info()[1][-1] not in keys
    assert [h.item.id for h in changed.search_text("cache test gamma")] == ["K-1"]


def test_matcher_cache_is_bounded_by_the_memory_re2_may_use(monkeypatch):
    # Given a cache with room for what RE2 may use for three small matchers
    monkeypatch.setattr(
        compiled, "MATCHER_CACHE_BYTES", 3 * (compiled.SET_MIN_MEM + compiled.SET_MEM_PER_PATTERN)
    )
    # When ten signature lists (ten edits of one signature) are compiled in turn
    for edit in range(10):
        SignatureSet([issue("B-1", rf"bounded cache edit {edit} x")], TODAY)
        # Then what it keeps never passes the bound, and the newest is always there
        assert compiled.matcher_cache_bytes() <= compiled.MATCHER_CACHE_BYTES
        assert matcher_cache_info()[1][-1] == compiled.fingerprint([(rf"bounded cache edit {edit} x", False)])
    assert matcher_cache_info()[0] == 3
    # And a big list's Sets may use more than a small one's, up to the cap
    small = compiled.matcher_for([("small one", False)])
    big = compiled.matcher_for([(f"big list {n} [a-z]+", False) for n in range(5000)])
    assert small.max_mem == compiled.SET_MIN_MEM + compiled.SET_MEM_PER_PATTERN
    assert big.max_mem == compiled.SET_MAX_MEM
    assert matcher_cache_info()[1][-1] == compiled.fingerprint(
        [(f"big list {n} [a-z]+", False) for n in range(5000)]
    )


def test_set_too_big_for_its_memory_is_split_into_shards(monkeypatch):
    # Given so little memory for a Set that 2,000 patterns do not fit in one
    monkeypatch.setattr(compiled, "SET_MAX_MEM", 1 << 20)
    sigs = SignatureSet(
        [issue(f"SH-{i:03d}", rf"shard test {i} failed with [a-z]+ \d+") for i in range(2000)], TODAY
    )
    assert len(sigs._matcher.single) > 1
    # Then every pattern still matches
    lines = [f"shard test {i} failed with code {i}" for i in range(2000)]
    assert len(scan(sigs, lines)) == 2000


# --- infrastructure rules ------------------------------------------------------------------

RULE_EXAMPLES = {
    "ci-result-TIMED_OUT": "2026-11-20 10:00:00.000000 | RUN END RESULT_TIMED_OUT: [untrusted : x/run.yaml]",
    "ci-zuul-unreachable": "RUN END RESULT_UNREACHABLE: [trusted : base/pre.yaml]",
    "ci-result-ABORTED": "Finished: ABORTED",
    "ci-jenkins-agent-offline": "Agent went offline during the build",
    "ci-jenkins-agent-lost": "hudson.remoting.RequestAbortedException: java.io.IOException: closed",
    "ci-openqa-backend-died": "Reason: backend died: QEMU exited unexpectedly",
    "ci-openqa-cache-failure": "Reason: cache failure: Failed to download SLE-15.iso",
    "ci-openqa-api-failure": "Reason: api failure: 502 response: Proxy Error",
    "ci-openqa-worker-died": "Reason: worker died",
    "dns-temporary-failure": "socket.gaierror: [Errno -3] Temporary failure in name resolution",
    "dns-could-not-resolve-host": "curl: (6) Could not resolve host: opendev.org",
    "network-connection-timed-out": "ssh: connect to host 10.0.0.5 port 22: Connection timed out",
    "network-unreachable": "connect: Network is unreachable",
    "git-remote-hung-up": "fatal: The remote end hung up unexpectedly",
    "mirror-metadata-download": "Error: Failed to download metadata for repo 'appstream'",
    "mirror-hash-sum-mismatch": "E: Failed to fetch http://mirror/ubuntu/x.deb  Hash Sum mismatch",
    "mirror-no-more-mirrors": "Error: No more mirrors to try - All mirrors were already tried",
    "mirror-all-mirrors-tried": "Error: All mirrors were tried",
    "mirror-apt-fetch-5xx": "E: Failed to fetch http://mirror.x/ubuntu/pool/a.deb  503  Service Unavailable",
    "mirror-http-5xx": "GET https://mirror.dfw.rax.opendev.org/pypi/simple/foo/ 502 Bad Gateway",
    "disk-no-space": "OSError: [Errno 28] No space left on device",
    "memory-oom-killer": "kernel: qemu-kvm invoked oom-killer: gfp_mask=0x100cca",
    "memory-cannot-allocate": "fork: Cannot allocate memory",
    "timeout-killed-9": "Killed                  timeout -s 9 ${TIMEOUT} bash",
    "timeout-status-137": "ERROR: tempest FAILED with status: 137",
}


def test_builtin_rules_have_the_categories_of_the_pack():
    rules = load_builtin_rules()
    assert {r.category for r in rules} == {"ci", "network", "mirror", "disk", "memory", "timeout"}
    words = {w for r in rules for w in r.results}
    assert {"NODE_FAILURE", "RETRY_LIMIT", "POST_FAILURE", "TIMED_OUT", "DISK_FULL", "ABORTED"} <= words


@pytest.mark.parametrize(("rule_id", "line"), sorted(RULE_EXAMPLES.items()))
def test_builtin_rule_recognises_its_example_line(rule_id, line):
    rules = InfraRuleSet(load_builtin_rules())
    assert rule_id in {h.item.id for h in rules.search_text(line)}


def test_builtin_rules_stay_quiet_on_ordinary_lines():
    rules = InfraRuleSet(load_builtin_rules())
    ordinary = [
        "{0} tempest.api.compute.servers.test_servers.ServersTest.test_list [1.2s] ... ok",
        "DEBUG nova.compute.manager [None req-1] Instance spawned successfully",
        "Finished: SUCCESS",
        "INFO openqa: job finished, result passed",
        "changed: [controller]",
    ]
    assert [h.item.id for line in ordinary for h in rules.search_text(line)] == []


def test_site_rules_override_disable_and_extend_by_id():
    site = parse_rules_yaml(
        "- id: disk-no-space\n  category: disk\n  pattern: 'ENOSPC'\n"
        "- id: memory-oom-killer\n  category: memory\n  enabled: false\n"
        "- id: site-proxy-down\n  category: network\n  pattern: 'squid: connection refused'\n",
        "site.yaml",
    )
    rules = InfraRuleSet(merge_rules(load_builtin_rules(), site))
    assert [h.item.id for h in rules.search_text("write failed: ENOSPC")] == ["disk-no-space"]
    assert rules.search_text("No space left on device") == []
    assert rules.search_text("invoked oom-killer") == []
    assert [h.item.id for h in rules.search_text("squid: connection refused")] == ["site-proxy-down"]


def test_site_rules_from_a_directory_apply_in_file_name_order(tmp_path):
    (tmp_path / "10-base.yaml").write_text("- id: s1\n  category: ci\n  pattern: 'first'\n", "utf-8")
    (tmp_path / "20-later.yml").write_text("- id: s1\n  category: ci\n  pattern: 'second'\n", "utf-8")
    (tmp_path / "notes.txt").write_text("not rules", "utf-8")
    rules = InfraRuleSet(merge_rules(load_builtin_rules(), load_site_rules(str(tmp_path))))
    assert rules.search_text("first") == [] and [h.item.id for h in rules.search_text("second")] == ["s1"]
    with pytest.raises(InvalidSignature, match="no such file or directory"):
        load_site_rules(str(tmp_path / "missing"))


def test_site_rule_with_an_invalid_pattern_is_refused():
    with pytest.raises(InvalidSignature, match=r"site.yaml: rule 'x': pattern '\(' is not valid RE2"):
        parse_rules_yaml("- id: x\n  category: ci\n  pattern: '('\n", "site.yaml")


def test_a_rule_needs_a_pattern_or_results():
    with pytest.raises(ValueError, match="needs a pattern, results, or both"):
        InfraRule(id="empty", category="ci")


class _GivingUpSet:
    """Stands in for an RE2 Set whose automaton ran out of memory: RE2 then answers nothing."""

    def Match(self, data):  # RE2's method name
        return None


def test_when_re2_gives_up_on_a_block_signatures_are_located_one_by_one():
    # Given a compiled set whose combined automaton fails on every block
    sigs = SignatureSet([issue("GU-1", r"giving up test \d+"), issue("GU-2", "never here")], TODAY)
    for shard in sigs._matcher.single:
        shard._set = _GivingUpSet()
    try:
        # When a log is scanned
        scanner = sigs.scanner("job-output.txt")
        for number, line in enumerate(["a", "giving up test 7", "b"], 1):
            scanner.feed(number, line)
        # Then the hit is still found, and the scanner says how it was found
        assert [(h.item.id, h.line) for h in scanner.hits] == [("GU-1", 2)]
        assert any("ran out of memory" in note for note in scanner.notes)
    finally:
        compiled._MATCHERS.clear()  # the doctored matcher must not serve other tests


_SET_PATTERNS = [
    (r"No space left on device", False),
    (r"^ERROR\b", False),
    (r"(?i)timed? ?out after \d+ s", False),
    (r"Traceback \(most recent call last\):\n.*\n", True),
    (r"x$", False),
]


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(alphabet="ERO \n\r\x00xNo space left on device", max_size=300).map(str.encode)
)
def test_the_set_always_answers_and_agrees_with_each_pattern_alone(data):
    # Given a real compiled matcher (its Sets carry the `\A` sentinel that tells an answer from
    # RE2 giving up)
    matcher = compiled.Matcher(_SET_PATTERNS)
    for multiline in (False, True):
        # When any text is matched: the Set answers (the sentinel is always there, even on an
        # empty text, a text that starts with a newline, NUL bytes or bad UTF-8)
        found, complete = matcher.which(data, multiline)
        assert complete
        # And it names exactly the patterns that match alone
        alone = {
            index
            for index, (pattern, is_multi) in enumerate(_SET_PATTERNS)
            if is_multi == multiline and compile_pattern(pattern, is_multi).search(data)
        }
        assert found == alone


def test_analyze_service_reuses_the_compiled_matcher_across_runs():
    # Given an analyzer whose signatures do not change between runs
    known = FakeList([issue("AS-1", "analyzer cache test"), issue("AS-2", r"analyzer cache \d+")])
    service = Analyzer(
        known,
        InfraRuleSet(load_builtin_rules()),
        FetchSettings(log_hosts=["logs.example.org"]),
        LayoutSettings(),
        None,
    )
    # When it analyses two runs (their log URLs are refused: no network in unit tests)
    for build in ("c1", "c2"):
        service.analyze(
            RunEvent(source="zuul", job="j", build_id=build, log_url="https://elsewhere.example/x/")
        )
        if build == "c1":
            after_first = matcher_cache_info()
    # Then the second run compiled nothing new
    assert matcher_cache_info() == after_first
    # And a changed signature list is compiled afresh
    known.items = [issue("AS-1", "analyzer cache test changed")]
    service.analyze(RunEvent(source="zuul", job="j", build_id="c3", log_url="https://elsewhere.example/x/"))
    assert matcher_cache_info()[1][-1] not in after_first[1]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"\b", "can match an empty string"),
        (r"foo|", "matches an empty line"),
        (r"(?:failed)?", "matches an empty line"),
        (".", "matches 32 of 32 ordinary log lines"),
        (r"\d", "ordinary log lines"),
        (r"(?i)e", "ordinary log lines"),
    ],
)
def test_patterns_that_would_match_everything_are_refused_with_the_reason(pattern, reason):
    with pytest.raises(InvalidSignature, match=re.escape(reason)):
        check_signature(issue("BROAD-1", pattern))


def test_specific_patterns_are_accepted():
    for pattern in (
        r"Timed out waiting for a reply to message ID",
        r"No space left on device",
        r"(?i)\berror 42\b",
    ):
        check_signature(issue("OK-1", pattern))


def test_two_deliveries_of_one_run_analyse_it_once_and_count_its_hits_once():
    from citriage.analyze.service import AnalyzeService
    from citriage.errors import AnalysisInProgress

    from tests.unit.fakes import FakeDedupe, FakePublisher, FakeReports

    class CountingAnalyzer:
        def __init__(self) -> None:
            self.calls = 0

        def analyze(self, run, deadline=None):
            self.calls += 1
            return RunReport(run=run, verdict=Verdict.FAILED_KNOWN, tests=TestCounts(total=1, failed=1))

    class Hits:
        def __init__(self) -> None:
            self.counted = 0

        def record_hits(self, report):
            self.counted += 1
            return {}

    class History:
        def record(self, report):
            return None

    analyzer, hits, dedupe, reports = CountingAnalyzer(), Hits(), FakeDedupe(), FakeReports()
    service = AnalyzeService(analyzer, reports, FakePublisher(), History(), hits, dedupe)  # type: ignore[arg-type]
    run = RunEvent(source="zuul", job="j", build_id="dup1", log_url="https://logs.example.org/x/")
    # Given a worker holding the run's analysis lease (it is analysing it right now)
    assert dedupe.claim("analysis#zuul:dup1", 600)
    # When a second delivery of the run arrives, it is sent back to come again later
    with pytest.raises(AnalysisInProgress):
        service.handle(run)
    assert analyzer.calls == 0
    # And once the lease is free, one analysis happens, and a third delivery finds its report
    dedupe.release("analysis#zuul:dup1")
    service.handle(run)
    service.handle(run)
    assert analyzer.calls == 1 and hits.counted == 1


def test_a_reanalysis_replaces_the_report_once_and_does_not_count_hits_again():
    from citriage.analyze.service import AnalyzeService

    from tests.unit.fakes import FakeDedupe, FakePublisher, FakeReports

    class Analyzer:
        def __init__(self) -> None:
            self.verdicts = [Verdict.FAILED_NEW, Verdict.FAILED_KNOWN]

        def analyze(self, run, deadline=None):
            return RunReport(run=run, verdict=self.verdicts.pop(0), tests=TestCounts(total=1, failed=1))

    class Hits:
        counted = 0

        def record_hits(self, report):
            Hits.counted += 1
            return {}

    recorded: list[Verdict] = []

    class History:
        def record(self, report):
            recorded.append(report.verdict)

    reports, publisher = FakeReports(), FakePublisher()
    service = AnalyzeService(Analyzer(), reports, publisher, History(), Hits(), FakeDedupe())  # type: ignore[arg-type]
    run = RunEvent(source="zuul", job="j", build_id="re1", log_url="https://logs.example.org/x/")
    # Given a run analysed once (failed_new)
    service.handle(run)
    # When it is reanalysed (a signature was added since), and that message is redelivered
    again = run.model_copy(update={"reanalysis": "r1"})
    assert service.handle(again).verdict is Verdict.FAILED_KNOWN
    assert service.handle(again).verdict is Verdict.FAILED_KNOWN
    # Then the stored report is the new one, history and the event follow it, and the second
    # delivery did not analyse again (the analyzer has no third verdict) nor count hits again
    assert reports.get_report(run.run_id).verdict is Verdict.FAILED_KNOWN
    assert recorded == [Verdict.FAILED_NEW, Verdict.FAILED_KNOWN, Verdict.FAILED_KNOWN]
    assert Hits.counted == 1
    # And a plain redelivery of the first message keeps the reanalysed report
    assert service.handle(run).verdict is Verdict.FAILED_KNOWN


def test_multiline_matches_a_few_lines_apart_are_all_found_whatever_the_blocks():
    # Given a multiline signature that matches at lines 3 and 9 (within one matching window)
    oom = issue("OOM", r"Out of memory\n(?:.*\n){0,3}.*Killed process", multiline=True)
    sigs = SignatureSet([oom], TODAY)
    lines = [
        "boot",
        "x",
        "Out of memory",
        "a",
        "Killed process 1",
        "y",
        "z",
        "w",
        "Out of memory",
        "Killed process 2",
    ]
    # When the lines are scanned as one block, and fed one by one
    scanner = sigs.scanner("job-output.txt")
    scanner.feed_block("\n".join(lines).encode(), 1)
    # Then both are found, the same either way
    assert [h.line for h in scanner.hits] == [3, 9]
    assert scan(sigs, lines) == [("OOM", 3), ("OOM", 9)]


@pytest.mark.parametrize(
    ("line", "rule", "service"),
    [
        (
            "ConnectionError: HTTPSConnectionPool(host='mirror.regionone.example.org', port=443): "
            "Max retries exceeded (Caused by NameResolutionError: [Errno -3] Temporary failure in "
            "name resolution)",
            "dns-temporary-failure",
            "mirror.regionone.example.org",
        ),
        (
            "curl: (6) Could not resolve host: Mirror.DFW.example.org",
            "dns-could-not-resolve-host",
            "mirror.dfw.example.org",
        ),
        ("fatal: Could not resolve host", "dns-could-not-resolve-host", None),
        (
            "Error: Failed to download metadata for repo 'appstream': Cannot",
            "mirror-metadata-download",
            "appstream",
        ),
        (
            "E: Failed to fetch http://mirror.ord.example.org/ubuntu/dists/noble/InRelease  503  "
            "Service Unavailable",
            "mirror-apt-fetch-5xx",
            "mirror.ord.example.org",
        ),
    ],
)
def test_an_infra_finding_names_the_service_its_rule_captures(line, rule, service):
    # Given the built-in rules and a log line naming (or not) what broke
    from citriage.analyze.console_scan import scan_console_stream

    rules = InfraRuleSet(load_builtin_rules())
    # When a console holding it is scanned
    found, _ = scan_console_stream(
        "job-output.txt",
        io.BytesIO(f"2026-11-20 10:00:00.000000 | node | {line}\n".encode()),
        SignatureSet([], TODAY),
        rules,
        parse_tests=False,
    )
    # Then the finding names the service (lower-cased), or none when the line names none
    assert [(f.rule, f.service) for f in found.infra if f.rule == rule] == [(rule, service)]
