"""Webhook intake cost per source: authenticate, parse, normalise, dedupe, enqueue one request,
with in-memory ports (so this is citriage's own work, not DynamoDB's or SQS's).

Prints microseconds per request and the ratio to Zuul's (the skeleton's only source),
measured in the same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.unit.fakes

from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.webhook import WebhookService

from tests.unit.fakes import FakeDedupe, FakeKeys, FakeQueue

EVENTS = Path(__file__).resolve().parent.parent / "events"
KEY = "bench-key"
REQUESTS = 2000
PAYLOADS = {
    "zuul": EVENTS / "zuul" / "tempest-mixed.json",
    "jenkins": EVENTS / "jenkins" / "notification-completed.json",
    "github": EVENTS / "github" / "workflow_run-completed.json",
    "gitlab": EVENTS / "gitlab" / "pipeline-failed.json",
    "openqa": EVENTS / "openqa" / "job-done.json",
    "generic": EVENTS / "generic" / "build-failed.json",
}


def headers(source: str, body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    signature = sign_hmac_sha256(body, KEY)
    return {
        "X-Citriage-Signature": signature,
        "X-Hub-Signature-256": signature,
        "X-Gitlab-Token": KEY,
        "X-Citriage-Token": KEY,
    }, {}


def per_request(source: str) -> float:
    text = PAYLOADS[source].read_text().replace("${CI_SERVER}", "https://ci.example.org")
    body = text.replace("${LOG_SERVER}", "https://logs.example.org").encode()
    signed, query = headers(source, body)
    best = float("inf")
    for _ in range(3):
        dedupe = FakeDedupe()
        service = WebhookService(FakeKeys({source: KEY}), dedupe, FakeQueue(), 1 << 20)
        start = time.perf_counter()
        for _ in range(REQUESTS):
            dedupe.claims.clear()  # every request is a first delivery: the full path runs
            outcome = service.receive(source, signed, body, query)
        best = min(best, (time.perf_counter() - start) / REQUESTS)
        assert outcome.accepted, source
    return best


def main() -> None:
    """Print the figures."""
    baseline = per_request("zuul")
    print(f"{'source':8} {'bytes':>6} {'us/request':>11} {'vs zuul':>8}")
    for source, path in PAYLOADS.items():
        cost = baseline if source == "zuul" else per_request(source)
        print(f"{source:8} {len(path.read_bytes()):6} {cost * 1e6:11.1f} {cost / baseline:7.2f}x")
    print(f"best of 3 rounds of {REQUESTS} requests per source")


if __name__ == "__main__":
    main()
