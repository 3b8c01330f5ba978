"""A console over the byte cap is read head and tail: jobs die at the end of their logs."""

import gzip
from pathlib import Path

import pytest
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.service import Analyzer
from citriage.config import FetchSettings, LayoutSettings
from citriage.local.embedded import serve_directory
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
            FetchSettings(log_hosts=[server], allow_private_addresses=True),
            LayoutSettings(),
            None,
        )
        run = RunEvent(
            source="zuul", job="devstack", build_id="b1", result="FAILURE", log_url=f"{server}/build/"
        )
        # When it is analysed with the default caps (64 MiB head, 16 MiB tail)
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
