"""`citriage known-issues` and hit statistics against the embedded moto endpoint (real HTTP),
with a local log server for `--fetch`."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import requests
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.dynamodb import RunStore
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.cli.main import main
from citriage.config import AnalyzeSettings, FetchSettings, LayoutSettings
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.local.loopback import serve_directory
from citriage.models import (
    Classification,
    Failure,
    KnownIssue,
    RunEvent,
    RunReport,
    TestCounts,
    Verdict,
)
from citriage.wiring import analyze_service

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture(scope="module")
def aws(tmp_path_factory, embedded_aws):
    # moto keeps its state per process: start from a clean endpoint, whatever ran before.
    requests.post(f"{embedded_aws.endpoint}/moto-api/reset", timeout=10).raise_for_status()
    logs = tmp_path_factory.mktemp("logs")
    # A passing run whose console nevertheless shows the line the candidate looks for.
    (logs / "passed-noisy").mkdir()
    (logs / "passed-noisy" / "job-output.txt").write_text(
        "2026-11-20 10:00:00.000000 | controller | setup ok\n"
        "2026-11-20 10:00:01.000000 | controller | WARNING nova: volume v9 failed to reach in-use status "
        "(current attaching), retrying\n"
        "2026-11-20 10:00:02.000000 | controller | all tests passed\n",
        "utf-8",
    )
    (logs / "passed-quiet").mkdir()
    (logs / "passed-quiet" / "job-output.txt").write_text("2026-11-20 10:00:00.000000 | x | fine\n", "utf-8")
    with serve_directory(logs) as log_server:
        stack = embedded_aws.provision("citriage@example.org", [log_server], None)
        yield stack, log_server


def report(build_id: str, verdict: Verdict, log_url: str, failures: list[Failure] | None = None) -> RunReport:
    return RunReport(
        run=RunEvent(source="zuul", job="tempest-full", build_id=build_id, result="x", log_url=log_url),
        verdict=verdict,
        tests=TestCounts(total=3, passed=3 - len(failures or []), failed=len(failures or [])),
        failures=failures or [],
        analyzed_at=datetime(2026, 11, 20, 12, tzinfo=UTC),
    )


def candidate_file(tmp_path: Path, pattern: str) -> Path:
    path = tmp_path / "candidate.yaml"
    path.write_text(
        f"- id: CAND-1\n  title: Volume attach times out\n  bug_url: https://bugs.example.org/1\n"
        f"  pattern: '{pattern}'\n",
        "utf-8",
    )
    return path


@pytest.fixture
def stored_runs(aws):
    stack, log_server = aws
    runs = RunStore(boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"]))
    failed = Failure(
        test_id="tempest.api.volume.test_attach.AttachTest.test_attach",
        classification=Classification.NEW,
        details="Traceback (most recent call last):\n  ...\n"
        "tempest.exceptions.TimeoutException: volume v1 failed to reach in-use status (current attaching)",
    )
    runs.put_report(report("failed-1", Verdict.FAILED_NEW, f"{log_server}/missing/", [failed]))
    runs.put_report(report("passed-noisy", Verdict.PASSED, f"{log_server}/passed-noisy/"))
    runs.put_report(report("passed-quiet", Verdict.PASSED, f"{log_server}/passed-quiet/"))
    return log_server


def test_known_issues_test_shows_hits_on_failed_and_passed_runs(stored_runs, tmp_path, capsys):
    # Given stored runs: a failed one whose traceback shows the bug, and a passing one whose
    # console shows the same line (the bug's symptom, retried and harmless there)
    path = candidate_file(tmp_path, r"failed to reach in-use status \(current attaching\)")
    # When the candidate is replayed over the stored runs, fetching their logs
    status = main(
        ["known-issues", "test", str(path), "--fetch", "--allow-private", "--log-host", stored_runs]
    )
    out = capsys.readouterr().out
    # Then it reports the hit on the failed run (in the traceback) and on the passing run (its log)
    assert "failed runs: 1 hit of 1" in out
    assert "zuul:failed-1 tempest-full [failed_new] traceback of tempest.api.volume" in out
    assert "passed runs: 1 hit of 2" in out
    assert "zuul:passed-noisy tempest-full [passed] job-output.txt:2: WARNING nova: volume v9" in out
    # And calls it bad, with a failing exit status
    assert "BAD: it hits passing runs" in out and status == 1


def test_known_issues_test_of_a_narrow_candidate_is_good(stored_runs, tmp_path, capsys):
    path = candidate_file(tmp_path, r"TimeoutException: volume \S+ failed to reach in-use")
    status = main(
        ["known-issues", "test", str(path), "--fetch", "--allow-private", "--log-host", stored_runs]
    )
    out = capsys.readouterr().out
    assert "failed runs: 1 hit of 1" in out and "passed runs: 0 hit of 2" in out
    assert "good: it hits no passing run" in out and status == 0


def test_known_issues_test_without_fetch_says_passed_runs_held_no_text(stored_runs, tmp_path, capsys):
    path = candidate_file(tmp_path, r"failed to reach in-use status")
    status = main(["known-issues", "test", str(path)])
    out = capsys.readouterr().out
    assert "passed runs: 0 hit of 2 (2 held no text: --fetch reads their logs)" in out and status == 0


def test_import_list_add_export_remove_over_the_table(aws, tmp_path, capsys):
    stack, _ = aws
    table = stack.env["KNOWN_ISSUES_TABLE"]
    # Given the bundled known issues imported into the table
    assert main(["known-issues", "import", str(EVENTS / "known-issues.yaml"), "--table", table]) == 0
    # When one is added and the table is listed and exported
    assert (
        main(
            [
                "known-issues",
                "add",
                "--table",
                table,
                "--id",
                "LP-42",
                "--title",
                "Ports stay DOWN",
                "--bug-url",
                "https://bugs.launchpad.net/neutron/+bug/42",
                "--pattern",
                r"port (?P<port>\S+) stayed DOWN",
                "--message",
                "port {port} never came up",
                "--test",
                "tempest.api.network.*",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["known-issues", "list"]) == 0  # the table from $KNOWN_ISSUES_TABLE
    listed = capsys.readouterr().out
    out_file = tmp_path / "export.yaml"
    assert main(["known-issues", "export", "--out", str(out_file)]) == 0
    # Then the list shows every signature with its statistics, and the export reads back the same
    assert "LP-1929710 [product] hits=0 runs=0 last=never" in listed and "LP-42 [product]" in listed
    exported = {i.id: i for i in load_known_issues_yaml(out_file.read_text("utf-8"))}
    assert exported["LP-42"].message == "port {port} never came up"
    assert exported["LP-42"].tests == ["tempest.api.network.*"]
    assert set(exported) >= {"LP-1929710", "LP-1999999", "LP-42"}
    # And remove takes one out; removing an unknown id is refused
    assert main(["known-issues", "remove", "LP-42"]) == 0
    assert main(["known-issues", "remove", "LP-42"]) == 2
    assert "no such signature: LP-42" in capsys.readouterr().err


def test_add_refuses_an_invalid_regex_with_a_clear_message(aws, capsys):
    status = main(
        [
            "known-issues",
            "add",
            "--id",
            "BAD",
            "--title",
            "t",
            "--bug-url",
            "https://b/1",
            "--pattern",
            r"(a)\1",
        ]
    )
    assert status == 2
    assert "pattern '(a)\\\\1' is not valid RE2: invalid escape sequence" in capsys.readouterr().err


def test_hit_statistics_are_kept_current_by_every_analysis(aws):
    # Given the analyze service on the embedded tables, and a known issue that explains a run
    stack, _ = aws
    dynamodb = boto3.resource("dynamodb")
    known = KnownIssueStore(dynamodb.Table(stack.env["KNOWN_ISSUES_TABLE"]))
    for issue in load_known_issues_yaml((EVENTS / "known-issues.yaml").read_text("utf-8")):
        known.put(issue)
    before = {i.id: s for i, s in known.list_with_stats()}["LP-1929710"]
    with serve_directory(EVENTS / "logs") as log_server:
        service = analyze_service(
            AnalyzeSettings.from_env(stack.env),
            FetchSettings(log_hosts=[log_server], allow_private_addresses=True),
            LayoutSettings(),
            AwsClients(),
        )
        # When two runs are analysed, and the first is redelivered
        reports = {}
        for build in ("stats-1", "stats-2", "stats-1"):
            reports[build] = service.handle(
                RunEvent(
                    source="zuul",
                    job="tempest-integrated-storage",
                    build_id=build,
                    result="FAILURE",
                    log_url=f"{log_server}/tempest-known/",
                )
            )
    # Then the signature's statistics count both runs once each (UpdateItem ADD), with the last run
    after = {i.id: s for i, s in known.list_with_stats()}["LP-1929710"]
    assert after.runs_hit == before.runs_hit + 2
    explained = sum(
        1 for r in reports.values() for f in r.failures if f.known_issue and f.known_issue.id == "LP-1929710"
    )
    assert explained >= 2 and after.hits == before.hits + explained
    assert after.last_run_id == "zuul:stats-2" and after.last_hit_at is not None
    # And re-putting the signature keeps its statistics
    known.put(KnownIssue.model_validate(known.get("LP-1929710").model_dump() | {"title": "Renamed"}))
    kept = {i.id: s for i, s in known.list_with_stats()}["LP-1929710"]
    assert kept == after


def test_known_issues_test_by_stored_id(aws, stored_runs, capsys):
    # Given a signature already in the table
    stack, _ = aws
    table = stack.env["KNOWN_ISSUES_TABLE"]
    KnownIssueStore(boto3.resource("dynamodb").Table(table)).put(
        KnownIssue(
            id="STORED-1",
            title="Volume attach times out",
            bug_url="https://bugs.example.org/1",
            pattern=r"TimeoutException: volume \S+ failed",
        )
    )
    # When it is replayed by id
    status = main(["known-issues", "test", "STORED-1", "--table", table])
    # Then its hits are reported like a file's
    out = capsys.readouterr().out
    # (other tests of this module store more runs: only the hit count is fixed here)
    assert out.startswith("STORED-1: ") and "failed runs: 1 hit of " in out and status == 0
    assert "zuul:failed-1 tempest-full [failed_new] traceback of tempest.api.volume" in out


def test_site_infra_rules_from_s3_override_the_builtin_pack(aws):
    from citriage.wiring import infra_rules

    # Given a site rules file in an S3 bucket on the embedded endpoint
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="site-rules")
    s3.put_object(
        Bucket="site-rules",
        Key="infra.yaml",
        Body=b"- id: disk-no-space\n  category: disk\n  pattern: 'ENOSPC'\n"
        b"- id: site-proxy\n  category: network\n  pattern: 'squid: connection refused'\n",
    )
    # When the analyzer's rules are built from it
    rules = infra_rules("s3://site-rules/infra.yaml", AwsClients())
    # Then the site's rules replace and extend the built-in ones
    assert [h.item.id for h in rules.search_text("ENOSPC while writing")] == ["disk-no-space"]
    assert rules.search_text("No space left on device") == []
    assert [h.item.id for h in rules.search_text("squid: connection refused")] == ["site-proxy"]
    assert rules.for_result("NODE_FAILURE") is not None


def test_a_warm_analyzer_reads_the_signatures_again_only_after_they_change(stack, log_server):
    # Given the analyze function's service, warm, and the Scans it makes of the known-issues table
    aws = AwsClients()
    service = analyze_service(
        AnalyzeSettings.from_env(stack.env), FetchSettings.from_env(stack.env), LayoutSettings(), aws
    )
    table = stack.env["KNOWN_ISSUES_TABLE"]
    scans: list[str] = []
    aws.table(table).meta.client.meta.events.register(
        "provide-client-params.dynamodb.Scan", lambda params, **_: scans.append(params["TableName"])
    )
    store = KnownIssueStore(aws.table(table))
    store.put(KnownIssue(id="LP-1", title="t", bug_url="https://bugs/1", pattern="never in these logs"))

    def analyse(build: str) -> RunReport:
        run = RunEvent(
            source="zuul",
            job="tempest-full",
            build_id=build,
            result="FAILURE",
            log_url=f"{log_server}/tempest-known/",
        )
        return service.handle(run)

    # When three runs are analysed with no change to the signatures
    for build in ("v1", "v2", "v3"):
        analyse(build)
    # Then the table was read whole once
    assert scans.count(table) == 1
    # And after a signature is added, the next run reads it again, and is judged with it
    store.put(
        KnownIssue(id="LP-2", title="t2", bug_url="https://bugs/2", pattern=r"failed to reach in-use status")
    )
    report = analyse("v4")
    assert scans.count(table) == 2
    assert "LP-2" in {f.known_issue.id for f in report.failures if f.known_issue}


def test_a_signature_matching_a_passing_runs_logs_is_flagged_to_fix_and_a_closed_quiet_one_to_retire(aws):
    # Given a signature broad enough to match a passing run's console, and one whose bug is closed
    stack, _ = aws
    known = KnownIssueStore(boto3.resource("dynamodb").Table(stack.env["KNOWN_ISSUES_TABLE"]))
    known.put(
        KnownIssue(
            id="BROAD-1", title="too broad", bug_url="https://bugs.example.org/1", pattern="Cloning repos"
        )
    )
    known.put(
        KnownIssue(
            id="OLD-2", title="fixed long ago", bug_url="https://bugs.example.org/2",
            pattern="zzz-never-seen", bug_status="Fix Released",
        )
    )  # fmt: skip
    with serve_directory(EVENTS / "logs") as log_server:
        service = analyze_service(
            AnalyzeSettings.from_env(stack.env),
            FetchSettings(log_hosts=[log_server], allow_private_addresses=True),
            LayoutSettings(),
            AwsClients(),
        )
        # When a passing run is analysed
        report = service.handle(
            RunEvent(
                source="zuul", job="tempest-integrated-networking", build_id="lifecycle-1", result="SUCCESS",
                log_url=f"{log_server}/tempest-passing/",
            )
        )  # fmt: skip
    assert report.verdict is Verdict.PASSED and "BROAD-1" in {h.issue.id for h in report.log_hits}
    stats = {i.id: s for i, s in known.list_with_stats()}
    assert (stats["BROAD-1"].passing_hits, stats["BROAD-1"].last_passing_run_id) == (1, "zuul:lifecycle-1")
    # Then `known-issues list` flags the broad one to fix and the closed, quiet one to retire
    done = subprocess.run(
        [sys.executable, "-m", "citriage.cli.main", "known-issues", "list",
         "--table", stack.env["KNOWN_ISSUES_TABLE"], "--format", "json"],
        env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    flags = {entry["id"]: entry["flags"] for entry in json.loads(done.stdout)}
    assert flags["BROAD-1"][0].startswith("fix: it matched 1 passing run(s), last zuul:lifecycle-1")
    assert flags["OLD-2"] == [
        "retire: its bug is Fix Released and it has not explained a failure for 30 days (never)"
    ]
