"""Load and crash harness for `citriage serve --state`: a burst of signed webhooks and redeliveries,
`kill -9` in the middle of it, a restart on the same state, the CI's retries; then every run
answered 202 must have exactly one mail, and nothing must be mailed twice.

    python bench/load.py [--webhooks 1000] [--redeliveries 200] [--kill-after 500]

Prints accepted/s and the p50/p99 of the 202 answers (the baseline is the same burst against
`serve --no-state` in the same run, median of 3 when --repeat 3), then the checks. Exits 1 when
a check fails. tests/e2e/test_serve_durable.py runs it small.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "layers" / "citriage"))

from citriage.intake.sources.auth import sign_hmac_sha256  # noqa: E402  # after the path above
from citriage.local.loopback import serve_directory  # noqa: E402
from citriage.notify.transports import safe_name  # noqa: E402

EVENTS = REPO / "events"
KEY = "load-generic-key"
SUBSCRIBER = "nova-core@example.org"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Serve:
    """`citriage serve` as a separate process, started and killed like a user would."""

    def __init__(self, workdir: Path, port: int, log_server: str, state: bool) -> None:
        keys = workdir / "keys.json"
        keys.write_text(json.dumps({"generic": KEY}))
        self.url = f"http://127.0.0.1:{port}"
        self.out = workdir / "out"
        self.args = [
            sys.executable,
            "-m",
            "citriage.cli.main",
            "serve",
            "--port",
            str(port),
            "--log-host",
            log_server,
            "--out",
            str(self.out),
            "--keys",
            str(keys),
            "--known-issues",
            str(EVENTS / "known-issues.yaml"),
            "--subscriptions",
            str(EVENTS / "subscriptions.yaml"),
            *([] if state else ["--no-state"]),
        ]
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            self.args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        ready: queue.Queue[str] = queue.Queue()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                if line.startswith("citriage serve: listening on"):
                    ready.put(line)

        threading.Thread(target=read, daemon=True).start()
        try:
            ready.get(timeout=120)
        except queue.Empty:
            raise RuntimeError("serve did not start:\n" + "\n".join(self.output[-30:])) from None

    def kill(self) -> None:
        """kill -9: no chance to save anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Post:
    """One delivery: which run, how it was answered, and how long the answer took."""

    run: int
    status: int | None = None
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    seconds: float = 0.0


# A burst spreads over this many jobs (each job's history is read when its mail is made).
JOBS = 50


def body_of(run: int, log_server: str) -> bytes:
    """The generic source's report of one failing build (the bundled example, numbered), of one
    of JOBS jobs."""
    document = json.loads(
        (EVENTS / "generic" / "build-failed.json").read_text().replace("${LOG_SERVER}", log_server)
    )
    document["build_id"] = document["build_id"].replace("/981", f"/{run}")
    document["job"] = f"{document['job']}-{run % JOBS}"
    return json.dumps(document).encode()


def run_id_of(run: int) -> str:
    return f"generic:ci.example.org/tempest-integrated-storage/{run}"


def deliver(url: str, run: int, body: bytes) -> Post:
    post = Post(run)
    started = time.monotonic()
    try:
        response = requests.post(
            f"{url}/hooks/generic",
            data=body,
            headers={"X-Citriage-Signature": sign_hmac_sha256(body, KEY)},
            timeout=120,
        )
    except requests.RequestException:
        return post
    post.seconds = time.monotonic() - started
    post.status = response.status_code
    if response.status_code == 202:
        answer = response.json()
        post.accepted, post.duplicates = answer["accepted"], answer["duplicates"]
    return post


def burst(
    url: str, plan: list[int], bodies: dict[int, bytes], concurrency: int, stop_after: int | None, kill
) -> tuple[list[Post], float]:
    """Deliver the plan concurrently; after `stop_after` 202 answers, call `kill`."""
    posts: list[Post] = []
    lock = threading.Lock()
    killed = threading.Event()
    started = time.monotonic()

    def one(run: int) -> None:
        if killed.is_set():
            posts.append(Post(run))
            return
        post = deliver(url, run, bodies[run])
        with lock:
            posts.append(post)
            answered = sum(1 for p in posts if p.status == 202)
            if stop_after is not None and answered >= stop_after and not killed.is_set():
                killed.set()
                kill()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, plan))
    return posts, time.monotonic() - started


def mails(out: Path) -> dict[str, os.stat_result]:
    return {path.name: path.stat() for path in sorted(out.glob("*.eml"))}


def expected_mail(run: int) -> str:
    return f"{safe_name(run_id_of(run))}__{safe_name(SUBSCRIBER)}.eml"


@dataclass
class LoadResult:
    """What a load run measured and found."""

    accepted_per_second: float
    p50: float
    p99: float
    answered_before_kill: int
    problems: list[str]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def run_load(
    workdir: Path,
    webhooks: int,
    redeliveries: int,
    kill_after: int | None,
    state: bool = True,
    concurrency: int = 16,
    settle_seconds: float = 600,
) -> LoadResult:
    """One load run; with `kill_after`, a kill -9 after that many 202s, then a restart."""
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    with serve_directory(EVENTS / "logs") as log_server:
        bodies = {run: body_of(run, log_server) for run in range(1, webhooks + 1)}
        plan = list(bodies) + [rng.randint(1, webhooks) for _ in range(redeliveries)]
        rng.shuffle(plan)
        serve = Serve(workdir, _free_port(), log_server, state)
        serve.start()
        problems: list[str] = []
        try:
            posts, seconds = burst(serve.url, plan, bodies, concurrency, kill_after, serve.kill)
            answered = [p for p in posts if p.status == 202]
            first_accepted = {p.run for p in answered if p.accepted}
            latencies = [p.seconds for p in answered]
            result = LoadResult(
                accepted_per_second=len(answered) / seconds if seconds else 0.0,
                p50=_percentile(latencies, 0.5),
                p99=_percentile(latencies, 0.99),
                answered_before_kill=len(answered),
                problems=problems,
            )
            before = mails(serve.out)
            if kill_after is not None:
                # The CI retries what got no answer; redeliveries of accepted runs come again too.
                serve.start()
                retry = [run for run in bodies if run not in {p.run for p in answered}]
                again = sorted(first_accepted)[: max(1, redeliveries)]
                later, _ = burst(serve.url, retry + again, bodies, concurrency, None, serve.kill)
                for post in later:
                    if post.status != 202:
                        problems.append(f"run {post.run}: answered {post.status} after the restart")
                    elif post.run in first_accepted and post.accepted:
                        problems.append(f"run {post.run} was accepted again after the restart")
            _wait_for_mails(serve.out, webhooks, settle_seconds)
            after = mails(serve.out)
            wanted = {expected_mail(run) for run in bodies}
            problems += [f"no mail for {name}" for name in sorted(wanted - set(after))]
            problems += [f"unexpected mail {name}" for name in sorted(set(after) - wanted)]
            for name, seen in before.items():
                now = after.get(name)
                if now is None or (now.st_ino, now.st_mtime_ns) != (seen.st_ino, seen.st_mtime_ns):
                    problems.append(f"{name} was written again after the restart")
            return result
        finally:
            serve.stop()


def _wait_for_mails(out: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(mails(out)) < count:
        time.sleep(0.5)
    # Anything still on its way (a second copy) has a moment to show up.
    time.sleep(3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--redeliveries", type=int, default=200)
    parser.add_argument("--kill-after", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case (the median is printed)")
    parser.add_argument("--workdir", type=Path, default=REPO / "out" / "load")
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    figures: dict[str, list[LoadResult]] = {"no state (baseline)": [], "state": []}
    failed = False
    for n in range(args.repeat):
        for case, results in figures.items():
            durable = case == "state"
            result = run_load(
                args.workdir / f"{stamp}-{case.split()[0]}-{n}",
                args.webhooks,
                args.redeliveries,
                args.kill_after if durable else None,
                state=durable,
                concurrency=args.concurrency,
            )
            results.append(result)
            for problem in result.problems[:20]:
                print(f"  PROBLEM ({case}): {problem}")
            failed |= bool(result.problems)
    baseline = statistics.median(r.accepted_per_second for r in figures["no state (baseline)"])
    print(f"{'case':22} {'accepted/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs baseline':>12}")
    for case, results in figures.items():
        rate = statistics.median(r.accepted_per_second for r in results)
        p50 = statistics.median(r.p50 for r in results) * 1000
        p99 = statistics.median(r.p99 for r in results) * 1000
        print(f"{case:22} {rate:10.1f} {p50:8.1f} {p99:8.1f} {rate / baseline:11.2f}x")
    killed = figures["state"][0].answered_before_kill
    verdict = "every accepted run mailed exactly once" if not failed else "CHECKS FAILED"
    print(
        f"state: kill -9 after {killed} answers of {args.webhooks} webhooks + "
        f"{args.redeliveries} redeliveries, restart: {verdict}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
