"""`citriage analyze SOURCE`: the Lambda's analysis of one run, from a log URL or a directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from citriage.cli.exits import FAIL_ON, Exit, exit_for, printable
from citriage.cli.progress import fetch_progress
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import InputError
from citriage.models import RunEvent, RunReport, SourceName
from citriage.notify.render import MailRenderer
from citriage.notify.transports import FileTransport
from citriage.wiring import local_analyzer


def _fail_on(values: list[str] | None) -> list[str]:
    words = [w.strip() for value in values or [] for w in value.split(",") if w.strip()]
    unknown = sorted(set(words) - set(FAIL_ON))
    if unknown:
        raise InputError(f"--fail-on: unknown verdict word {unknown[0]!r} (known: {', '.join(FAIL_ON)})")
    return words


def run(args: argparse.Namespace) -> int:
    """Analyse the run; print the report; exit by docs/cli.md's table."""
    fail_on = _fail_on(args.fail_on)
    location = args.source
    is_url = location.startswith(("http://", "https://"))
    if not is_url and not Path(location).is_dir():
        what = "not a directory" if Path(location).exists() else "no such directory"
        raise InputError(f"{location}: {what} (give a log URL or a local directory)")
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
    analyzer = local_analyzer(fetch, layout, Path(args.known_issues) if args.known_issues else None)
    name = Path(location.rstrip("/")).name
    event = RunEvent(
        source=args.ci,
        job=args.job or name or "unknown-job",
        build_id=args.build_id or name or "local",
        result=args.result,
        log_url=location if is_url else Path(location).resolve().as_uri(),
    )
    with fetch_progress(enabled=not args.quiet) as progress:
        report = analyzer.analyze(event, progress=progress)
    if args.format == "json":
        print(report.model_dump_json(indent=2))
    else:
        print(format_report(report))
    if args.out:
        message = MailRenderer().render(report, sender="citriage@localhost", recipients=["you@localhost"])
        path = FileTransport(Path(args.out)).send(message, "you@localhost")
        if not args.quiet:
            print(f"mail written: {path}", file=sys.stderr)
    return int(exit_for(report, fail_on))


def format_report(report: RunReport) -> str:
    """A human summary of a report for the terminal (log text escaped: it is untrusted)."""
    t = report.tests
    lines = [
        f"{report.run.job}: {report.verdict.value}",
        f"  tests: {t.total} total, {t.passed} passed, {t.failed} failed, {t.skipped} skipped"
        f" (from {report.results_file or 'no results file'})",
    ]
    for failure in report.failures:
        issue = f" {failure.known_issue.id} {failure.known_issue.bug_url}" if failure.known_issue else ""
        env = f" [{failure.env}]" if failure.env else ""
        lines.append(f"  [{failure.classification.value}] {failure.test_id}{env}{issue}")
        if failure.message:
            lines.append(f"      {failure.message[:200]}")
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
    for hit in report.log_hits:
        lines.append(f"  also in the logs: {hit.issue.id} @ {hit.file}:{hit.line}: {hit.excerpt[:160]}")
    lines.extend(f"  note: {note}" for note in report.notes)
    return printable("\n".join(lines))


def register(sub: Any) -> None:
    """Add `analyze` to the CLI's subcommands."""
    analyze = sub.add_parser("analyze", help="analyze a job's log tree (URL or local directory)")
    analyze.add_argument(
        "source", help="log URL or local directory (listed: results are found where they lie)"
    )
    analyze.add_argument("--job", help="job name (for signature job scopes); default: the directory name")
    analyze.add_argument("--build-id", help="build id for the report; default: the directory name")
    analyze.add_argument("--result", help="the CI's result word, e.g. FAILURE, TIMED_OUT, SUCCESS")
    analyze.add_argument(
        "--ci",
        default=SourceName.GENERIC.value,
        choices=[s.value for s in SourceName],
        help="the CI whose layout to read (default generic: a plain log tree)",
    )
    analyze.add_argument("--known-issues", metavar="FILE", help="YAML list of known-issue signatures")
    analyze.add_argument(
        "--results",
        action="append",
        metavar="GLOB",
        help="a result file or glob under the tree (repeatable; `**/` spans folders), read first",
    )
    analyze.add_argument(
        "--fail-on",
        action="append",
        metavar="WORDS",
        help=f"exit 1 when the verdict is one of these ({', '.join(FAIL_ON)}; repeatable or comma-separated)",
    )
    analyze.add_argument("--format", choices=["text", "json"], default="text")
    analyze.add_argument("--out", metavar="DIR", help="also write the mail (.eml and .html) there")
    analyze.add_argument(
        "--log-host", action="append", help="allowed log host (repeatable); default: the URL's host"
    )
    analyze.add_argument(
        "--allow-private", action="store_true", help="allow log hosts on private/loopback addresses"
    )
    analyze.set_defaults(func=run)


__all__ = ["Exit", "format_report", "register", "run"]
