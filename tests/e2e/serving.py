"""`citriage serve` started as a user starts it: its own process on a free port, serving the
bundled log trees and signatures, with its output read line by line."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests
from citriage.intake.sources.auth import sign_hmac_sha256

from tests.conftest import EVENTS, REPO


def read_lines(stream, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


def wait_for(lines: queue.Queue[str], prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=deadline - time.monotonic())
        except queue.Empty:
            break
        if line.startswith(prefix):
            return line
    raise AssertionError(f"serve never printed {prefix!r}")


def launch_serve(out: Path, keys: Path, *extra: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """`citriage serve --port 0` with the bundled logs, signatures and subscriptions (and `extra`
    options); its process and the queue its output lines arrive on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "citriage.cli.main",
            "serve",
            "--port",
            "0",
            "--serve-logs",
            str(EVENTS / "logs"),
            "--out",
            str(out),
            "--keys",
            str(keys),
            "--known-issues",
            str(EVENTS / "known-issues.yaml"),
            "--subscriptions",
            str(EVENTS / "subscriptions.yaml"),
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    return process, lines


def post_generic(
    url: str,
    log_server: str,
    key: str,
    job: str,
    build: int,
    logs: str,
    ended: datetime,
    wall: timedelta = timedelta(hours=1),
    project: str | None = None,
) -> None:
    """A CI's signed generic webhook for one build of `job` whose logs are the bundled tree
    `logs` (it passed when that tree is tempest-passing), ended at `ended` after `wall`."""
    body = json.dumps(
        {
            "job": job,
            "build_id": f"ci.example.org/{job}/{build}",
            "result": "SUCCESS" if logs == "tempest-passing" else "FAILURE",
            "log_url": f"{log_server}/{logs}/",
            **({"project": project} if project else {}),
            "start_time": (ended - wall).isoformat(),
            "end_time": ended.isoformat(),
        }
    ).encode()
    answer = requests.post(
        f"{url}/hooks/generic",
        data=body,
        headers={"X-Citriage-Signature": sign_hmac_sha256(body, key)},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
