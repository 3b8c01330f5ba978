"""The demo's outage: a mirror that stops resolving for three jobs, then recovers; the incident
it opens, its two alerts, and the held runs rechecked on a stand-in Gerrit (docs/incidents.md)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.sources.zuul import SIGNATURE_HEADER
from citriage.local.embedded import HandlerChain
from citriage.local.loopback import serving_on_loopback

# The Gerrit account the demo's rechecks log in as (the stand-in checks nothing else).
DEMO_GERRIT_LOGIN = "citriage-demo:demo-http-password"
# (job, minutes ago it ended, log tree): five runs of three jobs within 25 minutes on the mirror,
# then two clean runs of two of those jobs.
OUTAGE = [
    ("tempest-full", 30, "mirror-outage"),
    ("devstack", 27, "mirror-outage"),
    ("grenade", 20, "mirror-outage"),
    ("tempest-full", 12, "mirror-outage"),
    ("devstack", 5, "mirror-outage"),
]
RECOVERY = [("tempest-full", 2, "tempest-passing"), ("grenade", 1, "tempest-passing")]


@dataclass
class StandInGerrit:
    """A Gerrit on loopback that takes review POSTs and keeps them: (path, message)."""

    url: str = ""
    reviews: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def stand_in_gerrit() -> Iterator[StandInGerrit]:
    """Run a StandInGerrit for the duration of the block."""
    gerrit = StandInGerrit()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 65536))
            try:
                message = str(json.loads(body).get("message", ""))
            except (ValueError, AttributeError):
                message = ""
            with lock:
                gerrit.reviews.append((self.path, message))
            answer = b")]}'\n{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # the stdlib's parameter name
            """Quiet."""

    with serving_on_loopback(Handler) as gerrit.url:
        yield gerrit


def _payload(job: str, n: int, ended: datetime, tree: str, log_server: str, gerrit: str) -> dict[str, Any]:
    """A Zuul reporter message of one check build of a Gerrit change."""
    build = uuid.uuid5(uuid.NAMESPACE_URL, f"citriage-demo-outage/{n}/{ended:%Y%m%d%H%M}").hex
    change = str(900100 + n)
    result = "SUCCESS" if tree == "tempest-passing" else "FAILURE"
    return {
        "uuid": uuid.uuid5(uuid.NAMESPACE_URL, f"buildset/{build}").hex,
        "action": "success" if result == "SUCCESS" else "failure",
        "tenant": "openstack",
        "pipeline": "check",
        "project": "openstack/nova",
        "branch": "master",
        "change": change,
        "patchset": "1",
        "change_url": f"{gerrit}/c/openstack/nova/+/{change}",
        "buildset": {
            "uuid": uuid.uuid5(uuid.NAMESPACE_URL, f"buildset/{build}").hex,
            "result": result,
            "builds": [
                {
                    "job_name": job,
                    "voting": True,
                    "uuid": build,
                    "start_time": (ended - timedelta(minutes=30)).timestamp(),
                    "end_time": ended.timestamp(),
                    "log_url": f"{log_server}/{tree}/",
                    "web_url": f"https://zuul.example.org/t/openstack/build/{build}",
                    "result": result,
                }
            ],
        },
    }


def replay_outage(chain: HandlerChain, key: str, log_server: str, gerrit: str) -> list[str]:
    """Post the outage's runs, analyse them, then the recovery's; the run ids, in order."""
    now = datetime.now(UTC).replace(microsecond=0)
    run_ids: list[str] = []
    for n0, batch in ((0, OUTAGE), (len(OUTAGE), RECOVERY)):
        for n, (job, ago, tree) in enumerate(batch, n0 + 1):
            body = json.dumps(
                _payload(job, n, now - timedelta(minutes=ago), tree, log_server, gerrit)
            ).encode()
            status, answer = chain.post("zuul", body, {SIGNATURE_HEADER: sign_hmac_sha256(body, key)})
            if status != 202:
                raise RuntimeError(f"the outage's run {n}: webhook answered {status}: {answer}")
            run_ids.extend(answer["accepted"])
        chain.run_pending()
    return run_ids
