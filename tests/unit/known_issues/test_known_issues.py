"""Known-issue management without AWS: YAML files, export shape, and replay over reports."""

from datetime import date

from citriage.cli.main import main
from citriage.known_issues.replay import replay
from citriage.known_issues.yaml_file import YamlKnownIssues, dump_known_issues_yaml, load_known_issues_yaml
from citriage.models import (
    Classification,
    Evidence,
    Failure,
    InfraFinding,
    KnownIssue,
    RunEvent,
    RunReport,
    TestCounts,
    Verdict,
)

TODAY = date(2026, 11, 21)


def issue(issue_id: str, pattern: str, **extra) -> KnownIssue:
    return KnownIssue(
        id=issue_id, title=f"t {issue_id}", bug_url=f"https://b/{issue_id}", pattern=pattern, **extra
    )


def report(build: str, verdict: Verdict, job: str = "tempest-full", failures=None) -> RunReport:
    return RunReport(
        run=RunEvent(source="zuul", job=job, build_id=build, log_url=f"https://logs/{build}/"),
        verdict=verdict,
        tests=TestCounts(),
        failures=failures or [],
    )


def add_args(path, issue_id: str) -> list[str]:
    """`known-issues add` into the YAML file `path`, with every field but the pattern."""
    number = issue_id.rsplit("-", 1)[1]
    return [
        "known-issues",
        "add",
        "--file",
        str(path),
        "--id",
        issue_id,
        "--title",
        "T",
        "--bug-url",
        f"https://b/{number}",
    ]


def test_export_reads_back_the_same_signatures():
    issues = [
        issue("B-2", r"b (\d+)", tests=["t.*"], message="b {1}", multiline=True),
        issue("A-1", "alpha widget failed", expires=date(2027, 1, 1)),
    ]
    text = dump_known_issues_yaml(issues)
    assert load_known_issues_yaml(text) == sorted(issues, key=lambda i: i.id)
    assert text.startswith("- id: A-1\n  title: t A-1\n")


def test_yaml_file_add_list_remove_through_the_cli(tmp_path, capsys):
    path = tmp_path / "known.yaml"
    args = add_args(path, "Y-1")
    assert main([*args, "--pattern", r"disk (\S+) vanished", "--message", "disk {1}"]) == 0
    assert main(["known-issues", "list", "--file", str(path)]) == 0
    assert "Y-1 [product] hits=0 runs=0 last=never  T" in capsys.readouterr().out
    assert [i.id for i in YamlKnownIssues(path).list_with_stats()[0][:1]] == ["Y-1"]
    assert main(["known-issues", "remove", "--file", str(path), "Y-1"]) == 0
    assert load_known_issues_yaml(path.read_text("utf-8")) == []


def test_cli_add_refuses_a_message_naming_a_missing_group(tmp_path, capsys):
    path = tmp_path / "known.yaml"
    args = add_args(path, "Y-2")
    assert main([*args, "--pattern", "no groups", "--message", "{volume}"]) == 2
    assert "uses {volume} but the pattern has no such capture group" in capsys.readouterr().err
    assert not path.exists()


def test_replay_splits_hits_into_failed_and_passed_runs_and_respects_scopes():
    # Given runs whose stored texts mention the symptom: two failed, one passed (in infra evidence)
    failure = Failure(
        test_id="tempest.api.volume.T.test_a",
        classification=Classification.NEW,
        details="Traceback\nTimeoutException: volume v1 stuck attaching",
        evidence=[
            Evidence(kind="unexplained", file="job-output.txt", line=9, excerpt="volume v2 stuck attaching")
        ],
    )
    other_test = failure.model_copy(update={"test_id": "tempest.api.compute.T.test_b"})
    passed = report("p1", Verdict.PASSED)
    reports = [
        report("f1", Verdict.FAILED_NEW, failures=[failure]),
        report("f2", Verdict.FAILED_NEW, failures=[other_test]),
        report("f3", Verdict.FAILED_NEW, job="grenade", failures=[failure]),
        passed,
    ]
    broad = issue("BROAD", r"volume \S+ stuck attaching")
    scoped = issue(
        "SCOPED", r"volume \S+ stuck attaching", tests=["tempest.api.volume.*"], jobs=["tempest-*"]
    )
    # When both candidates are replayed
    results = {r.issue.id: r for r in replay([broad, scoped], reports, TODAY)}
    # Then the broad one hits every failed run; the scoped one only its test in its jobs
    assert results["BROAD"].failed_runs_hit == {"zuul:f1", "zuul:f2", "zuul:f3"}
    # (runs of jobs outside its scope are not even counted)
    assert results["SCOPED"].failed_runs_hit == {"zuul:f1"} and results["SCOPED"].failed_runs == 2
    wheres = [h.where for h in results["SCOPED"].failed_hits]
    assert wheres == ["traceback of tempest.api.volume.T.test_a line 2", "job-output.txt:9"]
    # And the passed run had no stored text to search: nothing was checked, so it is not "good"
    assert results["BROAD"].passed_runs == 1 and results["BROAD"].passed_runs_without_text == 1
    assert results["BROAD"].verdict == "inconclusive" and not results["BROAD"].good


def test_replay_with_logs_reports_a_hit_on_a_passing_run():
    def read_logs(rep):
        yield (
            "job-output.txt",
            iter(["2026-11-20 10:00:00.000 | node | ok", "2026-11-20 10:00:01 | node | boom 42"]),
        )

    results = replay([issue("R-1", r"^boom \d+$")], [report("p1", Verdict.PASSED)], TODAY, read_logs)
    assert not results[0].good
    assert [(h.run_id, h.where, h.excerpt) for h in results[0].passed_hits] == [
        ("zuul:p1", "job-output.txt:2", "boom 42")
    ]


def test_replay_with_logs_lists_a_hit_seen_in_stored_evidence_and_in_the_fetched_console_once():
    # Given a failed run whose stored evidence is line 2 of the console, and the console read again
    failed = report("f1", Verdict.FAILED_NEW).model_copy(deep=True)
    failed.infra = [
        InfraFinding(rule="x", category="network", file="job-output.txt", line=2, excerpt="boom 42")
    ]

    def read_logs(rep):
        yield "job-output.txt", iter(["ok", "boom 42"])

    [result] = replay([issue("R-2", r"boom \d+")], [failed], TODAY, read_logs)
    # Then the hit is listed once
    assert [(h.run_id, h.where) for h in result.failed_hits] == [("zuul:f1", "job-output.txt:2")]


def test_replay_with_a_checked_passing_run_and_no_hit_is_good():
    def read_logs(rep):
        yield "job-output.txt", iter(["all fine"])

    [result] = replay([issue("R-3", r"boom \d+")], [report("p2", Verdict.PASSED)], TODAY, read_logs)
    assert result.verdict == "good" and result.good


def test_importing_a_thousand_signatures_into_a_file_writes_it_once(tmp_path, monkeypatch):
    from citriage.known_issues.yaml_file import YamlKnownIssues

    writes = []
    repository = YamlKnownIssues(tmp_path / "k.yaml", create=True)
    original = repository._save

    def counting_save(issues):
        writes.append(len(issues))
        original(issues)

    monkeypatch.setattr(repository, "_save", counting_save)
    repository.put_many([issue(f"K-{n}", rf"symptom number {n} seen") for n in range(1000)])
    assert writes == [1000]
    assert len(repository.list_with_stats()) == 1000
