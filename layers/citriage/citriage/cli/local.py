"""`citriage demo` and `citriage serve`: the real handlers on an embedded AWS endpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


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
            serve_logs=Path(args.serve_logs)
            if args.serve_logs
            else Path(args.events) / "logs"
            if args.demo
            else None,
            known_issues=existing(args.known_issues, "events/known-issues.yaml"),
            subscriptions=existing(args.subscriptions, "events/subscriptions.yaml"),
            keys_file=Path(args.keys) if args.keys else None,
            ci_tokens_file=Path(args.ci_tokens) if args.ci_tokens else None,
            round_seconds=args.round_seconds,
            gerrit_url=args.gerrit_url,
            state_dir=None if args.no_state else Path(args.state or Path(args.out) / "state"),
            demo_events=Path(args.events) if args.demo else None,
        )
    )


def register(sub: Any) -> None:
    """Add `demo` and `serve` to the CLI's subcommands."""
    demo = sub.add_parser("demo", help="replay the bundled events through the real handler chain, locally")
    demo.add_argument("--events", default="events", help="directory of bundled events and log trees")
    demo.add_argument("--out", default="out", help="where the mails are written")
    demo.set_defaults(func=_demo)

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
    serve.add_argument(
        "--ci-tokens",
        metavar="FILE",
        help='JSON {"<source>": {"<host>": "<credential>"}}: the CI API tokens secret (API reads, rechecks)',
    )
    serve.add_argument(
        "--round-seconds",
        type=float,
        default=60.0,
        help="how often the incidents' round runs: quiet incidents, held runs past their limit (default 60)",
    )
    serve.add_argument(
        "--gerrit-url",
        metavar="URL",
        help="post reviews to this Gerrit (a test Gerrit); its credential is --ci-tokens' gerrit entry, "
        "or --keys' gerrit entry (user:http-password)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="replay the bundled Zuul events at start (as if just run), so the dashboard has runs to show",
    )
    serve.add_argument(
        "--events", default="events", help="where --demo finds the bundled events (default events/)"
    )
    state = serve.add_mutually_exclusive_group()
    state.add_argument(
        "--state",
        metavar="DIR",
        help="keep tables, queues and keys here across restarts (default <out>/state)",
    )
    state.add_argument("--no-state", action="store_true", help="keep everything in memory: lost when stopped")
    serve.set_defaults(func=_serve)
