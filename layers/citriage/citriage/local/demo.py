"""`citriage demo`: the bundled Zuul events, through the real handlers, on the embedded endpoint."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from citriage.adapters.aws.clients import AwsClients
from citriage.errors import InputError
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.sources.zuul import SIGNATURE_HEADER
from citriage.local.embedded import EmbeddedAws, HandlerChain, serve_directory
from citriage.models import Classification
from citriage.notify.transports import safe_name
from citriage.wiring import run_store, seed_tables

DEMO_SENDER = "citriage@example.org"
DEMO_ENV = {
    # Keep the demo's output to its summary lines: warnings only, no EMF metric blobs.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def new_run_folder(parent: Path, kind: str) -> Path:
    """A folder of this run's own under `parent` (`demo-20261205-133000`, `-2` if taken): the
    demo writes there and deletes nothing, so nothing a user or another run left is touched."""
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = parent / (f"{kind}-{stamp}" if n == 1 else f"{kind}-{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise InputError(f"{parent}: no free name for a {kind} folder")


def run_demo(events_dir: Path, parent: Path) -> int:
    """Replay every `events/zuul/*.json` payload; print a line per run; return 0 on success. Mails
    go to a new folder under `parent`, named in the output."""
    os.environ.update(DEMO_ENV)
    payloads = sorted((events_dir / "zuul").glob("*.json"))
    if not payloads:
        print(f"no Zuul events under {events_dir / 'zuul'}")
        return 1
    out_dir = new_run_folder(parent, "demo")
    aws = EmbeddedAws()
    aws.start()
    try:
        with serve_directory(events_dir / "logs") as log_server:
            stack = aws.provision(DEMO_SENDER, [log_server], out_dir.resolve())
            clients = AwsClients()
            seed_tables(
                stack.env, clients, events_dir / "known-issues.yaml", events_dir / "subscriptions.yaml"
            )
            chain = HandlerChain(stack)
            run_ids: list[str] = []
            print(f"embedded AWS endpoint {stack.endpoint}; log server {log_server}")
            for path in payloads:
                body = path.read_text("utf-8").replace("${LOG_SERVER}", log_server).encode("utf-8")
                headers = {SIGNATURE_HEADER: sign_hmac_sha256(body, stack.webhook_keys["zuul"])}
                status, response = chain.post("zuul", body, headers)
                if status != 202:
                    print(f"{path.name}: webhook answered {status}: {response}")
                    return 1
                run_ids.extend(response["accepted"])
            chain.run_pending()
            runs = run_store(stack.env["RUNS_TABLE"], clients)
            print(
                f"{'job':34} {'verdict':13} {'tests':>5} {'fail':>4} "
                f"{'new':>3} {'known':>5} {'infra':>5}  mails"
            )
            for run_id in run_ids:
                report = runs.get_report(run_id)
                if report is None:
                    print(f"{run_id}: not analysed (see the analyze queue's DLQ)")
                    continue
                mails = sorted(out_dir.glob(f"{safe_name(run_id)}__*.html"))
                counts = [len(report.failures_by(c)) for c in Classification]
                print(
                    f"{report.run.job:34} {report.verdict.value:13} "
                    f"{report.tests.total:5} {report.tests.failed:4} "
                    f"{counts[0]:3} {counts[1]:5} {counts[2]:5}  "
                    + (", ".join(str(m) for m in mails) or "(no subscriber wanted this verdict)")
                )
            print(f"mails: {len(list(out_dir.glob('*.eml')))} .eml and .html pairs under {out_dir}/")
    finally:
        aws.stop()
    return 0
