"""Hostile uploads: archives written at test time by Python's tarfile and by GNU tar, with members
that climb out (`../`), a symlink to /etc/passwd, a sparse 10 GiB member and a tar bomb. Each
still gives a report, read from the archive's good members, whose notes say what was refused;
nothing is written anywhere."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.service import Analyzer
from citriage.config import FetchSettings, LayoutSettings
from citriage.models import RunEvent, Verdict

from tests.conftest import EVENTS
from tests.unit.fakes import FakeList

TREE = EVENTS / "logs" / "tempest-mixed"
LOCATION = "s3://citriage-uploads/uploads/0123/archive.tar.gz"


class OneArchive:
    """The uploads bucket holding one archive (the Uploads port's read side)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def location(self, upload_id: str) -> str:
        return LOCATION

    def open_archive(self, upload_id: str, max_bytes: int):
        return io.BytesIO(self.data)


def analyze(data: bytes, **fetch: int):
    run = RunEvent(source="upload", job="tempest-full-py3", build_id="b1", result="FAILURE", log_url=LOCATION)
    analyzer = Analyzer(
        FakeList([]),
        InfraRuleSet(load_builtin_rules()),
        FetchSettings(**fetch),
        LayoutSettings(),
        None,
        uploads=OneArchive(data),
    )
    return analyzer.analyze(run)


def good_members(tar: tarfile.TarFile) -> None:
    for name in ("testrepository.subunit", "job-output.txt"):
        tar.add(TREE / name, arcname=name)


def python_tar(add) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        good_members(tar)
        add(tar)
    return out.getvalue()


def test_a_clean_archive_reads_like_the_log_tree():
    report = analyze(python_tar(lambda tar: None))
    assert report.verdict is Verdict.FAILED_NEW
    assert (report.tests.total, report.tests.failed) == (50, 3)
    assert not [n for n in report.notes if "refused" in n]


def test_climbing_names_and_a_link_to_etc_passwd_are_refused_and_noted(tmp_path: Path):
    def hostile(tar: tarfile.TarFile) -> None:
        escape = tarfile.TarInfo("../../escape.txt")
        payload = b"written outside?\n"
        escape.size = len(payload)
        tar.addfile(escape, io.BytesIO(payload))
        absolute = tarfile.TarInfo("/tmp/absolute.txt")
        absolute.size = len(payload)
        tar.addfile(absolute, io.BytesIO(payload))
        link = tarfile.TarInfo("job-output-link.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)

    before = sorted(Path("/tmp").glob("*.txt")) + sorted(tmp_path.parent.glob("*"))
    report = analyze(python_tar(hostile))
    (note,) = [n for n in report.notes if "refused" in n]
    assert "refused 3 member(s)" in note
    assert "'../../escape.txt' (its name leaves the archive)" in note
    assert "'/tmp/absolute.txt' (its name leaves the archive)" in note
    assert "'job-output-link.txt' (link to '/etc/passwd')" in note
    # The good members were still read, and nothing was written anywhere
    assert (report.tests.total, report.verdict) == (50, Verdict.FAILED_NEW)
    assert sorted(Path("/tmp").glob("*.txt")) + sorted(tmp_path.parent.glob("*")) == before
    assert "root:" not in str(report.model_dump())


def test_a_sparse_10_gib_member_written_by_gnu_tar_stops_the_index_at_its_header(tmp_path: Path):
    work = tmp_path / "job"
    work.mkdir()
    for name in ("testrepository.subunit", "job-output.txt"):
        (work / name).write_bytes((TREE / name).read_bytes())
    with open(work / "zz-disk.img", "wb") as sparse:
        sparse.truncate(10 * 1024**3)
    archive = tmp_path / "upload.tar.gz"
    subprocess.run(
        [
            "tar",
            "--sparse",
            "-czf",
            str(archive),
            "-C",
            str(work),
            "testrepository.subunit",
            "job-output.txt",
            "zz-disk.img",
        ],
        check=True,
    )
    assert archive.stat().st_size < 10 * 1024 * 1024
    report = analyze(archive.read_bytes())
    (note,) = [n for n in report.notes if "zz-disk.img" in n]
    assert (
        f"is {10 * 1024**3} bytes, over the" in note and "it and the members after it were not read" in note
    )
    assert report.tests.total == 50


def test_a_tar_bomb_is_refused_by_its_declared_sizes_before_it_is_inflated():
    # Forty members of 64 MiB of zeros each: 2.5 GiB declared, about 2.5 MiB compressed
    zeros = 64 * 1024 * 1024

    def bomb(tar: tarfile.TarFile) -> None:
        for n in range(40):
            member = tarfile.TarInfo(f"bomb/{n:02}.bin")
            member.size = zeros
            tar.addfile(member, _Zeros(zeros))

    data = python_tar(bomb)
    assert len(data) < 10 * 1024 * 1024
    report = analyze(data, max_run_bytes=512 * 1024 * 1024)
    (note,) = [n for n in report.notes if "tar bomb" in n]
    assert (
        "more than 536870912 bytes" in note and "'bomb/07.bin' and the members after it were not read" in note
    )
    assert report.tests.total == 50


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_a_huge_pax_or_long_name_header_is_refused_without_reading_it_into_memory(kind):
    import gzip
    import tracemalloc

    # A 300 MiB header of zeros that tarfile would read whole, in an archive of about 300 KB,
    # after the good members; written block by block, as an attacker's tool would
    claimed = 300 * 2**20
    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w", format=tarfile.GNU_FORMAT) as tar:
        good_members(tar)
    body = good.getvalue().rstrip(b"\0")
    body += b"\0" * (-len(body) % tarfile.BLOCKSIZE)
    header = tarfile.TarInfo("././@LongLink" if kind == tarfile.GNUTYPE_LONGNAME else "././@PaxHeader")
    header.type, header.size = kind, claimed
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as gz:
        gz.write(body + header.tobuf(format=tarfile.USTAR_FORMAT))
        for _ in range(claimed // 2**20):
            gz.write(bytes(2**20))
    assert len(out.getvalue()) < 2 * 2**20
    tracemalloc.start()
    try:
        report = analyze(out.getvalue())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Then the header is refused (noted), the members before it read, and memory stays small
    assert any("cut or corrupt after" in n for n in report.notes), report.notes
    assert report.tests.total == 50
    assert peak < 100 * 2**20, f"peak {peak >> 20} MiB"


def test_too_many_members_and_a_cut_archive_keep_what_came_before():
    from citriage.analyze.logs import archive

    many = python_tar(lambda tar: [_empty(tar, f"m/{n}") for n in range(archive.MAX_MEMBERS + 5)])
    report = analyze(many)
    assert any(f"more than {archive.MAX_MEMBERS} members" in n for n in report.notes)
    assert report.tests.total == 50
    cut = python_tar(lambda tar: [_empty(tar, f"m/{n}") for n in range(50)])
    report = analyze(cut[: len(cut) // 2])
    assert report.verdict is not Verdict.PASSED


def test_what_is_not_a_tar_gz_is_a_report_that_says_so():
    report = analyze(os.urandom(4096))
    assert report.verdict is Verdict.NO_RESULTS and not report.logs_read
    assert any("not a readable tar.gz" in n for n in report.notes)


def _empty(tar: tarfile.TarFile, name: str) -> None:
    tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


@pytest.fixture(autouse=True)
def _no_cwd_writes(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
