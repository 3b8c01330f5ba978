"""`citriage cluster search|propose --runs`: four runs written at test time by pytest (its JUnit
XML), whose six failures differ only in addresses, ports, UUIDs and times, plus one unrelated
failure in the same test class, and a passing run whose log has lines much like them. The six
are one cluster; the proposed pattern matches them and nothing else. Expected values come from
pytest's own JUnit records, read here."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import re2
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.integration

CLUSTERED = """
import uuid, datetime

class TestVolumes:
{tests}
    def test_sizes(self):
        assert {unrelated}
"""
ONE = """
    def test_attach_{n}(self):
        raise ConnectionError(
            f"Connection to {ip}:{port} refused for volume {{uuid.uuid4()}} at "
            f"{{datetime.datetime.now(datetime.timezone.utc).isoformat()}}"
        )
"""


def run_dir(tmp_path: Path, name: str, failures: list[tuple[str, int]], unrelated: str) -> Path:
    """A run: pytest's JUnit XML of a test module with the given failures, written by pytest."""
    work = tmp_path / name
    work.mkdir()
    tests = "".join(ONE.format(n=n, ip=ip, port=port) for n, (ip, port) in enumerate(failures))
    (work / "test_volumes.py").write_text(CLUSTERED.format(tests=tests, unrelated=unrelated))
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={work / 'junit.xml'}",
         str(work / "test_volumes.py")],
        cwd=work, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    (work / "test_volumes.py").unlink()
    return work


def junit_messages(run: Path) -> list[str]:
    """pytest's own record of each failure's message."""
    root = ET.parse(run / "junit.xml").getroot()
    return [f.get("message", "") for f in root.iter("failure")]


def cluster(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "citriage.cli.main", "cluster", *args],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    envelope = json.loads(done.stdout)
    assert envelope["invocation"]["status"] == 0
    return envelope["returns"]


def test_six_failures_differing_in_addresses_ports_uuids_and_times_are_one_cluster(tmp_path: Path):
    runs = [
        run_dir(tmp_path, "run-1", [("10.0.1.12", 5672), ("10.0.1.13", 5673)], unrelated="2 == 3"),
        run_dir(tmp_path, "run-2", [("192.168.7.2", 8776), ("10.44.0.7", 8776)], unrelated="True"),
        run_dir(tmp_path, "run-3", [("172.16.0.9", 443)], unrelated="True"),
        run_dir(tmp_path, "run-4", [("10.200.3.4", 35357)], unrelated="True"),
    ]
    passing = run_dir(tmp_path, "run-5", [], unrelated="True")
    (passing / "job-output.txt").write_text(
        "2026-12-05 10:00:01.123 | Connection to 10.0.1.12:5672 established for volume "
        "3f2c9a1e-1b2c-4d5e-8f90-0a1b2c3d4e5f at 2026-12-05T10:00:01+00:00\n"
        "2026-12-05 10:00:02.456 | ConnectionError: retrying in 5 seconds\n"
    )
    recorded = [m for run in runs for m in junit_messages(run)]
    connection = sorted(m for m in recorded if m.startswith("ConnectionError"))
    unrelated = [m for m in recorded if not m.startswith("ConnectionError")]
    assert len(connection) == 6 and len(unrelated) == 1 and junit_messages(passing) == []
    dirs = [str(r) for r in [*runs, passing]]

    # When the runs' new failures are clustered
    found = cluster(["search", "--runs", *dirs])
    # Then the six are one cluster, across four runs, and the unrelated failure is elsewhere
    biggest = found[0]
    assert sorted(m["message"] for m in biggest["members"]) == connection
    assert (biggest["runs"], biggest["jobs"]) == (4, 4)
    others = found[1:]
    assert [m["message"] for c in others for m in c["members"]] == unrelated

    # And its proposal is a good pattern: all six, not the unrelated failure, no passing line
    proposal = cluster(["propose", "--id", biggest["id"], "--runs", *dirs])
    assert proposal["good"] is True, proposal["why"]
    regex = re2.compile(proposal["pattern"])
    assert all(regex.search(m) for m in connection)
    assert not any(regex.search(m) for m in unrelated)
    passing_lines = [line for p in passing.iterdir() for line in p.read_text().splitlines()]
    assert passing_lines and not any(regex.search(line) for line in passing_lines)
    replay = proposal["replay"]
    assert (replay["cluster_hits"], replay["cluster_size"], replay["other_failures"]) == (6, 6, [])
    # every line of the passing run's files was replayed, and none matched
    assert replay["passing_lines"] == [] and replay["passing_runs"] == 1
    assert replay["lines_checked"] == len(passing_lines)

    # And `known-issues add --from-cluster` stores that pattern; with it, the six are known
    store = tmp_path / "known-issues.yaml"
    added = subprocess.run(
        [sys.executable, "-m", "citriage.cli.main", "known-issues", "add", "--file", str(store),
         "--from-cluster", biggest["id"], "--bug-url", "https://bugs.example.org/4242", "--runs", *dirs],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    (stored,) = yaml.safe_load(store.read_text())
    assert (stored["id"], stored["pattern"]) == (biggest["id"], proposal["pattern"])
    again = cluster(["search", "--runs", *dirs, "--known-issues", str(store)])
    assert [m["message"] for c in again for m in c["members"]] == unrelated

    # And `info` lists the members with their runs and tests; an unknown id is status 2
    info = cluster(["info", "--id", biggest["id"], "--runs", *dirs])
    assert {m["run"] for m in info["members"]} == {f"generic:run-{n}" for n in (1, 2, 3, 4)}
    missing = subprocess.run(
        [sys.executable, "-m", "citriage.cli.main", "cluster", "info", "--id", "c-000000000000",
         "--runs", *dirs],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert missing.returncode == 2


def test_a_pattern_that_hits_a_passing_run_is_not_offered_as_good(tmp_path: Path):
    runs = [run_dir(tmp_path, f"run-{n}", [(f"10.0.0.{n}", 5672)], unrelated="True") for n in (1, 2)]
    passing = run_dir(tmp_path, "run-3", [], unrelated="True")
    # A passing run that logged the very same kind of line (a retry that then succeeded)
    (passing / "job-output.txt").write_text(
        "ConnectionError: Connection to 10.9.9.9:5672 refused for volume "
        "3f2c9a1e-1b2c-4d5e-8f90-0a1b2c3d4e5f at 2026-12-05T10:00:01.123456+00:00\n"
    )
    dirs = [str(r) for r in [*runs, passing]]
    (biggest, *_) = cluster(["search", "--runs", *dirs])
    proposal = cluster(["propose", "--id", biggest["id"], "--runs", *dirs])
    assert proposal["good"] is False and "line(s) of passing runs" in proposal["why"]
    # and `known-issues add --from-cluster` refuses to store it, saying why
    refused = subprocess.run(
        [sys.executable, "-m", "citriage.cli.main", "known-issues", "add", "--file", str(tmp_path / "k.yaml"),
         "--from-cluster", biggest["id"], "--bug-url", "https://bugs.example.org/1", "--runs", *dirs],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "is not good: it matches 1 line(s) of passing runs" in refused.stderr
    assert not (tmp_path / "k.yaml").exists()
    assert proposal["replay"]["passing_lines"][0].startswith("generic:run-3 job-output.txt:1:")
