"""Result files written at test time by the real runners, read by `citriage analyze`, compared
with each runner's own record of its run: counts, failing ids (per environment), each
failure's exception line, and whether a known issue explains it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from citriage.cli.main import main

from tests.conformance.runners import WRITERS, Written, available

# `make conformance` requires the runners (CONFORMANCE_REQUIRED=1): a missing one fails there.
_MISSING = available()
pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(
        _MISSING is not None and not os.environ.get("CONFORMANCE_REQUIRED"), reason=str(_MISSING)
    ),
]

# Signatures for a few of the cases, each written for the real exception line of its test.
SIGNATURES = {
    "CONF-1": r"^ConnectionRefusedError: the metadata service at [\d.]+ refused the connection$",
    "CONF-2": r"timed out after \d+ seconds$",
    "CONF-3": r"payment gateway refused the charge: code \d+",
}


@pytest.fixture(scope="module")
def known_issues(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("known") / "known-issues.yaml"
    path.write_text(
        "".join(
            f"- id: {issue_id}\n  title: {issue_id}\n  bug_url: https://bugs.example.org/{issue_id}\n"
            f"  pattern: '{pattern}'\n"
            for issue_id, pattern in SIGNATURES.items()
        )
    )
    return path


@pytest.fixture(scope="module", params=sorted(WRITERS))
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Written:
    return WRITERS[request.param](tmp_path_factory.mktemp(request.param))


def analyze(tree: Path, known_issues: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["analyze", str(tree), "--known-issues", str(known_issues), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_report_agrees_with_the_runners_own_record(written, known_issues, capsys):
    report = analyze(written.tree, known_issues, capsys)
    expected = written.expected
    outcomes = [e.outcome for e in expected.values()]
    # Counts, as the runner counted them
    assert report["tests"] == {
        "total": len(expected),
        "passed": outcomes.count("passed"),
        "failed": outcomes.count("failed"),
        "skipped": outcomes.count("skipped"),
    }, written.name
    # The failing tests, each in its environment
    failures = {(f["env"], f["test_id"]): f for f in report["failures"]}
    wanted = {key: e for key, e in expected.items() if e.outcome == "failed"}
    assert sorted(failures, key=str) == sorted(wanted, key=str), written.name
    for key, exp in wanted.items():
        failure = failures[key]
        # The exception line is the runner's own, never captured output or a cut line
        assert failure["message"] == exp.message, (written.name, key)
        # A signature written for that line explains it; nothing else is called known
        matching = sorted(i for i, p in SIGNATURES.items() if exp.message and re.search(p, exp.message))
        explained = [failure["known_issue"]["id"]] if failure["known_issue"] else []
        assert explained == matching[:1], (written.name, key)
        assert failure["classification"] == ("known" if matching else "new"), (written.name, key)
    assert report["verdict"] == "failed_new", written.name
