"""The `citriage` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from citriage.cli.known_issues import register as register_known_issues
from citriage.cli.subscriptions import register as register_subscriptions
from citriage.cli.templates import register as register_templates
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import CitriageError
from citriage.models import RunEvent, RunReport
from citriage.notify.render import MailRenderer
from citriage.notify.transports import FileTransport
from citriage.wiring import local_analyzer


def _analyze(args: argparse.Namespace) -> int:
    location = args.source
    is_url = location.startswith(("http://", "https://"))
    hosts = list(args.log_host or [])
    if is_url and not hosts:
        # Asked for one URL on the command line: that URL's host is the allowed one.
        parts = urlsplit(location)
        hosts = [parts.netloc if parts.scheme == "https" else f"http://{parts.netloc}"]
    fetch = FetchSettings.from_env().model_copy(
        update={"log_hosts": hosts, "allow_private_addresses": args.allow_private}
    )
    layout = LayoutSettings.from_env()
    if args.results:
        # Named on the command line: for this job, whatever its name.
        paths = {**layout.result_paths, "*": [*layout.result_paths.get("*", []), *args.results]}
        layout = layout.model_copy(update={"result_paths": paths})
    analyzer = local_analyzer(
        fetch,
        layout,
        Path(args.known_issues) if args.known_issues else None,
    )
    name = Path(location.rstrip("/")).name
    run = RunEvent(
        source=args.ci,
        job=args.job or name or "unknown-job",
        build_id=args.build_id or name or "local",
        result=args.result,
        log_url=location if is_url else Path(location).resolve().as_uri(),
    )
    report = analyzer.analyze(run)
    if args.format == "json":
        print(report.model_dump_json(indent=2))
    else:
        print(format_report(report))
    if args.out:
        message = MailRenderer().render(report, sender="citriage@localhost", recipients=["you@localhost"])
        path = FileTransport(Path(args.out)).send(message, "you@localhost")
        print(f"mail written: {path}", file=sys.stderr)
    return 0


def format_report(report: RunReport) -> str:
    """A human summary of a report for the terminal."""
    t = report.tests
    lines = [
        f"{report.run.job}: {report.verdict.value}",
        f"  tests: {t.total} total, {t.passed} passed, {t.failed} failed, {t.skipped} skipped"
        f" (from {report.results_file or 'no results file'})",
    ]
    for failure in report.failures:
        issue = f" {failure.known_issue.id} {failure.known_issue.bug_url}" if failure.known_issue else ""
        lines.append(f"  [{failure.classification.value}] {failure.test_id}{issue}")
        for evidence in failure.evidence[:1]:
            where = (
                f"{evidence.file}:{evidence.line}"
                if evidence.file and evidence.line
                else evidence.file or "-"
            )
            lines.append(f"      {evidence.matched_by or 'unexplained'} @ {where}: {evidence.excerpt[:160]}")
    for finding in report.infra:
        lines.append(
            f"  infra [{finding.category}] {finding.rule} @ {finding.file}:{finding.line}: "
            f"{finding.excerpt[:160]}"
        )
    lines.extend(f"  note: {note}" for note in report.notes)
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    from citriage.local.demo import run_demo  # noqa: PLC0415  # needs moto, which only the local extra installs

    return run_demo(Path(args.events), Path(args.out))


def _serve(args: argparse.Namespace) -> int:
    from citriage.local.serve import ServeOptions, serve  # noqa: PLC0415  # needs moto, which only the local extra installs

    def existing(path: str | None, default: str) -> Path | None:
        chosen = Path(path or default)
        return chosen if path or chosen.is_file() else None

    return serve(
        ServeOptions(
            host=args.host,
            port=args.port,
            out_dir=Path(args.out),
            log_hosts=list(args.log_host or []),
            serve_logs=Path(args.serve_logs) if args.serve_logs else None,
            known_issues=existing(args.known_issues, "events/known-issues.yaml"),
            subscriptions=existing(args.subscriptions, "events/subscriptions.yaml"),
            keys_file=Path(args.keys) if args.keys else None,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="citriage", description="CI failure triage: analyze runs, replay the demo."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    analyze = sub.add_parser("analyze", help="analyze a job's log tree (URL or local directory)")
    analyze.add_argument("source", help="log URL or local directory laid out like the log server")
    analyze.add_argument("--job", help="job name (for signature job scopes); default: the directory name")
    analyze.add_argument("--build-id", help="build id for the report; default: the directory name")
    analyze.add_argument("--result", help="the CI's result word, e.g. FAILURE, TIMED_OUT, SUCCESS")
    analyze.add_argument(
        "--ci", default="cli", help="the layout to read: zuul (default log tree), jenkins (build URL), openqa"
    )
    analyze.add_argument("--known-issues", metavar="FILE", help="YAML list of known-issue signatures")
    analyze.add_argument(
        "--results",
        action="append",
        metavar="GLOB",
        help="a result file or glob under the tree (repeatable; `**/` spans folders), read first",
    )
    analyze.add_argument("--format", choices=["text", "json"], default="text")
    analyze.add_argument("--out", metavar="DIR", help="also write the mail (.eml and .html) there")
    analyze.add_argument(
        "--log-host", action="append", help="allowed log host (repeatable); default: the URL's host"
    )
    analyze.add_argument(
        "--allow-private", action="store_true", help="allow log hosts on private/loopback addresses"
    )
    analyze.set_defaults(func=_analyze)

    demo = sub.add_parser("demo", help="replay the bundled events through the real handler chain, locally")
    demo.add_argument("--events", default="events", help="directory of bundled events and log trees")
    demo.add_argument("--out", default="out", help="where the mails are written")
    demo.set_defaults(func=_demo)

    register_subscriptions(sub)
    register_templates(sub)
    register_known_issues(sub)

    serve = sub.add_parser(
        "serve", help="the webhook routes on localhost with an embedded AWS endpoint and in-process workers"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks one)")
    serve.add_argument("--out", default="out", help="where the mails are written (default out/)")
    serve.add_argument(
        "--log-host",
        action="append",
        help="allowed log or CI API host (repeatable), e.g. http://127.0.0.1:8081",
    )
    serve.add_argument("--serve-logs", metavar="DIR", help="also serve DIR as a local log server (allowed)")
    serve.add_argument(
        "--known-issues", metavar="FILE", help="YAML signatures (default events/known-issues.yaml if present)"
    )
    serve.add_argument(
        "--subscriptions",
        metavar="FILE",
        help="YAML subscriptions (default events/subscriptions.yaml if present)",
    )
    serve.add_argument(
        "--keys", metavar="FILE", help='JSON {"<source>": "<key>"} to use instead of random webhook keys'
    )
    serve.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `citriage` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CitriageError, OSError, ValueError) as exc:
        print(f"citriage: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
