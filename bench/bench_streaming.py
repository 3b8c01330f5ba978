"""Streaming analysis of a huge console: a job-output.txt.gz that inflates to 1 GiB.

Each case runs in its own subprocess, and its peak RSS is read from that child's own
rusage (os.wait4), so the figures do not mix. Cases:

* inflate: ISA-L's inflate of the file, output dropped (the floor for decompressing it);
* baseline: `gzip.open` and line iteration, nothing else (the floor for reading the file);
* local: `analyze_run` on a local tree (fetch caps, inflate, console parser, signature and
  infra-rule scanners);
* http: the same over a local HTTP server (the parent process serves the file).

Prints MB/s of inflated console, peak RSS, and each case's time as a ratio of the baseline and of
the inflate case.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gzip
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from citriage.analyze.logs.fetch import open_log_tree
from citriage.analyze.logs.streams import FetchBudget
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules

# The baseline case must not pay for importing citriage: these are cheap enough to share.
from citriage.analyze.pipeline import analyze_run
from citriage.config import FetchSettings
from citriage.known_issues.signatures import SignatureSet
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.models import RunEvent

REPO = Path(__file__).resolve().parents[1]
LINES = [
    "2026-11-20 10:00:01.123456 | controller | + lib/nova:start_nova_compute:1012 : "
    "sudo systemctl start devstack@n-cpu.service",
    "2026-11-20 10:00:01.223456 | controller | {0} tempest.api.compute.servers.test_servers."
    "ServersTestJSON.test_update_server_name [2.345s] ... ok",
    "2026-11-20 10:00:01.323456 | controller | DEBUG oslo_concurrency.lockutils [-] Lock "
    '"compute_resources" acquired by "nova.compute.resource_tracker._update" :: waited 0.000s',
    "2026-11-20 10:00:01.423456 | controller | ok: [controller] => (item=/opt/stack/logs/screen-n-api.txt)",
]
RSS_LIMIT_MB = 300


def make_console(directory: Path, size_mb: int) -> Path:
    """A job-output.txt.gz inflating to `size_mb` MiB: one 8 MiB member repeated (a valid
    multi-member gzip file, as `gzip -c a b` writes), made in seconds."""
    block_lines: list[str] = []
    size = 0
    while size < 8 * 1024 * 1024:
        line = LINES[len(block_lines) % len(LINES)]
        block_lines.append(line)
        size += len(line) + 1
    block = ("\n".join(block_lines) + "\n").encode()
    member = gzip.compress(block, compresslevel=6, mtime=0)
    target = directory / "job-output.txt.gz"
    copies = max(1, (size_mb * 1024 * 1024) // len(block))
    with target.open("wb") as out:
        for _ in range(copies):
            out.write(member)
    (directory / "inflated-bytes").write_text(str(copies * len(block)))
    return target


def child(case: str, tree: str, url: str | None) -> None:
    """One case, run inside its own process. Prints a JSON line with its figures."""
    started = time.perf_counter()
    if case == "inflate":
        from isal import isal_zlib  # noqa: PLC0415  # this case only

        inflated = 0
        decoder = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
        with (Path(tree) / "job-output.txt.gz").open("rb") as raw:
            while chunk := raw.read(1 << 20):
                while chunk:
                    if decoder.eof:
                        decoder = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
                    inflated += len(decoder.decompress(chunk))
                    chunk = decoder.unused_data if decoder.eof else b""
        extra: dict[str, object] = {"inflated": inflated}
    elif case == "baseline":
        lines = 0
        with gzip.open(Path(tree) / "job-output.txt.gz", "rb") as stream:
            for _ in stream:
                lines += 1
        extra = {"lines": lines}
    else:
        cap = 4 * 1024 * 1024 * 1024
        settings = FetchSettings(
            log_hosts=[url] if url else [],
            allow_private_addresses=True,
            max_file_bytes=cap,
            max_run_bytes=cap,
        )
        location = url if case == "http" else tree
        tree_obj = open_log_tree(location, settings, FetchBudget(cap, cap), allow_local=True)
        issues = load_known_issues_yaml((REPO / "events" / "known-issues.yaml").read_text("utf-8"))
        run = RunEvent(
            source="zuul", job="tempest-full", build_id="bench", result="FAILURE", log_url=location
        )
        signatures = SignatureSet(issues, datetime.datetime.now(datetime.UTC).date())
        report = analyze_run(run, tree_obj, signatures, InfraRuleSet(load_builtin_rules()))
        extra = {"verdict": report.verdict.value, "tests": report.tests.total, "notes": report.notes}
    print(json.dumps({"seconds": time.perf_counter() - started, **extra}))


def run_case(case: str, tree: Path, url: str | None) -> dict[str, object]:
    """Run one case in a subprocess; its figures plus its own peak RSS (MiB)."""
    command = [sys.executable, __file__, "--child", case, "--tree", str(tree)]
    if url:
        command += ["--url", url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"case {case} failed ({process.returncode})")
    figures: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    figures["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return figures


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A local log server for the http case, in this (parent) process."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the tree without logging each request."""

    def log_message(self, format: str, *args: object) -> None:  # the base class names it so
        """No request log."""


def main() -> int:
    """Generate the console, run the cases, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024, help="inflated size of the console")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tree, args.url)
        return 0
    with tempfile.TemporaryDirectory(prefix="citriage-bench-") as tmp:
        tree = Path(tmp)
        started = time.perf_counter()
        gz = make_console(tree, args.size_mb)
        inflated = int((tree / "inflated-bytes").read_text())
        (tree / "inflated-bytes").unlink()
        print(
            f"console: {gz.stat().st_size / 2**20:.1f} MiB gzip -> {inflated / 2**20:.0f} MiB inflated "
            f"(made in {time.perf_counter() - started:.1f}s)",
            flush=True,
        )
        server, url = serve(tree)
        try:
            results = {
                case: run_case(case, tree, url if case == "http" else None)
                for case in ("inflate", "baseline", "local", "http")
            }
        finally:
            server.shutdown()
    base = float(results["baseline"]["seconds"])  # type: ignore[arg-type]
    floor = float(results["inflate"]["seconds"])  # type: ignore[arg-type]
    print(
        f"{'case':<10}{'seconds':>9}{'MB/s':>9}{'peak RSS MB':>13}{'x baseline':>12}{'x inflate':>11}  result"
    )
    worst = 0.0
    for case, figures in results.items():
        seconds = float(figures["seconds"])  # type: ignore[arg-type]
        rss = float(figures["peak_rss_mb"])  # type: ignore[arg-type]
        worst = max(worst, rss) if case in ("local", "http") else worst
        outcome = figures.get("verdict", f"{figures.get('lines', figures.get('inflated'))} lines/bytes")
        speed = inflated / 1e6 / seconds
        ratios = f"{seconds / base:>12.2f}{seconds / floor:>11.2f}"
        print(f"{case:<10}{seconds:>9.1f}{speed:>9.1f}{rss:>13.0f}{ratios}  {outcome}")
    for case in ("local", "http"):
        notes = results[case].get("notes") or []
        if notes:
            print(f"{case} notes: {notes}")
    verdict = "OK" if worst < RSS_LIMIT_MB else "OVER"
    print(f"peak RSS of the analysis: {worst:.0f} MB (limit {RSS_LIMIT_MB} MB): {verdict}")
    return 0 if worst < RSS_LIMIT_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
