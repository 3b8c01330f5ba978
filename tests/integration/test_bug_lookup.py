"""Looking up a signature's bug over real HTTP (a local Redmine/Bugzilla-shaped server)."""

import json

import pytest
from citriage.cli.main import main
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.local.loopback import serve_directory

pytestmark = pytest.mark.integration


@pytest.fixture
def tracker(tmp_path):
    root = tmp_path / "tracker"
    (root / "issues").mkdir(parents=True)
    (root / "issues" / "5.json").write_text(
        json.dumps({"issue": {"id": 5, "subject": "Volume attach flakes", "status": {"name": "Resolved"}}}),
        "utf-8",
    )
    (root / "rest" / "bug").mkdir(parents=True)
    (root / "rest" / "bug" / "7").write_text(
        json.dumps({"bugs": [{"summary": "Boot hangs", "status": "NEW", "resolution": ""}]}), "utf-8"
    )
    with serve_directory(root) as url:
        yield url


def add(path, issue_id, bug_url):
    return main(
        [
            "known-issues",
            "add",
            "--file",
            str(path),
            "--id",
            issue_id,
            "--title",
            "t",
            "--bug-url",
            bug_url,
            "--pattern",
            f"symptom {issue_id}",
            "--lookup-bugs",
            "--allow-private",
        ]
    )


def test_add_looks_up_title_and_status_and_fails_softly(tracker, tmp_path, capsys):
    path = tmp_path / "known.yaml"
    # Given a Redmine issue and a Bugzilla bug on the tracker, and a bug it does not have
    assert add(path, "RM-5", f"{tracker}/issues/5") == 0
    assert add(path, "BZ-7", f"{tracker}/show_bug.cgi?id=7") == 0
    assert add(path, "RM-404", f"{tracker}/issues/404") == 0
    # Then the found bugs' titles and statuses are cached with the signatures
    issues = {i.id: i for i in load_known_issues_yaml(path.read_text("utf-8"))}
    assert (issues["RM-5"].bug_title, issues["RM-5"].bug_status) == ("Volume attach flakes", "Resolved")
    assert (issues["BZ-7"].bug_title, issues["BZ-7"].bug_status) == ("Boot hangs", "NEW")
    # And the missing one is stored all the same, with a note saying why it has no status
    assert issues["RM-404"].bug_status is None
    assert "note: RM-404: bug not looked up:" in capsys.readouterr().err


def test_lookup_refuses_a_private_tracker_unless_allowed(tracker, tmp_path, capsys):
    path = tmp_path / "known.yaml"
    status = main(
        [
            "known-issues",
            "add",
            "--file",
            str(path),
            "--id",
            "RM-5",
            "--title",
            "t",
            "--bug-url",
            f"{tracker}/issues/5",
            "--pattern",
            "symptom",
            "--lookup-bugs",
        ]
    )
    assert status == 0
    assert "resolves to non-public address 127.0.0.1" in capsys.readouterr().err
    assert load_known_issues_yaml(path.read_text("utf-8"))[0].bug_status is None
