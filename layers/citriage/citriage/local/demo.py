"""`citriage demo`: the bundled Zuul events, through the real handlers, on the embedded endpoint."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.holds import HeldRunStore
from citriage.adapters.aws.incidents import IncidentStore
from citriage.errors import InputError
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.sources.zuul import SIGNATURE_HEADER
from citriage.local.embedded import EmbeddedAws, HandlerChain
from citriage.local.loopback import serve_directory
from citriage.local.outage import DEMO_GERRIT_LOGIN, StandInGerrit, replay_outage, stand_in_gerrit
from citriage.local.seed import seed_tables
from citriage.models import Classification, parse_time
from citriage.notify.transports import safe_name
from citriage.notify.wording import duration_text
from citriage.wiring import run_store

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
        with serve_directory(events_dir / "logs") as log_server, stand_in_gerrit() as gerrit:
            # The stand-in Gerrit is where the outage's held runs are rechecked.
            tokens = {"gerrit": {gerrit.url.split("://", 1)[1]: DEMO_GERRIT_LOGIN}}
            stack = aws.provision(DEMO_SENDER, [log_server, gerrit.url], out_dir.resolve(), ci_tokens=tokens)
            clients = AwsClients()
            seed_tables(
                stack.env, clients, events_dir / "known-issues.yaml", events_dir / "subscriptions.yaml"
            )
            chain = HandlerChain(stack)
            print(f"embedded AWS endpoint {stack.endpoint}; log server {log_server}")
            run_ids = post_bundled(chain, stack.webhook_keys["zuul"], payloads, log_server)
            if run_ids is None:
                return 1
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
            show_outage(chain, stack.webhook_keys["zuul"], log_server, gerrit, out_dir)
            print(f"mails: {len(list(out_dir.glob('*.eml')))} .eml and .html pairs under {out_dir}/")
    finally:
        aws.stop()
    return 0


def show_outage(chain: HandlerChain, key: str, log_server: str, gerrit: StandInGerrit, out_dir: Path) -> None:
    """Replay the outage and its recovery; print the incident, its alerts and the rechecks."""
    run_ids = replay_outage(chain, key, log_server, gerrit.url)
    clients = AwsClients()
    table = clients.table(chain.stack.env["INCIDENTS_TABLE"])
    now = datetime.now(UTC)
    incidents = IncidentStore(table, clients.dynamodb_client).between(now - timedelta(days=1), now)
    print(f"outage: {len(run_ids)} runs (5 on one unreachable mirror, then 2 clean runs)")
    for incident in incidents:
        lasted = f", lasted {duration_text(incident.duration_seconds)}" if incident.duration_seconds else ""
        print(
            f"  incident {incident.id}: {incident.category} {incident.service}, {incident.run_count} runs "
            f"of {len(incident.jobs)} jobs, {incident.state.value} by {incident.closed_by or '-'}{lasted}"
        )
        for alert in sorted(out_dir.glob(f"{incident.id}.*.html")):
            print(f"  alert: {alert}")
        for held in HeldRunStore(table).held_of(incident.id):
            what = held.recheck.action if held.recheck else held.released_because or "waiting"
            print(f"  held {held.run_id} ({held.run.job}): {held.state.value}: {what}")
    for path, message in gerrit.reviews:
        # A recheck is its whole comment; a buildset's review, its first line.
        print(f"  stand-in Gerrit got {(message.splitlines() or [''])[0]!r} on {path}")


def post_bundled(
    chain: HandlerChain, key: str, payloads: list[Path], log_server: str, ended_ago: timedelta | None = None
) -> list[str] | None:
    """POST each bundled Zuul payload to the webhook function, signed with `key`; the run ids
    accepted (None when one was refused, said on stdout). With `ended_ago`, each payload's times
    are moved (together) so that its build ended that long ago."""
    run_ids: list[str] = []
    for path in payloads:
        text = path.read_text("utf-8").replace("${LOG_SERVER}", log_server)
        if ended_ago is not None:
            text = json.dumps(_moved(json.loads(text), ended_ago))
        body = text.encode("utf-8")
        status, response = chain.post("zuul", body, {SIGNATURE_HEADER: sign_hmac_sha256(body, key)})
        if status != 202:
            print(f"{path.name}: webhook answered {status}: {response}")
            return None
        run_ids.extend(response["accepted"])
    return run_ids


def _moved(payload: Any, ended_ago: timedelta) -> Any:
    """A Zuul payload with every `*_time` (epoch seconds, or ISO text as Zuul's builds give it)
    moved by one shift, so that the latest is `ended_ago`."""
    stamps: list[float] = []

    def seconds(value: Any) -> float | None:
        # Zuul's times as the run model reads them (epoch seconds or ISO text).
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        try:
            parsed = parse_time(value)
        except ValueError:
            return None
        return parsed.timestamp() if isinstance(parsed, datetime) else None

    def shifted(value: Any, shift: float) -> Any:
        if isinstance(value, str):
            return datetime.fromtimestamp((seconds(value) or 0.0) + shift, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return value + shift

    def walk(node: Any, shift: float | None) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                stamp = seconds(value) if key.endswith("_time") else None
                if stamp is None:
                    out[key] = walk(value, shift)
                    continue
                stamps.append(stamp)
                out[key] = value if shift is None else shifted(value, shift)
            return out
        if isinstance(node, list):
            return [walk(item, shift) for item in node]
        return node

    walk(payload, None)
    if not stamps:
        return payload
    return walk(payload, (datetime.now(UTC) - ended_ago).timestamp() - max(stamps))
