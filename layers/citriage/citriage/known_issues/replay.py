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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from citriage.analyze.logs.fetch import iter_lines, open_first, open_log_tree
from citriage.analyze.matching.engine import Hit, SignatureSet, check_signature, load_known_issues_yaml
from citriage.analyze.parsers.console import strip_console_prefix
from citriage.analyze.pipeline import CONSOLE_FILES
from citriage.config import FetchSettings, KnownIssuesCliSettings
from citriage.errors import CitriageError, FetchFailed, FetchRefused, InvalidSignature
from citriage.known_issues.bugs import BugLookupFailed, lookup_bug
from citriage.models import IssueCategory, KnownIssue, RunReport, SignatureStats, Verdict

# Hits listed per signature and kind of run; the counts are always complete.
MAX_LISTED_HITS = 10


class KnownIssueRepository(Protocol):
    """Where signatures are kept: the known-issues table or a YAML file."""

    def list_with_stats(self) -> list[tuple[KnownIssue, SignatureStats]]:
        """Every signature, with its hit statistics (zero for a file)."""

    def get(self, issue_id: str) -> KnownIssue | None:
        """One signature, or None."""

    def put(self, issue: KnownIssue) -> None:
        """Add or replace a signature (checked first)."""

    def delete(self, issue_id: str) -> None:
        """Remove a signature."""


def dump_known_issues_yaml(issues: Iterable[KnownIssue]) -> str:
    """A YAML list of signatures, sorted by id, in the shape `load_known_issues_yaml` reads."""
    # Required fields have no default, so they always stay; defaults (empty scopes) are left out.
    ordered = [
        issue.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        for issue in sorted(issues, key=lambda issue: issue.id)
    ]
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)


class YamlKnownIssues:
    """Signatures in a YAML file (created on first write)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _load(self) -> list[KnownIssue]:
        if not self._path.exists():
            return []
        return load_known_issues_yaml(self._path.read_text("utf-8"))

    def _save(self, issues: list[KnownIssue]) -> None:
        self._path.write_text(dump_known_issues_yaml(issues), "utf-8")

    def list_with_stats(self) -> list[tuple[KnownIssue, SignatureStats]]:
        """Every signature in the file (a file keeps no statistics)."""
        return [(issue, SignatureStats()) for issue in self._load()]

    def get(self, issue_id: str) -> KnownIssue | None:
        """One signature, or None."""
        return next((issue for issue in self._load() if issue.id == issue_id), None)

    def put(self, issue: KnownIssue) -> None:
        """Add or replace a signature."""
        check_signature(issue)
        self._save([i for i in self._load() if i.id != issue.id] + [issue])

    def delete(self, issue_id: str) -> None:
        """Remove a signature."""
        self._save([i for i in self._load() if i.id != issue_id])


def with_bug_details(issue: KnownIssue, settings: FetchSettings) -> tuple[KnownIssue, str | None]:
    """The signature with its bug's title and status looked up, or unchanged and the reason why not
    (the lookup is optional and never stops a signature from being stored)."""
    try:
        info = lookup_bug(issue.bug_url, settings)
    except BugLookupFailed as exc:
        return issue, f"{issue.id}: bug not looked up: {exc}"
    return issue.model_copy(update={"bug_title": info.title, "bug_status": info.status}), None


# ------------------------------------------------------------------------------ replay


@dataclass(frozen=True)
class ReplayHit:
    """One place a candidate signature matched in a stored run."""

    run_id: str
    job: str
    verdict: Verdict
    where: str
    excerpt: str


@dataclass
class ReplayResult:
    """A candidate's hits over the stored runs, split by failed and passed runs."""

    issue: KnownIssue
    failed_runs: int = 0
    passed_runs: int = 0
    failed_hits: list[ReplayHit] = field(default_factory=list)
    passed_hits: list[ReplayHit] = field(default_factory=list)
    failed_runs_hit: set[str] = field(default_factory=set)
    passed_runs_hit: set[str] = field(default_factory=set)
    passed_runs_without_text: int = 0

    def count_run(self, report: RunReport, had_text: bool) -> None:
        """Count a run the candidate was searched over."""
        if report.verdict is Verdict.PASSED:
            self.passed_runs += 1
            self.passed_runs_without_text += 0 if had_text else 1
        else:
            self.failed_runs += 1

    def add_hit(self, report: RunReport, where: str, excerpt: str) -> None:
        """Record one hit in a run (the first few are listed; every run is counted)."""
        passed = report.verdict is Verdict.PASSED
        (self.passed_runs_hit if passed else self.failed_runs_hit).add(report.run_id)
        listed = self.passed_hits if passed else self.failed_hits
        if len(listed) < MAX_LISTED_HITS:
            listed.append(ReplayHit(report.run_id, report.run.job, report.verdict, where, excerpt))

    @property
    def good(self) -> bool:
        """A good signature hits no passing run."""
        return not self.passed_runs_hit

    def to_json(self) -> dict[str, Any]:
        """The result as plain data (for `--format json`)."""
        return {
            "id": self.issue.id,
            "pattern": self.issue.pattern,
            "good": self.good,
            "failed_runs": self.failed_runs,
            "failed_runs_hit": sorted(self.failed_runs_hit),
            "passed_runs": self.passed_runs,
            "passed_runs_hit": sorted(self.passed_runs_hit),
            "passed_runs_without_text": self.passed_runs_without_text,
            "hits": [
                {
                    "run_id": h.run_id,
                    "job": h.job,
                    "verdict": h.verdict.value,
                    "where": h.where,
                    "excerpt": h.excerpt,
                }
                for h in self.failed_hits + self.passed_hits
            ],
        }


# Reads a run's console log again: yields (file name, lines) or raises FetchFailed/FetchRefused.
LogReader = Callable[[RunReport], Iterator[tuple[str, Iterable[str]]]]


def stored_texts(report: RunReport) -> Iterator[tuple[str | None, str, str]]:
    """The texts a stored report holds: (test id or None, where, text) for each failure's
    traceback, each evidence line and each infrastructure finding."""
    for failure in report.failures:
        if failure.details:
            yield failure.test_id, f"traceback of {failure.test_id}", failure.details
        for evidence in failure.evidence:
            if evidence.excerpt and evidence.file and evidence.file != "traceback":
                yield failure.test_id, f"{evidence.file}:{evidence.line or '?'}", evidence.excerpt
    for finding in report.infra:
        if finding.excerpt and finding.file:
            yield None, f"{finding.file}:{finding.line or '?'}", finding.excerpt


def replay(
    candidates: list[KnownIssue],
    reports: Iterable[RunReport],
    today: date,
    read_logs: LogReader | None = None,
    notes: list[str] | None = None,
) -> list[ReplayResult]:
    """Search each candidate over every stored run (its scopes respected) and sort the hits
    into failed and passed runs. With `read_logs`, each run's console is searched too."""
    results = {issue.id: ReplayResult(issue) for issue in candidates}
    signatures = SignatureSet(candidates, today)
    notes = notes if notes is not None else []
    for report in reports:
        job_signatures = signatures.for_job(report.run.job)
        hits, had_text = _hits_in_report(
            job_signatures, report, read_logs, notes if notes is not None else []
        )
        for result in results.values():
            if result.issue.is_active(today) and result.issue.applies_to_job(report.run.job):
                result.count_run(report, had_text)
        for issue, where, excerpt in hits:
            results[issue.id].add_hit(report, where, excerpt)
    return list(results.values())


def _hits_in_report(
    signatures: SignatureSet, report: RunReport, read_logs: LogReader | None, notes: list[str]
) -> tuple[list[tuple[KnownIssue, str, str]], bool]:
    hits: list[tuple[KnownIssue, str, str]] = []
    had_text = False
    for test_id, where, text in stored_texts(report):
        had_text = True
        for hit in signatures.search_text(text, file=where):
            if test_id is None or hit.item.applies_to_test(test_id):
                hits.append((hit.item, _where(where, hit), hit.excerpt))
    if read_logs is None:
        return hits, had_text
    try:
        for name, lines in read_logs(report):
            had_text = True
            scanner = signatures.scanner(name)
            for number, line in enumerate(lines, 1):
                scanner.feed(number, strip_console_prefix(line))
            hits.extend((h.item, f"{h.file}:{h.line}", h.excerpt) for h in scanner.hits)
    except (FetchFailed, FetchRefused) as exc:
        notes.append(f"{report.run_id}: logs not read: {exc}")
    return hits, had_text


def _where(where: str, hit: Hit[KnownIssue]) -> str:
    return f"{where} line {hit.line}" if where.startswith("traceback") and hit.line else where


def console_reader(settings: FetchSettings) -> LogReader:
    """Reads a stored run's console log from its log URL, under the usual fetch rules."""

    def read(report: RunReport) -> Iterator[tuple[str, Iterable[str]]]:
        tree = open_log_tree(report.run.log_url, settings)
        found = open_first(tree, CONSOLE_FILES)
        if found is None:
            return
        name, stream = found
        with stream:
            yield name, iter_lines(stream)

    return read


def format_replay(results: list[ReplayResult], fetched: bool) -> str:
    """The terminal report of a replay."""
    lines = []
    for result in results:
        issue = result.issue
        lines.append(f"{issue.id}: {issue.pattern!r}")
        lines.append(f"  failed runs: {len(result.failed_runs_hit)} hit of {result.failed_runs}")
        lines.extend(f"    {_format_hit(h)}" for h in result.failed_hits)
        unread = ""
        if result.passed_runs_without_text and not fetched:
            unread = f" ({result.passed_runs_without_text} held no text: --fetch reads their logs)"
        lines.append(f"  passed runs: {len(result.passed_runs_hit)} hit of {result.passed_runs}{unread}")
        lines.extend(f"    {_format_hit(h)}" for h in result.passed_hits)
        if result.good:
            lines.append("  => good: it hits no passing run")
        else:
            lines.append(
                "  => BAD: it hits passing runs; a good signature does not (narrow the pattern or scope it)"
            )
    return "\n".join(lines)


def _format_hit(hit: ReplayHit) -> str:
    return f"{hit.run_id} {hit.job} [{hit.verdict.value}] {hit.where}: {hit.excerpt[:160]}"


# ------------------------------------------------------------------------------ CLI


def _dynamodb_table(name: str) -> Any:
    import boto3  # noqa: PLC0415  # only the table commands need it; boto3 honours AWS_ENDPOINT_URL

    return boto3.resource("dynamodb").Table(name)


def _table_name(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> str:
    name = args.table or settings.known_issues_table
    if not name:
        raise CitriageError("no known-issues table: pass --table NAME or set KNOWN_ISSUES_TABLE")
    return str(name)


def _repository(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> KnownIssueRepository:
    if getattr(args, "file", None):
        return YamlKnownIssues(Path(args.file))
    from citriage.adapters.aws.dynamodb import KnownIssueStore  # noqa: PLC0415  # keeps `--file` use free of boto3

    return KnownIssueStore(_dynamodb_table(_table_name(args, settings)))


def _import(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    # Every signature is checked before any is written: a bad file changes nothing.
    issues = load_known_issues_yaml(Path(args.source).read_text("utf-8"))
    repository = _repository(args, settings)
    for issue in issues:
        repository.put(_looked_up(issue, args))
    print(f"imported {len(issues)} signature(s)")
    return 0


def _export(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    text = dump_known_issues_yaml(issue for issue, _ in _repository(args, settings).list_with_stats())
    if args.out:
        Path(args.out).write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _list(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
    rows = sorted(_repository(args, settings).list_with_stats(), key=lambda row: row[0].id)
    if args.format == "json":
        data = [
            issue.model_dump(mode="json", exclude_none=True) | {"stats": stats.model_dump(mode="json")}
            for issue, stats in rows
        ]
        print(json.dumps(data, indent=2))
        return 0
    today = datetime.now(UTC).date()
    for issue, stats in rows:
        state = "" if issue.is_active(today) else " (expired)"
        state += f" bug={issue.bug_status}" if issue.bug_status else ""
        last = stats.last_hit_at.isoformat(timespec="seconds") if stats.last_hit_at else "never"
        print(
            f"{issue.id} [{issue.category.value}]{state} hits={stats.hits} runs={stats.runs_hit} "
            f"last={last}  {issue.title}"
        )
    return 0


def _add(args: argparse.Namespace, settings: KnownIssuesCliSettings) -> int:
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
    _repository(args, settings).put(_looked_up(issue, args))
    print(f"added {issue.id}")
    return 0


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
    from citriage.adapters.aws.dynamodb import KnownIssueStore, RunStore  # noqa: PLC0415  # boto3 only for this command

    target = Path(args.candidate)
    if target.is_file():
        candidates = load_known_issues_yaml(target.read_text("utf-8"))
    else:
        found = KnownIssueStore(_dynamodb_table(_table_name(args, settings))).get(args.candidate)
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
        RunStore(_dynamodb_table(runs_table)).scan_reports(),
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
    return 0 if all(result.good for result in results) else 1


def _run(func: Callable[[argparse.Namespace, KnownIssuesCliSettings], int], args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415  # as for boto3 above

    try:
        return func(args, KnownIssuesCliSettings.from_env())
    except (ClientError, BotoCoreError) as exc:
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

    cmd = command("import", "check every signature of a YAML file, then store them all", _import)
    cmd.add_argument("source", help="YAML list of signatures")
    _lookup_options(cmd)
    cmd = command("export", "write the signatures as YAML", _export)
    cmd.add_argument("--out", help="file to write (default: standard output)")
    cmd = command("list", "list signatures with their hit statistics", _list)
    cmd.add_argument("--format", choices=["text", "json"], default="text")
    cmd = command("add", "add or replace one signature (checked first)", _add)
    cmd.add_argument("--id", required=True)
    cmd.add_argument("--title", required=True)
    cmd.add_argument("--bug-url", required=True)
    cmd.add_argument("--pattern", required=True, help="RE2 regex")
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
