"""Signature engine throughput: a >= 100 MB generated CI log scanned with 10 .. 5,000 signatures.

Prints, from one run, for each signature count:
- MB/s of the engine (citriage.analyze.matching.engine, one RE2 Set per block of lines), over the raw file
  (`LineScanner.scan_stream`) and over str lines fed one by one (`LineScanner.feed`, the path the
  analyzer uses today);
- the ratio against a naive baseline: a Python `re.search` loop over every signature for every
  line (what Jenkins' Build Failure Analyzer does), measured on a slice of the log and scaled;
- the ratio against only gunzipping the same log.
The log is generated in a temporary directory and removed afterwards. Runs on one core.

Environment: BENCH_LOG_MB (default 100) sets the log size.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import resource
import tempfile
import time
import zlib
from datetime import date
from pathlib import Path

from citriage.analyze.logs.fetch import open_log_tree
from citriage.analyze.logs.streams import FetchBudget
from citriage.analyze.matching.compiled import fingerprint
from citriage.analyze.matching.engine import BLOCK_BYTES
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.pipeline import analyze_run
from citriage.config import FetchSettings
from citriage.known_issues.signatures import SignatureSet
from citriage.models import KnownIssue, RunEvent

COUNTS = (10, 100, 1000, 5000)
SEED = 20261121
SERVICES = ["nova", "neutron", "cinder", "glance", "keystone", "swift", "placement", "octavia", "heat"]
MODULES = [
    "compute.manager",
    "api.openstack",
    "scheduler.filter",
    "agent.ovs",
    "volume.manager",
    "db.api",
    "conductor.tasks",
    "network.neutron",
    "virt.libvirt.driver",
    "common.rpc",
]
NOUNS = [
    "instance",
    "volume",
    "port",
    "server",
    "image",
    "router",
    "subnet",
    "flavor",
    "snapshot",
    "keypair",
    "quota",
    "aggregate",
    "hypervisor",
    "allocation",
    "listener",
    "pool",
    "stack",
]
VERBS = [
    "attach",
    "detach",
    "build",
    "delete",
    "resize",
    "migrate",
    "rebuild",
    "boot",
    "spawn",
    "evacuate",
    "shelve",
    "rescue",
    "snapshot",
    "backup",
    "extend",
    "retype",
    "bind",
]
STATES = ["ACTIVE", "ERROR", "BUILD", "in-use", "available", "attaching", "detaching", "DOWN"]
ERRORS = [
    "TimeoutError",
    "ConnectionRefusedError",
    "MessagingTimeout",
    "DBDeadlock",
    "NotFound",
    "Conflict",
    "BadRequest",
    "InternalServerError",
    "ProcessExecutionError",
    "OSError",
]


def log_lines(rnd: random.Random) -> list[str]:
    """A pool of realistic devstack/tempest/ansible console lines (with a Zuul prefix)."""
    pool = []
    for n in range(40_000):
        kind = n % 8
        svc, mod, noun, verb = rnd.choice(SERVICES), rnd.choice(MODULES), rnd.choice(NOUNS), rnd.choice(VERBS)
        uuid = (
            f"{rnd.getrandbits(32):08x}-{rnd.getrandbits(16):04x}-4{rnd.getrandbits(12):03x}-"
            f"a{rnd.getrandbits(12):03x}-{rnd.getrandbits(48):012x}"
        )
        req = f"req-{rnd.getrandbits(32):08x}-{rnd.getrandbits(16):04x}"
        if kind in (0, 1, 2):
            level = rnd.choice(["DEBUG", "DEBUG", "DEBUG", "INFO", "WARNING", "ERROR"])
            body = (
                f"{svc}-api[{rnd.randint(1000, 99999)}]: {level} {svc}.{mod} [None {req} admin admin] "
                f"[{noun}: {uuid}] {verb} {noun} took {rnd.random() * 9:.2f} seconds"
            )
        elif kind == 3:
            body = (
                f"{{{rnd.randint(0, 7)}}} tempest.api.compute.{noun}s.test_{verb}.{noun.title()}Test."
                f"test_{verb}_{noun} [{rnd.random() * 30:.3f}s] ... {rnd.choice(['ok'] * 20 + ['FAILED'])}"
            )
        elif kind == 4:
            body = rnd.choice(
                [
                    f"TASK [{svc} : {verb} {noun}] " + "*" * 40,
                    "ok: [controller]",
                    "changed: [controller]",
                    f"skipping: [compute{rnd.randint(1, 3)}]",
                ]
            )
        elif kind == 5:
            body = (
                f'DEBUG oslo_concurrency.processutils [-] CMD "sudo {svc}-rootwrap /etc/{svc}/rootwrap.conf '
                f'ip netns exec qrouter-{uuid} ip -4 addr show" returned: 0 in {rnd.random():.3f}s'
            )
        elif kind == 6:
            body = (
                f'  File "/opt/stack/{svc}/{svc}/{mod.replace(".", "/")}.py", line {rnd.randint(10, 3000)}, '
                f"in _{verb}_{noun}"
            )
        else:
            body = (
                f"{svc}.{mod} {uuid} {rnd.choice(ERRORS)}: {noun} {uuid} is in state "
                f"{rnd.choice(STATES)} while {verb}ing"
            )
        stamp = (
            f"2026-11-20 {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}.{n:06d}"
        )
        pool.append(f"{stamp} | controller | {body}")
    return pool


def signature_patterns(count: int, rnd: random.Random) -> list[str]:
    """Realistic, mostly literal patterns with some regex features (classes, groups, `.*`)."""
    patterns: list[str] = []
    seen: set[str] = set()
    while len(patterns) < count:
        i = len(patterns)
        svc, noun, verb, err = rnd.choice(SERVICES), rnd.choice(NOUNS), rnd.choice(VERBS), rnd.choice(ERRORS)
        state, code = rnd.choice(STATES), rnd.randint(1000, 99999)
        candidates = [
            rf"{noun.title()} [0-9a-f-]{{36}} failed to reach {state} status \(current {verb}ing\) E{code}",
            rf"{err}: Timed out waiting for a reply to message ID [0-9a-f]{{32}} \({svc}-{code}\)",
            rf"{svc}\.\w+ .*{err}: Unable to {verb} {noun} {code}",
            rf"(?i)failed to {verb} {noun} on host \S+: libvirt error {code}",
            rf"Details: {{'{noun}': {{'code': {code}, 'message': '.*{verb}",
            rf"^{svc}-{noun}-{code} (ERROR|CRITICAL) ",
            f"Failed to establish authenticated ssh connection to cirros@{code}",
            rf"{err} while {verb}ing {noun}s in {svc}: (?P<reason>[^,]+), code {code}",
        ]
        pattern = candidates[i % len(candidates)]
        if pattern not in seen:
            seen.add(pattern)
            patterns.append(pattern)
    return patterns


def hit_line(pattern: str) -> str | None:
    """A log line that a few of the generated patterns are planted on (so hits are located too)."""
    if pattern.startswith("Failed to establish authenticated ssh connection to cirros@"):
        return "tempest.lib.exceptions.SSHTimeout: " + pattern
    return None


def write_log(directory: Path, target_bytes: int, signatures: list[str], rnd: random.Random) -> Path:
    """Write the log (and plant a few hits of literal signatures), return its path."""
    pool = log_lines(rnd)
    planted = [line for line in (hit_line(p) for p in signatures[:1000]) if line][:20]
    path = directory / "job-output.txt"
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target_bytes:
            chunk = rnd.choices(pool, k=5000)
            if planted and rnd.random() < 0.5:
                chunk[rnd.randrange(len(chunk))] = "2026-11-20 12:00:00.000000 | controller | " + rnd.choice(
                    planted
                )
            text = "\n".join(chunk) + "\n"
            out.write(text)
            written += len(text)
    return path


def issues(patterns: list[str]) -> list[KnownIssue]:
    """Known issues around the patterns."""
    return [
        KnownIssue(
            id=f"SIG-{i:05d}", title=f"generated {i}", bug_url=f"https://bugs.example.org/{i}", pattern=p
        )
        for i, p in enumerate(patterns)
    ]


def engine_stream(path: Path, sigs: SignatureSet) -> tuple[float, int]:
    """Seconds to scan the file as bytes blocks, and the hits found."""
    start = time.perf_counter()
    scanner = sigs.scanner("job-output.txt")
    with path.open("rb") as stream:
        scanner.scan_stream(stream)
    return time.perf_counter() - start, len(scanner.hits)


def engine_lines(path: Path, sigs: SignatureSet) -> tuple[float, int]:
    """Seconds to read the file as str lines and feed them one by one, and the hits found."""
    start = time.perf_counter()
    scanner = sigs.scanner("job-output.txt")
    feed = scanner.feed
    with path.open("r", encoding="utf-8", errors="replace", newline="\n") as stream:
        for number, line in enumerate(stream, 1):
            feed(number, line.rstrip("\n"))
    return time.perf_counter() - start, len(scanner.hits)


def naive_mb_per_s(path: Path, patterns: list[str], budget_searches: int = 3_000_000) -> float:
    """Build Failure Analyzer style: every signature `re.search`ed on every line, over a slice."""
    compiled = [re.compile(p) for p in patterns]
    lines: list[str] = []
    size = 0
    wanted_lines = max(200, budget_searches // len(patterns))
    with path.open("r", encoding="utf-8") as stream:
        for line in stream:
            lines.append(line.rstrip("\n"))
            size += len(line.encode("utf-8"))
            if len(lines) >= wanted_lines:
                break
    start = time.perf_counter()
    for line in lines:
        for rx in compiled:
            if rx.search(line):
                pass
    return size / 1e6 / (time.perf_counter() - start)


def analyze_seconds(directory: Path, sigs: SignatureSet) -> float:
    """Seconds for the whole analysis of the log tree (console parser, error lines, signatures, rules)."""
    settings = FetchSettings()
    start = time.perf_counter()
    tree = open_log_tree(str(directory), settings, FetchBudget(10**10, 10**10), allow_local=True)
    run = RunEvent(source="bench", job="tempest-full", build_id="1", log_url=str(directory))
    analyze_run(run, tree, sigs, InfraRuleSet(load_builtin_rules()))
    return time.perf_counter() - start


def gunzip_seconds(gz_path: Path) -> float:
    """Seconds to only decompress the gzipped log, streaming, output discarded."""
    start = time.perf_counter()
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with gz_path.open("rb") as stream:
        while chunk := stream.read(BLOCK_BYTES):
            inflater.decompress(chunk)
    inflater.flush()
    return time.perf_counter() - start


def main() -> None:
    """Generate, measure, print."""
    rnd = random.Random(SEED)
    target = int(float(os.environ.get("BENCH_LOG_MB", "100")) * 1_000_000)
    all_patterns = signature_patterns(max(COUNTS), rnd)
    with tempfile.TemporaryDirectory(prefix="citriage-bench-") as tmp:
        directory = Path(tmp)
        t0 = time.perf_counter()
        path = write_log(directory, target, all_patterns, rnd)
        size = path.stat().st_size
        gz_path = directory / "job-output.txt.gz"
        with path.open("rb") as src, gzip.open(gz_path, "wb", compresslevel=6) as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        mb = size / 1e6
        print(
            f"log: {mb:.1f} MB, {gz_path.stat().st_size / 1e6:.1f} MB gzipped "
            f"(generated in {time.perf_counter() - t0:.1f} s); block {BLOCK_BYTES // 1024} KB; one core"
        )
        gunzip = gunzip_seconds(gz_path)
        print(f"gunzip only: {gunzip:.2f} s = {mb / gunzip:.0f} MB/s")
        print(
            f"{'sigs':>5} {'compile s':>9} {'stream MB/s':>11} {'lines MB/s':>10} {'hits':>5} "
            f"{'naive MB/s':>10} {'x naive':>8} {'x gunzip':>8}"
        )
        seconds: dict[int, float] = {}
        for count in COUNTS:
            patterns = all_patterns[:count]
            t1 = time.perf_counter()
            sigs = SignatureSet(issues(patterns), date(2026, 11, 21))
            compile_s = time.perf_counter() - t1
            stream_s, hits = engine_stream(path, sigs)
            lines_s, line_hits = engine_lines(path, sigs)
            assert hits == line_hits, (hits, line_hits)
            naive = naive_mb_per_s(path, patterns)
            if count == 1000:
                analysis_s = analyze_seconds(directory, sigs)
            seconds[count] = stream_s
            print(
                f"{count:>5} {compile_s:>9.2f} {mb / stream_s:>11.0f} {mb / lines_s:>10.0f} {hits:>5} "
                f"{naive:>10.2f} {mb / stream_s / naive:>8.0f} {stream_s / gunzip:>8.2f}"
            )
            del sigs
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        digest = fingerprint((p, False) for p in all_patterns)[:12]
        print(f"peak RSS: {peak:.0f} MB; fingerprint of the 5,000 signatures: {digest}")
        print(
            f"whole analyze_run on the same log with 1,000 signatures (console parser, error lines, "
            f"rules, signatures): {mb / analysis_s:.0f} MB/s"
        )
        rate_1000 = mb / seconds[1000]
        ratio = seconds[5000] / seconds[10]
        print(
            f"target >= 100 MB/s with 1,000 signatures: {rate_1000:.0f} MB/s -> "
            f"{'met' if rate_1000 >= 100 else 'NOT met'}"
        )
        print(f"target 5,000 cost < 2x 10: {ratio:.2f}x -> {'met' if ratio < 2 else 'NOT met'}")
        print("(x naive: engine stream MB/s over naive MB/s; x gunzip: engine time over gunzip time)")


if __name__ == "__main__":
    main()
