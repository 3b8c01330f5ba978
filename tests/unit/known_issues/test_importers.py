"""Importing the signatures sites already have: elastic-recheck's queries and a Build Failure
Analyzer export (fixtures written from their public formats), with counts of what was translated
and each untranslatable entry's reason; the translated patterns match the lines they meant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from citriage.analyze.matching.compiled import compile_pattern
from citriage.known_issues.importers import from_bfa, from_elastic_recheck

from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"


def matches(pattern: str, line: str, multiline: bool = False) -> bool:
    return compile_pattern(pattern, multiline=multiline).search(line.encode()) is not None


def test_elastic_recheck_queries_translate_or_say_why_not():
    result = from_elastic_recheck(FIXTURES / "elastic-recheck" / "queries")
    assert (len(result.translated), len(result.untranslated)) == (4, 4)
    by_id = {issue.id: issue for issue in result.translated}
    iscsi = by_id["LP-1226337"]
    assert iscsi.bug_url == "https://bugs.launchpad.net/bugs/1226337" and iscsi.files == [
        "*screen-n-cpu.txt*"
    ]
    assert matches(
        iscsi.pattern,
        "2026-12-05 10:00:01 ERROR nova.compute NovaException: iSCSI device not found at /dev/sdb",
    )
    assert not matches(iscsi.pattern, "iSCSI device found at /dev/sdb")
    # OR of phrases, a file and a job scope
    ssh = by_id["LP-1284051"]
    assert ssh.jobs == ["tempest-full-py3"] and ssh.files == ["*job-output.txt*"]
    assert matches(ssh.pattern, "ssh: connect to host 10.0.0.5 port 22: No route to host")
    assert matches(ssh.pattern, "Connection timed out during banner exchange")
    # AND of two phrases on one line, in either order
    volume = by_id["LP-1330214"]
    assert matches(volume.pattern, "Volume 3f2c failed to reach available status (current error)")
    assert not matches(volume.pattern, "Volume 3f2c reached available status")
    reasons = {entry.source: entry.reason for entry in result.untranslated}
    assert reasons == {
        "1367907.yaml": "NOT cannot be expressed in one RE2 pattern",
        "1398542.yaml": "build_queue: citriage has no scope for it, so the signature would be broader",
        "1417092.yaml": "the term 'Timeout*' uses Lucene wildcards, fuzziness or ranges",
        "1501234.yaml": "no `query` string",
    }


def test_a_bfa_export_translates_java_patterns_to_re2_or_says_why_not():
    result = from_bfa((FIXTURES / "bfa" / "causes.json").read_text())
    assert (len(result.translated), len(result.untranslated)) == (4, 4)
    by_id = {issue.id: issue for issue in result.translated}
    maven = by_id["bfa-maven-repository-unreachable"]
    assert maven.bug_url == "https://issues.example.org/browse/INFRA-2211" and maven.category.value == "infra"
    line = (
        "[ERROR] Could not transfer artifact org.x:y:jar:1.0 from/to central (https://repo.example.org/m2):"
        " Connection timed out"
    )
    assert matches(maven.pattern, line) and not matches(maven.pattern, "[INFO] Could not transfer artifact x")
    # A multi-line indication stays multi-line
    oom = by_id["bfa-out-of-memory-in-the-test-jvm"]
    assert oom.multiline and matches(
        oom.pattern, "java.lang.OutOfMemoryError: Java heap space\n    at org.example.Cache.put", True
    )
    assert (
        by_id["bfa-disk-full"].pattern == "^(?:.*No space left on device.*)$"
    )  # the REST API's @class shape
    reasons = {entry.source: entry.reason for entry in result.untranslated}
    assert reasons["Agent went offline (indication 1)"] == "its pattern uses lookaround, which RE2 cannot run"
    assert reasons["Flaky checksum"] == "its pattern uses a backreference, which RE2 cannot run"
    assert "matches an empty line" in reasons["Anything at all"]
    assert reasons["No indications yet"] == "no indications"
    assert "bfa-agent-went-offline-2" in by_id  # its other indication was translated


def test_the_cli_imports_into_a_file_and_lists_what_it_could_not(tmp_path: Path):
    out = tmp_path / "known-issues.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "citriage.cli.main", "known-issues", "import", "--from", "elastic-recheck",
         str(FIXTURES / "elastic-recheck" / "queries"), "--file", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "translated 4, untranslatable 4" in done.stdout
    assert "untranslatable 1367907.yaml: NOT cannot be expressed in one RE2 pattern" in done.stdout
    assert sorted(i["id"] for i in yaml.safe_load(out.read_text())) == [
        "LP-1226337",
        "LP-1253896",
        "LP-1284051",
        "LP-1330214",
    ]
