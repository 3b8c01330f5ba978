"""`citriage known-issues import|export|list|add|remove|test`: signatures in YAML files and the table.

`test` replays candidate signatures over the stored runs before they are saved, and reports
their hits on failed runs and on passed runs: a good signature does not hit passing runs
(elastic-recheck's rule, checked for you). Stored reports hold each failure's traceback and
the log lines used as evidence; `--fetch` also reads each run's console log again.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from citriage.adapters.aws.clients import AwsClients, aws_errors
from citriage.config import FetchSettings, KnownIssuesCliSettings
from citriage.errors import CitriageError, InputError, InvalidSignature, read_input
from citriage.known_issues.bugs import with_bug_details
from citriage.known_issues.lifecycle import lifecycle_flags
from citriage.known_issues.replay import console_reader, format_replay, replay
from citriage.known_issues.yaml_file import YamlKnownIssues, dump_known_issues_yaml, load_known_issues_yaml
from citriage.models import IssueCategory, KnownIssue
from citriage.ports import KnownIssueRepository
from citriage.wiring import known_issue_store, run_store


def _table_name(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> str:
    name = args.table or settings.known_issues_table
    if not name:
        raise CitriageError("no known-issues table: pass --table NAME or set KNOWN_ISSUES_TABLE")
    return str(name)


def _repository(
    args: argparse.Namespace, settings: KnownIssuesCliSettings, create: bool = False
) -> KnownIssueRepository:
    """The file (`--file`; `create`: a missing one starts empty) or the table."""
    if getattr(args, "file", None):
        return YamlKnownIssues(Path(args.file), create=create)
    return known_issue_store(_table_name(args, settings), AwsClients(interactive=True))


def _import(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    # Every signature is checked before any is written: a bad file changes nothing.
    if args.source_format == "yaml":
        issues = load_known_issues_yaml(read_input(Path(args.source)), args.source)
    else:
        issues = _translated(args)
    repository = _repository(args, settings, create=True)
    repository.put_many([_looked_up(issue, args) for issue in issues])
    print(f"imported {len(issues)} signature(s)")
    return 0


def _translated(args: argparse.Namespace) -> list[KnownIssue]:
    """elastic-recheck's queries or a BFA export, translated; what could not be is listed."""
    from citriage.known_issues.importers import from_bfa, from_elastic_recheck  # noqa: PLC0415 - import only

    source = Path(args.source)
    if args.source_format == "elastic-recheck":
        if not source.is_dir():
            raise InputError(f"{source}: not a directory (give elastic-recheck's queries/ directory)")
        result = from_elastic_recheck(source)
    else:
        result = from_bfa(read_input(source))
    print(f"translated {len(result.translated)}, untranslatable {len(result.untranslated)}")
    for entry in result.untranslated:
        print(f"  untranslatable {entry.source}: {entry.reason}")
    return result.translated


def _export(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    text = dump_known_issues_yaml(issue for issue, _ in _repository(args, settings).list_with_stats())
    if args.out:
        Path(args.out).write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _list(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    rows = sorted(_repository(args, settings).list_with_stats(), key=lambda row: row[0].id)
    now = datetime.now(UTC)
    if args.format == "json":
        data = [
            issue.model_dump(mode="json", exclude_none=True)
            | {"stats": stats.model_dump(mode="json"), "flags": lifecycle_flags(issue, stats, now)}
            for issue, stats in rows
        ]
        print(json.dumps(data, indent=2))
        return 0
    for issue, stats in rows:
        state = "" if issue.is_active(now.date()) else " (expired)"
        state += f" bug={issue.bug_status}" if issue.bug_status else ""
        last = stats.last_hit_at.isoformat(timespec="seconds") if stats.last_hit_at else "never"
        print(
            f"{issue.id} [{issue.category.value}]{state} hits={stats.hits} runs={stats.runs_hit} "
            f"last={last}  {issue.title}"
        )
        for flag in lifecycle_flags(issue, stats, now):
            print(f"  {flag}")
    return 0


def _add(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    if args.from_cluster:
        _from_cluster(args)
    missing = [f"--{name}" for name in ("id", "title", "pattern") if not getattr(args, name)]
    if missing:
        raise InputError(f"known-issues add needs {', '.join(missing)} (or --from-cluster ID --runs DIR ...)")
    try:
        issue = KnownIssue(
            id=args.id,
            title=args.title,
            bug_url=args.bug_url,
            pattern=args.pattern,
            category=IssueCategory(args.category),
            jobs=args.job or [],
            tests=args.test or [],
            files=args.log_file or [],
            multiline=args.multiline,
            expires=date.fromisoformat(args.expires) if args.expires else None,
            message=args.message,
        )
    except ValueError as exc:
        raise InvalidSignature(f"signature {args.id!r}: {exc}") from exc
    _repository(args, settings, create=True).put(_looked_up(issue, args))
    print(f"added {issue.id}")
    return 0


def _from_cluster(args: argparse.Namespace) -> None:
    """Fill the signature from a cluster's proposal, which must be good (it matches every member
    and no other failure and no line of a passing run)."""
    from citriage.cli.cluster import proposal_for  # noqa: PLC0415 - only this option needs analysis

    if not args.runs:
        raise InputError("--from-cluster needs the runs it was found in: --runs DIR [DIR ...]")
    cluster, proposal = proposal_for(args.runs, getattr(args, "known_issues_file", None), args.from_cluster)
    if not proposal.good:
        raise InputError(f"the proposal for {cluster.id} is not good: {proposal.why}")
    args.pattern = args.pattern or proposal.pattern
    args.id = args.id or cluster.id
    args.title = args.title or cluster.sample[:200]
    print(f"proposal for {cluster.id}: {proposal.why}")


def _looked_up(issue: KnownIssue, args: argparse.Namespace) -> KnownIssue:
    if not args.lookup_bugs:
        return issue
    fetch = FetchSettings.from_env().model_copy(update={"allow_private_addresses": args.allow_private})
    issue, note = with_bug_details(issue, fetch)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return issue


def _remove(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    repository = _repository(args, settings)
    missing = [issue_id for issue_id in args.ids if repository.get(issue_id) is None]
    if missing:
        raise CitriageError(f"no such signature: {', '.join(missing)}")
    for issue_id in args.ids:
        repository.delete(issue_id)
        print(f"removed {issue_id}")
    return 0


def _test(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    aws = AwsClients(interactive=True)
    target = Path(args.candidate)
    if target.is_file():
        candidates = load_known_issues_yaml(read_input(target), str(target))
    else:
        found = known_issue_store(_table_name(args, settings), aws).get(args.candidate)
        if found is None:
            raise CitriageError(f"{args.candidate!r} is neither a YAML file nor a stored signature id")
        candidates = [found]
    runs_table = args.runs_table or settings.runs_table
    if not runs_table:
        raise CitriageError("no runs table: pass --runs-table NAME or set RUNS_TABLE")
    reader = None
    if args.fetch:
        fetch = FetchSettings.from_env()
        updates: dict[str, Any] = {}
        if args.log_host:
            updates["log_hosts"] = list(args.log_host)
        if args.allow_private:
            updates["allow_private_addresses"] = True
        reader = console_reader(fetch.model_copy(update=updates))
    notes: list[str] = []
    results = replay(
        candidates,
        run_store(runs_table, aws).scan_reports(),
        datetime.now(UTC).date(),
        reader,
        notes,
    )
    if args.format == "json":
        print(json.dumps({"results": [r.to_json() for r in results], "notes": notes}, indent=2))
    else:
        print(format_replay(results, fetched=args.fetch))
        for note in notes:
            print(f"note: {note}")
    return 1 if any(result.verdict == "bad" for result in results) else 0


def _run(func: Callable[[argparse.Namespace, KnownIssuesCliSettings], int], args: argparse.Namespace) -> int:
    try:
        return func(args, KnownIssuesCliSettings.from_env())
    except aws_errors() as exc:
        raise CitriageError(f"AWS refused the request: {exc}") from exc


def _lookup_options(cmd: Any) -> None:
    cmd.add_argument(
        "--lookup-bugs",
        action="store_true",
        help="look up each bug's title and status (Launchpad, GitHub, Bugzilla, Redmine); fails softly",
    )
    cmd.add_argument("--allow-private", action="store_true", help="allow trackers on private addresses")


def register(sub: Any) -> None:
    """Add `known-issues` and its subcommands to the CLI's subparsers."""
    parser = sub.add_parser("known-issues", help="manage known-issue signatures (YAML files and the table)")
    commands = parser.add_subparsers(dest="known_issues_command", required=True)

    def command(
        name: str,
        help_text: str,
        func: Callable[[argparse.Namespace, KnownIssuesCliSettings], int],
        file_option: bool = True,
    ) -> Any:
        cmd = commands.add_parser(name, help=help_text)
        cmd.add_argument("--table", help="known-issues table (default: $KNOWN_ISSUES_TABLE)")
        if file_option:
            cmd.add_argument("--file", help="work on this YAML file instead of the table")
        cmd.set_defaults(func=lambda args: _run(func, args))
        return cmd

    cmd = command(
        "import",
        "check every signature of a YAML file (or translate another tool's), then store them all",
        _import,
    )
    cmd.add_argument(
        "source", help="YAML list of signatures; elastic-recheck's queries/ directory; a BFA export"
    )
    cmd.add_argument(
        "--from",
        dest="source_format",
        choices=["yaml", "elastic-recheck", "bfa"],
        default="yaml",
        help="what SOURCE is (default yaml): untranslatable entries are listed with their reason",
    )
    _lookup_options(cmd)
    cmd = command("export", "write the signatures as YAML", _export)
    cmd.add_argument("--out", help="file to write (default: standard output)")
    cmd = command("list", "list signatures with their hit statistics", _list)
    cmd.add_argument("--format", choices=["text", "json"], default="text")
    cmd = command("add", "add or replace one signature (checked first)", _add)
    cmd.add_argument("--id", help="the signature's id (default with --from-cluster: the cluster's)")
    cmd.add_argument("--title", help="what the bug is (default with --from-cluster: a member's message)")
    cmd.add_argument("--bug-url", required=True)
    cmd.add_argument("--pattern", help="RE2 regex (or --from-cluster)")
    cmd.add_argument(
        "--from-cluster", metavar="ID", help="take the pattern a cluster of --runs proposes, if good"
    )
    cmd.add_argument("--runs", nargs="+", metavar="DIR", help="with --from-cluster: the runs' log trees")
    cmd.add_argument("--category", choices=[c.value for c in IssueCategory], default="product")
    cmd.add_argument("--job", action="append", help="job glob (repeatable)")
    cmd.add_argument("--test", action="append", help="test id glob (repeatable)")
    cmd.add_argument("--log-file", action="append", help="log file glob (repeatable)")
    cmd.add_argument("--multiline", action="store_true", help="the pattern may span a few lines")
    cmd.add_argument("--expires", help="YYYY-MM-DD after which it explains nothing")
    cmd.add_argument("--message", help="explanation; {1} or {name} insert capture groups")
    _lookup_options(cmd)
    cmd = command("remove", "remove signatures by id", _remove)
    cmd.add_argument("ids", nargs="+", metavar="ID")
    cmd = command(
        "test", "replay a candidate over the stored runs: hits on failed and passed runs", _test, False
    )
    cmd.add_argument(
        "candidate", metavar="FILE_OR_ID", help="YAML file of candidates, or a stored signature id"
    )
    cmd.add_argument("--runs-table", help="runs table (default: $RUNS_TABLE)")
    cmd.add_argument("--fetch", action="store_true", help="also read each run's console log from its log URL")
    cmd.add_argument("--log-host", action="append", help="allowed log host for --fetch (default: $LOG_HOSTS)")
    cmd.add_argument("--allow-private", action="store_true", help="allow log hosts on private addresses")
    cmd.add_argument("--format", choices=["text", "json"], default="text")
