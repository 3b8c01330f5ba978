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
    # (the six bundled runs' mails; the outage's two alerts; its first two runs, before the
    # incident opened, to the infra subscriber)
    assert folder.name.startswith("demo-") and len(list(folder.glob("*.eml"))) == 10
    assert f"under {folder}/" in done.stdout
    # And the outage is one incident of 5 runs of 3 jobs, closed by the two clean runs, with an
    # opening and a closing alert; the three runs it held were each rechecked once on the
    # stand-in Gerrit, and none of them mailed their developers
    lines = done.stdout.splitlines()
    [incident] = [line for line in lines if line.startswith("  incident ")]
    assert "network mirror.regionone.example.org, 5 runs of 3 jobs, closed by clean runs" in incident
    incident_id = incident.split()[1].rstrip(":")
    assert sorted(p.name for p in folder.glob(f"{incident_id}.*.eml")) == [
        f"{incident_id}.closed__ci-admins@example.org.eml",
        f"{incident_id}.opened__ci-admins@example.org.eml",
    ]
    held = [line for line in lines if line.startswith("  held ")]
    assert len(held) == 3 and all(": rechecked: 'recheck' comment on change 9001" in line for line in held)
    reviews = [line for line in lines if line.startswith("  stand-in Gerrit got 'recheck' on /a/changes/")]
    assert len(reviews) == 3 and len(set(reviews)) == 3
    # And each of the outage's seven changes got one review: the held runs' as infrastructure
    # failures, the clean runs' as passed
    answered = [line for line in lines if line.startswith("  stand-in Gerrit got 'citriage: ")]
    assert len(answered) == 7 and len({line.rsplit(" on ", 1)[1] for line in answered}) == 7
    assert sum("only known or infrastructure failures" in line for line in answered) == 5
    assert sum("no failures" in line for line in answered) == 2
    held_runs = [line.split()[1] for line in held]
    assert not [m for m in folder.glob("zuul_*.eml") if any(r.split(":")[1] in m.name for r in held_runs)]
    # and its output is the summary table, with no metric records (EMF) among the lines
    assert '"_aws"' not in done.stdout
