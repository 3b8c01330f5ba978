"""`citriage demo` writes into a folder of its own and deletes nothing."""

import subprocess
import sys

import pytest

from tests.conftest import EVENTS

pytestmark = pytest.mark.e2e


def test_demo_keeps_what_was_there_and_writes_a_run_folder(tmp_path):
    # Given an output folder holding a user's file and an earlier run's mails
    (tmp_path / "mine.txt").write_text("keep me")
    (tmp_path / "old.eml").write_text("an earlier mail")
    # When the demo command runs there (its own process: it starts its own AWS endpoint)
    done = subprocess.run(
        [sys.executable, "-m", "citriage.cli.main", "demo", "--events", str(EVENTS), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then nothing was deleted, and this run's mails are in a new folder it names
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me" and (tmp_path / "old.eml").exists()
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert folder.name.startswith("demo-") and len(list(folder.glob("*.eml"))) == 6
    assert f"under {folder}/" in done.stdout
    # and its output is the summary table, with no metric records (EMF) among the lines
    assert '"_aws"' not in done.stdout
