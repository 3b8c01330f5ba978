"""The CLI behaves like a mature tool: exit codes that mean something, one-line errors."""

import os
import subprocess
import sys
import time

import pytest
from citriage.cli.main import main

from tests.conftest import EVENTS
from tests.subunit_writer import subunit_stream

KNOWN = str(EVENTS / "known-issues.yaml")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own exits (--version, usage errors)
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("citriage ")


def test_a_missing_path_is_exit_2_and_one_line(capsys):
    code, out, err = run(capsys, "analyze", "/nope/not/here")
    assert code == 2 and out == ""
    assert err == "citriage: /nope/not/here: no such directory (give a log URL or a local directory)\n"


def test_an_unknown_ci_is_exit_2_and_one_line(capsys):
    code, _, err = run(capsys, "analyze", str(EVENTS / "logs" / "tempest-mixed"), "--ci", "travis")
    assert code == 2 and err.count("\n") == 1
    assert "argument --ci: invalid choice: 'travis'" in err and "--help" in err


def test_malformed_yaml_is_exit_2_with_line_and_column(capsys, tmp_path):
    bad = tmp_path / "known.yaml"
    bad.write_text("- id: LP-1\n  title: t\n  pattern: [unclosed\n")
    code, _, err = run(capsys, "analyze", str(EVENTS / "logs" / "tempest-mixed"), "--known-issues", str(bad))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"citriage: {bad}:4:1: ")


def test_a_malformed_signature_names_its_field(capsys, tmp_path):
    bad = tmp_path / "known.yaml"
    bad.write_text("- id: LP-1\n  bug_url: https://b/1\n  pattern: x\n")
    code, _, err = run(capsys, "known-issues", "list", "--file", str(bad))
    assert code == 2
    assert err == f"citriage: {bad}:1: title: Field required\n"


def test_duplicate_ids_are_refused_naming_both_places(capsys, tmp_path):
    dup = tmp_path / "known.yaml"
    dup.write_text(
        "- id: LP-1\n  title: a\n  bug_url: https://b/1\n  pattern: x\n"
        "- id: LP-1\n  title: b\n  bug_url: https://b/2\n  pattern: y\n"
    )
    code, _, err = run(capsys, "known-issues", "list", "--file", str(dup))
    assert code == 2 and err == f"citriage: {dup}:5: duplicate id 'LP-1' (first at line 1)\n"


def test_a_missing_known_issues_file_is_an_error(capsys, tmp_path):
    code, _, err = run(capsys, "known-issues", "list", "--file", str(tmp_path / "missing.yaml"))
    assert code == 2 and err == f"citriage: {tmp_path / 'missing.yaml'}: no such file\n"


@pytest.mark.parametrize(
    ("tree", "fail_on", "expected"),
    [
        ("tempest-mixed", [], 0),
        ("tempest-mixed", ["--fail-on", "new"], 1),
        ("tempest-mixed", ["--fail-on", "known,infra"], 0),
        ("tempest-known", ["--fail-on", "known"], 1),
        ("tempest-passing", ["--fail-on", "new", "--fail-on", "any"], 0),
    ],
)
def test_fail_on_gates_on_the_verdict(capsys, tree, fail_on, expected):
    code, _, _ = run(capsys, "-q", "analyze", str(EVENTS / "logs" / tree), "--known-issues", KNOWN, *fail_on)
    assert code == expected


def test_logs_that_cannot_be_read_are_exit_3(capsys):
    # A private address is refused unless --allow-private: nothing is read
    code, out, _ = run(capsys, "-q", "analyze", "https://127.0.0.1:9/logs/", "--format", "json")
    assert code == 3 and '"verdict": "no_results"' in out and '"logs_read": false' in out


def test_an_unknown_fail_on_word_is_exit_2(capsys):
    code, _, err = run(capsys, "analyze", str(EVENTS / "logs" / "tempest-mixed"), "--fail-on", "broken")
    assert code == 2 and "unknown verdict word 'broken'" in err


def test_control_characters_from_logs_are_escaped_on_the_terminal(capsys, tmp_path):
    # Given a failure whose text carries terminal escapes (clear screen, set the window title)
    (tmp_path / "testrepository.subunit").write_bytes(
        subunit_stream([("t.x", "fail", "Traceback\nValueError: boom \x1b[2J\x1b]0;pwned\x07 here")])
    )
    _, out, _ = run(capsys, "analyze", str(tmp_path))
    # Then the terminal gets them shown, not obeyed
    assert "\x1b" not in out and "\x07" not in out
    assert "ValueError: boom \\x1b[2J\\x1b]0;pwned\\x07 here" in out


def test_a_traceback_only_with_debug():
    script = "from citriage.cli.main import main; raise SystemExit(main(['--debug', 'analyze', '/nope']))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "Traceback (most recent call last)" in done.stderr
    done = subprocess.run(
        [sys.executable, "-c", script.replace("'--debug', ", "")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = f"from citriage.cli.main import main; raise SystemExit(main({args!r}))"
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "citriage: no AWS region: set AWS_REGION"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "citriage: no AWS credentials: set AWS_PROFILE"),
        (
            {
                "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "y",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            },
            "citriage: cannot reach the AWS endpoint http://127.0.0.1:9",
        ),
    ],
)
def test_aws_client_problems_are_named_in_one_line_within_seconds(extra, tmp_path, expected):
    # Given no AWS configuration but what each case sets (and no instance metadata to ask)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }
    started = time.monotonic()
    done = _cli(["subscriptions", "--table", "t", "list"], env)
    assert done.returncode == 2 and done.stderr.startswith(expected), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert time.monotonic() - started < 30


def test_progress_shows_files_bytes_and_rate_on_a_terminal(monkeypatch):
    import io

    from citriage.cli.progress import fetch_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with fetch_progress(enabled=True) as progress:
        assert progress is not None
        progress("job-output.txt", 3 * 1024 * 1024)
        progress("testrepository.subunit", 1024 * 1024)
    drawn = screen.getvalue()
    assert "2 files: testrepository.subunit" in drawn and "3.00MB" in drawn and "B/s" in drawn
    # And nothing is drawn when stderr is not a terminal (a CI step's log)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with fetch_progress(enabled=True) as progress:
        assert progress is None
