"""`citriage cluster search|info|propose --runs DIR [DIR ...]`: new failures of many local runs in
clusters, and the signature a cluster proposes (docs/clusters.md). No AWS is needed: each DIR is
a run's log tree (its name is the run's job and build), analysed as `citriage analyze` does.

Without `--runs`, the same over the API (`--from URL`, CITRIAGE_SERVER): `search` and `info`
ask it; `propose` takes the cluster from it and replays the pattern on its other clusters and on
the consoles of the cluster's jobs' last passing runs (`--allow-private` for a log server on
loopback, as `citriage serve` has).

The answer is the client's envelope: `{"invocation": {"status", "message"}, "returns": ...}`,
and the exit code its status (0 ok, 2 no such cluster, 5 refused options).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from citriage.analyze.logs.fetch import LocalLogTree, open_first, open_log_tree
from citriage.analyze.logs.streams import FetchBudget, iter_lines
from citriage.analyze.pipeline import CONSOLE_FILES
from citriage.cli import client
from citriage.cli.client import ClientFailure, Status
from citriage.cli.exits import printable
from citriage.clusters.grouping import clusters_of, propose
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import FetchFailed, FetchRefused
from citriage.models import RunEvent, RunReport, Verdict
from citriage.models.cluster import Cluster, Proposal
from citriage.models.query import Envelope, Invocation
from citriage.wiring import local_analyzer

# Over the API, a proposal is replayed on each of the cluster's jobs' last this many passing runs.
PASSING_RUNS = 5
# A passing run's files are replayed up to this much each, and this many files.
MAX_REPLAY_BYTES = 16 * 1024 * 1024
MAX_REPLAY_FILES = 200


def analysed(runs: list[str], known_issues: str | None) -> list[RunReport]:
    """Each local run directory's report, analysed as `citriage analyze` does."""
    fetch = FetchSettings.from_env()
    analyzer = local_analyzer(fetch, LayoutSettings.from_env(), Path(known_issues) if known_issues else None)
    reports = []
    for location in runs:
        path = Path(location)
        if not path.is_dir():
            raise ClientFailure(Status.REFUSED, f"--runs {location}: not a directory")
        name = path.resolve().name
        run = RunEvent(source="generic", job=name, build_id=name, log_url=path.resolve().as_uri())
        reports.append(analyzer.analyze(run))
    return reports


def _passing_lines(reports: list[RunReport]) -> Iterator[tuple[str, str, int, str]]:
    """Each line of each passing run's files: what a good signature never matches."""
    for report in reports:
        if report.verdict is not Verdict.PASSED:
            continue
        root = Path(report.run.log_url.removeprefix("file://"))
        tree = LocalLogTree(root, FetchBudget(MAX_REPLAY_BYTES, MAX_REPLAY_BYTES * MAX_REPLAY_FILES))
        for path in tree.listing([])[:MAX_REPLAY_FILES]:
            stream = tree.open(path)
            if stream is None:
                continue
            with stream:
                for number, line in enumerate(iter_lines(stream), 1):
                    yield report.run_id, path, number, line


def _find(clusters: list[Cluster], cluster_id: str | None) -> Cluster:
    if not cluster_id:
        raise ClientFailure(Status.REFUSED, "give --id CLUSTER (from `cluster search`)")
    found = next((c for c in clusters if c.id == cluster_id), None)
    if found is None:
        raise ClientFailure(Status.UNKNOWN_ID, f"no cluster {cluster_id} among the runs' new failures")
    return found


def proposal_for(
    runs: list[str], known_issues: str | None, cluster_id: str | None
) -> tuple[Cluster, Proposal]:
    """A cluster of the local runs and its proposal (`known-issues add --from-cluster`)."""
    reports = analysed(runs, known_issues)
    clusters = clusters_of(reports)
    cluster = _find(clusters, cluster_id)
    return cluster, propose(cluster, clusters, _passing_lines(reports))


def answer(args: argparse.Namespace) -> Any:
    """What the action returns: over `--runs`, or, for `search` and `info` without them, the API's."""
    if not args.runs:
        server, token = client._server_and_token(args)
        if args.cluster_action == "propose":
            return _remote_proposal(args, server, token).model_dump(mode="json")
        if args.cluster_action == "search":
            found = client.Action(help="clusters", method="GET", path=lambda o: "/clusters", query=("since",))
            return client.call(server, token, found, {"since": args.since})
        if not args.id:
            raise ClientFailure(Status.REFUSED, "give --id CLUSTER")
        one = client.Action(
            help="a cluster", method="GET", path=lambda o: f"/clusters/{client._seg(o['id'])}"
        )
        return client.call(server, token, one, {"id": args.id})
    reports = analysed(args.runs, args.known_issues)
    clusters = clusters_of(reports)
    if args.cluster_action == "search":
        return [c.model_dump(mode="json") for c in clusters]
    cluster = _find(clusters, args.id)
    if args.cluster_action == "info":
        return cluster.model_dump(mode="json")
    return propose(cluster, clusters, _passing_lines(reports)).model_dump(mode="json")


def _remote_proposal(args: argparse.Namespace, server: str, token: str | None) -> Proposal:
    """A cluster of the API's, proposed and replayed: on the other clusters of the last 30 days
    (their newest members) and on the consoles of each of its jobs' last passing runs, fetched
    from their log URLs as `citriage analyze` fetches one."""
    if not args.id:
        raise ClientFailure(Status.REFUSED, "give --id CLUSTER")
    one = client.Action(
        help="", method="GET", path=lambda o: f"/clusters/{client._seg(o['id'])}", query=("limit",)
    )
    cluster = Cluster.model_validate(client.call(server, token, one, {"id": args.id, "limit": 200}))
    listed = client.Action(help="", method="GET", path=lambda o: "/clusters", query=("since", "limit"))
    others = [
        Cluster.model_validate(c) for c in client.call(server, token, listed, {"since": "30d", "limit": 200})
    ]
    runs = client.Action(help="", method="GET", path=lambda o: "/runs", query=("job", "verdict", "limit"))
    passing = [
        run
        for job in sorted({m.job for m in cluster.members})
        for run in client.call(server, token, runs, {"job": job, "verdict": "passed", "limit": PASSING_RUNS})[
            "items"
        ]
    ]
    return propose(cluster, others, _fetched_lines(passing, args.allow_private))


def _fetched_lines(runs: list[dict[str, Any]], allow_private: bool) -> Iterator[tuple[str, str, int, str]]:
    """Each line of the passing runs' consoles (a run whose console cannot be read is left out)."""
    for run in runs:
        parts = urlsplit(str(run.get("log_url") or ""))
        host = parts.netloc if parts.scheme == "https" else f"http://{parts.netloc}"
        fetch = FetchSettings.from_env().model_copy(
            update={"log_hosts": [host], "allow_private_addresses": allow_private}
        )
        try:
            found = open_first(open_log_tree(str(run["log_url"]), fetch), CONSOLE_FILES)
        except (FetchFailed, FetchRefused):
            continue
        if found is None:
            continue
        name, stream = found
        with stream:
            for number, line in enumerate(iter_lines(stream), 1):
                yield str(run["run_id"]), name, number, line


def run(args: argparse.Namespace) -> int:
    """Print the envelope; exit with its status."""
    try:
        envelope = Envelope(invocation=Invocation(status=0, message="ok"), returns=answer(args))
    except ClientFailure as exc:
        envelope = Envelope(invocation=Invocation(status=exc.status, message=printable(str(exc))))
    print(envelope.model_dump_json(indent=2))
    return envelope.invocation.status


def register(sub: Any) -> None:
    """Add `cluster` to the CLI's subcommands."""
    cluster = sub.add_parser(
        "cluster", help="new failures of many runs in clusters, and the signatures they propose"
    )
    actions = cluster.add_subparsers(dest="cluster_action", required=True)
    for name, text in (
        ("search", "the clusters of the runs' new failures, biggest first"),
        ("info", "one cluster and its members"),
        ("propose", "an RE2 signature for a cluster, replayed on the other failures and the passing runs"),
    ):
        action = actions.add_parser(name, help=text)
        runs_help = "runs' log trees (one each); without them, the API's (--from)"
        action.add_argument("--runs", nargs="+", metavar="DIR", help=runs_help)
        if name == "search":
            action.add_argument(
                "--since", help="without --runs: clusters seen since (ISO, or 7d / 12h; default 7d)"
            )
        if name == "propose":
            action.add_argument(
                "--allow-private",
                action="store_true",
                help="without --runs: passing runs' logs may be on loopback",
            )
        action.add_argument("--known-issues", metavar="FILE", help="signatures: what they explain is not new")
        if name != "search":
            action.add_argument("--id", help="the cluster's id (`c-…`)")
        action.set_defaults(func=run)
