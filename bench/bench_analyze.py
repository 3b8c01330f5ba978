"""What users see: the whole `citriage analyze` process on big artifacts, against the floor of
reading them, measured in the same run (fresh processes, median of 3, peak RSS of each).

* a gzipped console (BENCH_CONSOLE_GZ_MB, default 400 MB of gzip) of realistic devstack and
  tempest lines with 1,000 realistic signatures, a signature's line planted at 60% of it and a
  full disk at 95%, a small JUnit result file beside it (so the console is scanned, not parsed
  for tempest results); against ISA-L inflating the same file. The console and run caps are raised
  so that it is read whole, and both planted lines must be found;
* a subunit v2 stream of 50,000 tests (500 failing), against python-subunit parsing it alone;
* a JUnit file of 200,000 cases (2,000 failing), against an iterparse of it alone.

Each line prints seconds, MB/s, peak RSS and the ratio to its floor.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_signatures as generated  # the same realistic lines and signatures

REPO = Path(__file__).resolve().parents[1]
REPEAT = 3
CITRIAGE = Path(sys.executable).parent / "citriage"
DISK_FULL = "2026-11-20 23:59:59.000000 | controller | OSError: [Errno 28] No space left on device"

_FLOOR = {
    "inflate": """
from isal import isal_zlib
decoder = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
with open(PATH, "rb") as raw:
    while chunk := raw.read(1 << 20):
        while chunk:
            if decoder.eof:
                decoder = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
            decoder.decompress(chunk)
            chunk = decoder.unused_data if decoder.eof else b""
""",
    "subunit": """
import subunit, testtools
with open(PATH, "rb") as raw:
    subunit.ByteStreamToStreamResult(raw).run(testtools.StreamResult())
""",
    "junit": """
from xml.etree.ElementTree import iterparse
for event, elem in iterparse(PATH):
    if elem.tag == "testcase":
        elem.clear()
""",
}


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Seconds and peak RSS (MB, the child's own rusage) of one fresh process, and its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=REPO, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({process.returncode})")
    return seconds, usage.ru_maxrss / 1024, output


def median_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    runs = [measured(command, env) for _ in range(REPEAT)]
    return (
        statistics.median(r[0] for r in runs),
        max(r[1] for r in runs),
        runs[-1][2],
    )


def floor(kind: str, path: Path) -> tuple[float, float, str]:
    return median_of([sys.executable, "-c", f"PATH = {str(path)!r}\n" + _FLOOR[kind]])


def analyze(tree: Path, known_issues: Path | None) -> tuple[float, float, dict[str, object]]:
    env = dict(
        os.environ, MAX_CONSOLE_BYTES=str(64 << 30), MAX_RUN_BYTES=str(64 << 30), MAX_FILE_SECONDS="3600"
    )
    command = [str(CITRIAGE), "analyze", str(tree), "--result", "FAILURE", "--format", "json"]
    if known_issues:
        command += ["--known-issues", str(known_issues)]
    seconds, rss, output = median_of(command, env)
    return seconds, rss, json.loads(output)


def write_console(directory: Path, gz_bytes: int, patterns: list[str]) -> tuple[Path, int]:
    """A gzipped console of about `gz_bytes`, with a signature line at 60% and a disk-full line
    at 95% of it (by compressed size); its inflated size."""
    rnd = random.Random(generated.SEED)
    pool = generated.log_lines(rnd)
    planted = "2026-11-20 12:00:00.000000 | controller | tempest.lib.exceptions.SSHTimeout: " + next(
        p for p in patterns if p.startswith("Failed to establish authenticated ssh connection")
    )
    path = directory / "job-output.txt.gz"
    inflated = 0
    marks = {int(gz_bytes * 0.6): planted, int(gz_bytes * 0.95): DISK_FULL}
    with path.open("wb") as raw, igzip.open(raw, "wb", compresslevel=1) as out:
        while raw.tell() < gz_bytes:
            text = "\n".join(rnd.choices(pool, k=20_000)) + "\n"
            for mark in [m for m in marks if raw.tell() >= m]:
                text += marks.pop(mark) + "\n"
            data = text.encode()
            out.write(data)
            inflated += len(data)
    return path, inflated


def write_subunit(path: Path, tests: int) -> None:
    sys.path.insert(0, str(REPO))
    from tests.subunit_writer import subunit_stream  # noqa: PLC0415  # python-subunit's own writer

    cases = [
        (
            f"tempest.api.compute.test_{n % 97}.Test{n % 13}.test_{n}",
            "fail" if n % 100 == 0 else "success",
            "",
        )
        for n in range(tests)
    ]
    cases = [
        (t, s, "Traceback (most recent call last):\nValueError: boom" if s == "fail" else "")
        for t, s, _ in cases
    ]
    path.write_bytes(subunit_stream(cases))


def write_junit(path: Path, cases: int) -> None:
    with path.open("w") as out:
        out.write('<?xml version="1.0"?>\n<testsuites><testsuite name="bench">\n')
        for n in range(cases):
            body = '<failure message="AssertionError: 1 != 2">Traceback\nAssertionError: 1 != 2</failure>'
            out.write(
                f'<testcase classname="pkg.mod{n % 50}.TestThing" name="test_{n}" time="0.01">'
                f"{body if n % 100 == 0 else ''}</testcase>\n"
            )
        out.write("</testsuite></testsuites>\n")


def line(case: str, size_mb: float, seconds: float, rss: float, base: float, floor_name: str) -> None:
    print(
        f"{case:<42}{seconds:>8.2f} s{size_mb / seconds:>9.0f} MB/s{rss:>8.0f} MB RSS"
        f"{seconds / base:>8.2f}x {floor_name}",
        flush=True,
    )


def main() -> None:
    gz_mb = float(os.environ.get("BENCH_CONSOLE_GZ_MB", "400"))
    with tempfile.TemporaryDirectory(prefix="citriage-bench-") as tmp:
        root = Path(tmp)
        patterns = generated.signature_patterns(1000, random.Random(generated.SEED))
        known = root / "known-issues.yaml"
        known.write_text(
            yaml.safe_dump(
                [
                    {
                        "id": f"SIG-{i:04d}",
                        "title": f"generated {i}",
                        "bug_url": f"https://bugs/{i}",
                        "pattern": p,
                    }
                    for i, p in enumerate(patterns)
                ]
            )
        )
        tree = root / "console"
        tree.mkdir()
        started = time.perf_counter()
        gz, inflated = write_console(tree, int(gz_mb * 1e6), patterns)
        # The job's result file beside it, as a tempest job has: the console is scanned, not parsed.
        write_junit(tree / "junit.xml", 100)
        print(
            f"console: {gz.stat().st_size / 1e6:.0f} MB gzip -> {inflated / 1e6:.0f} MB "
            f"(made in {time.perf_counter() - started:.0f} s); median of {REPEAT}",
            flush=True,
        )
        base, base_rss, _ = floor("inflate", gz)
        line("ISA-L inflate (floor)", inflated / 1e6, base, base_rss, base, "inflate")
        seconds, rss, report = analyze(tree, known)
        line("citriage analyze, 1,000 signatures", inflated / 1e6, seconds, rss, base, "inflate")
        hits = {h["issue"]["id"] for h in report.get("log_hits", [])} | {
            f["known_issue"]["id"] for f in report.get("failures", []) if f.get("known_issue")
        }
        disk = [f for f in report.get("infra", []) if f.get("category") == "disk"]
        print(f"  planted signature at 60% found: {bool(hits)}; disk full at 95% found: {bool(disk)}")
        gz.unlink()

        for kind, name, writer, count in (
            ("subunit", "tempest.subunit", write_subunit, 50_000),
            ("junit", "junit.xml", write_junit, 200_000),
        ):
            tree = root / kind
            tree.mkdir()
            path = tree / name
            writer(path, count)
            size = path.stat().st_size / 1e6
            base, base_rss, _ = floor(kind, path)
            line(f"{kind} parse alone (floor)", size, base, base_rss, base, kind)
            seconds, rss, report = analyze(tree, None)
            line(f"citriage analyze, {count:,} {kind} tests", size, seconds, rss, base, kind)
            print(f"  totals: {report['tests']}")


if __name__ == "__main__":
    main()
