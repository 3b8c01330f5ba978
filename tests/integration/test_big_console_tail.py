"""A console over the byte cap is read head and tail: jobs die at the end of their logs."""

import gzip
from pathlib import Path

import pytest
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.service import Analyzer
from citriage.config import FetchSettings, LayoutSettings
from citriage.local.loopback import serve_directory
from citriage.models import RunEvent, Verdict

from tests.unit.fakes import FakeList

pytestmark = pytest.mark.integration
LINE = b"2026-12-01 10:00:00.000000 | controller | ok: [controller] => (item=packages) step done\n"
DISK_FULL = b"2026-12-01 12:59:59.000000 | controller | OSError: [Errno 28] No space left on device\n"


def write_console(path: Path, size: int) -> int:
    """A gzipped console of about `size` bytes inflated, ending in a disk-full line; its line count."""
    lines = size // len(LINE)
    with gzip.open(path, "wb", compresslevel=1) as out:
        block = LINE * 10_000
        for _ in range(lines // 10_000):
            out.write(block)
        out.write(DISK_FULL)
    return (lines // 10_000) * 10_000 + 1


def test_a_150_mb_console_ending_in_a_full_disk_is_infra_disk(tmp_path):
    # Given a 150 MB console whose last line says the disk is full, on a log server
    tree = tmp_path / "build"
    tree.mkdir()
    total = write_console(tree / "job-output.txt.gz", 150 * 1024 * 1024)
    with serve_directory(tmp_path) as server:
        analyzer = Analyzer(
            FakeList([]),
            InfraRuleSet(load_builtin_rules()),
            FetchSettings(log_hosts=[server], allow_private_addresses=True, max_console_bytes=64 << 20),
            LayoutSettings(),
            None,
        )
        run = RunEvent(
            source="zuul", job="devstack", build_id="b1", result="FAILURE", log_url=f"{server}/build/"
        )
        # When it is analysed with a console cap of 64 MiB (the default is 1 GiB) and a 16 MiB tail
        report = analyzer.analyze(run)
    # Then the end was read: the disk-full line, at its own line number, makes it infra (disk)
    assert report.verdict is Verdict.INFRA
    [finding] = [f for f in report.infra if f.category == "disk"]
    assert finding.line == total and "No space left on device" in finding.excerpt
    # And the report says which bytes were skipped
    assert any(
        "read the first 64 MiB and the last 16 MiB" in note and "were skipped" in note
        for note in report.notes
    )


def test_a_150_mb_console_is_scanned_whole_by_default(tmp_path):
    # Given a 150 MB console with a mirror failure at 60% of it and a full disk at its end
    tree = tmp_path / "build"
    tree.mkdir()
    lines = 150 * 1024 * 1024 // len(LINE)
    middle = lines * 6 // 10
    mirror = (
        b"2026-12-01 11:00:00.000000 | controller | curl: (6) Could not resolve host: mirror.example.org\n"
    )
    with gzip.open(tree / "job-output.txt.gz", "wb", compresslevel=1) as out:
        out.write(LINE * middle)
        out.write(mirror)
        out.write(LINE * (lines - middle))
        out.write(DISK_FULL)
    with serve_directory(tmp_path) as server:
        analyzer = Analyzer(
            FakeList([]),
            InfraRuleSet(load_builtin_rules()),
            FetchSettings(log_hosts=[server], allow_private_addresses=True),
            LayoutSettings(),
            None,
        )
        run = RunEvent(
            source="zuul", job="devstack", build_id="b2", result="FAILURE", log_url=f"{server}/build/"
        )
        # When it is analysed with the default caps
        report = analyzer.analyze(run)
    # Then both lines are found where they are: nothing was skipped
    found = {f.category: f.line for f in report.infra}
    assert found.get("disk") == lines + 2
    assert any(f.line == middle + 1 and "Could not resolve host" in f.excerpt for f in report.infra)
    assert not any("skipped" in note for note in report.notes)
