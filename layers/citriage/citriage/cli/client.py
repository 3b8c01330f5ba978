"""The `citriage` client of the query API (docs/api.md), in the openQA client's shape:
`citriage [--from URL] <entry> <action> [options] [--json-data FILE] [--format json|table]`.

Every answer is `{"invocation": {"status": N, "message": "..."}, "returns": ...}` on stdout (a
list of items for a search or history; `invocation.cursor` then says where the next page starts)
and the process exits with N: 0 ok, 2 unknown id, 3 no server or unreachable, 4 not authorised,
5 the server refused the options, 6 the server failed. The server and token come from the
environment (CITRIAGE_SERVER, CITRIAGE_TOKEN) or the options file; `--from` wins. A token is
never an option: it would land in the process list and shell history.
"""

from __future__ import annotations

import argparse
import configparser
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from citriage.cli.exits import printable
from citriage.config import ClientSettings
from citriage.models.query import Envelope, Invocation

# An answer larger than this is refused rather than read into memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
TIMEOUT = (5, 60)


class Status(IntEnum):
    """`invocation.status`, which is also the exit code."""

    OK = 0
    UNKNOWN_ID = 2
    UNREACHABLE = 3
    NOT_AUTHORISED = 4
    REFUSED = 5
    SERVER_ERROR = 6


class ClientFailure(Exception):
    """A call that did not answer: its status and one-line message."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Action:
    """One `<entry> <action>`: the request it makes from the options, and what it returns."""

    help: str
    method: str
    path: Callable[[Mapping[str, Any]], str]
    query: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    shape: Callable[[Any, Mapping[str, Any]], Any] = lambda answer, _: answer


def _seg(value: object) -> str:
    return quote(str(value), safe="")


def _test_info(answer: Any, _: Mapping[str, Any]) -> Any:
    failures = answer.get("failures") or []
    return {
        "test_id": answer.get("test_id"),
        "jobs": answer.get("jobs"),
        "last_failure": failures[0] if failures else None,
    }


def _known_issue_search(answer: Any, options: Mapping[str, Any]) -> Any:
    text = str(options.get("text") or "").lower()
    found = [s for s in answer if not text or text in f"{s['issue']['id']} {s['issue']['title']}".lower()]
    return [
        {
            "id": s["issue"]["id"],
            "title": s["issue"]["title"],
            "bug_url": s["issue"]["bug_url"],
            "category": s["issue"].get("category"),
            "hits": s["stats"].get("hits", 0),
            "runs_hit": s["stats"].get("runs_hit", 0),
            "last_hit_at": s["stats"].get("last_hit_at"),
        }
        for s in found
    ]


_RUN_FILTERS = ("job", "project", "source", "verdict", "change", "since", "until", "limit", "cursor")
ENTRIES: dict[str, dict[str, Action]] = {
    "run": {
        "search": Action("runs newest first, filtered", "GET", lambda o: "/runs", _RUN_FILTERS),
        "info": Action("a run's report", "GET", lambda o: f"/runs/{_seg(o['id'])}", required=("id",)),
        "reanalyze": Action(
            "queue a run for a new analysis (admin token)",
            "POST",
            lambda o: f"/runs/{_seg(o['id'])}/reanalyze",
            required=("id",),
        ),
    },
    "job": {
        "search": Action(
            "jobs with their last run and pass rate", "GET", lambda o: "/jobs", ("job", "limit", "cursor")
        ),
        "status": Action(
            "one job's last run and pass rate (per source)",
            "GET",
            lambda o: "/jobs",
            ("job",),
            required=("job",),
        ),
        "history": Action(
            "a job's runs, newest first",
            "GET",
            lambda o: f"/jobs/{_seg(o['job'])}/history",
            ("source", "limit", "cursor"),
            required=("job",),
        ),
    },
    "test": {
        "info": Action(
            "a test's failure rate per job and its last failure",
            "GET",
            lambda o: f"/tests/{_seg(o['id'])}/history",
            required=("id",),
            shape=_test_info,
        ),
        "history": Action(
            "the runs a test failed in, newest first",
            "GET",
            lambda o: f"/tests/{_seg(o['id'])}/history",
            ("limit", "cursor"),
            required=("id",),
        ),
    },
    "known-issue": {
        "search": Action(
            "signatures with their hit statistics",
            "GET",
            lambda o: "/known-issues",
            shape=_known_issue_search,
        ),
        "info": Action(
            "a signature, its statistics and the runs it explained lately",
            "GET",
            lambda o: f"/known-issues/{_seg(o['id'])}",
            required=("id",),
        ),
    },
    "incident": {
        "search": Action(
            "infrastructure incidents opened in a period, newest first",
            "GET",
            lambda o: "/incidents",
            ("since", "until", "state", "category"),
        ),
        "info": Action("one incident", "GET", lambda o: f"/incidents/{_seg(o['id'])}", required=("id",)),
        "report": Action(
            "the downtime ledger: per service, downtime, runs, jobs, CI hours lost",
            "GET",
            lambda o: "/incidents/report",
            ("since", "until"),
        ),
        "close": Action(
            "close an open incident (admin token)",
            "POST",
            lambda o: f"/incidents/{_seg(o['id'])}/close",
            required=("id",),
        ),
    },
    "status": {
        "show": Action("queue depths, each source's last run, the last hour", "GET", lambda o: "/status")
    },
}
_OPTIONS = {
    "id": "the run, test or known issue id",
    "job": "job name",
    "project": "project, e.g. openstack/nova",
    "source": "zuul, jenkins, github, gitlab, openqa or generic",
    "verdict": "passed, failed_new, failed_known, infra, no_results",
    "change": "change or pull request number",
    "since": "ISO time (or, for incidents, 30d / 12h ago): from then on",
    "until": "ISO time (or, for incidents, 30d / 12h ago): before then",
    "limit": "how many per page (1-200)",
    "cursor": "the previous answer's cursor: the next page",
    "text": "only signatures whose id or title holds this text",
    "state": "open or closed",
    "category": "an infrastructure category: network, mirror, disk, ci ...",
}


def options_file(settings: ClientSettings) -> dict[str, str]:
    """The `[client]` section of the options file (server, token; `submit`'s key), if any."""
    path = settings.options_file()
    if not path or not Path(path).is_file():
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise ClientFailure(
            Status.UNREACHABLE, f"{path}: not an options file ({type(exc).__name__})"
        ) from None
    return dict(parser["client"]) if parser.has_section("client") else {}


def _server_and_token(args: argparse.Namespace) -> tuple[str, str | None]:
    settings = ClientSettings.from_env()
    conf = options_file(settings)
    server = args.server or settings.citriage_server or conf.get("server")
    if not server:
        raise ClientFailure(
            Status.UNREACHABLE,
            "no server: give --from URL, or set CITRIAGE_SERVER or server= in the options file",
        )
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ClientFailure(Status.UNREACHABLE, f"server {server!r} is not an http(s) URL")
    return server.rstrip("/"), settings.citriage_token or conf.get("token")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """--json-data's object, then the flags given (flags win)."""
    options: dict[str, Any] = {}
    if args.json_data:
        try:
            data = json.loads(Path(args.json_data).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ClientFailure(Status.REFUSED, f"--json-data {args.json_data}: {exc}") from None
        if not isinstance(data, dict) or not all(k in _OPTIONS for k in data):
            raise ClientFailure(
                Status.REFUSED, f"--json-data holds an object of options: {', '.join(sorted(_OPTIONS))}"
            )
        options.update(data)
    options.update({name: getattr(args, name) for name in _OPTIONS if getattr(args, name, None) is not None})
    return options


def call(server: str, token: str | None, action: Action, options: Mapping[str, Any]) -> Any:
    """One request; its JSON answer, or ClientFailure."""
    import requests  # noqa: PLC0415  # only the client's calls need it

    missing = [name for name in action.required if options.get(name) in (None, "")]
    if missing:
        raise ClientFailure(Status.REFUSED, f"give --{', --'.join(missing)}")
    params = {name: str(options[name]) for name in action.query if options.get(name) not in (None, "")}
    headers = {"Accept": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    url = server + action.path(options)
    try:
        with requests.request(
            action.method,
            url,
            params=params,
            headers=headers,
            timeout=TIMEOUT,
            stream=True,
            allow_redirects=False,
        ) as response:
            body = _read_capped(response)
            status = response.status_code
    except requests.RequestException as exc:
        raise ClientFailure(Status.UNREACHABLE, f"{server}: unreachable ({type(exc).__name__})") from None
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        raise ClientFailure(
            Status.UNREACHABLE, f"{server}: answered HTTP {status} with something not JSON"
        ) from None
    if status < 300:
        return action.shape(answer, options)
    failure = refusal(status, answer.get("message") if isinstance(answer, dict) else None)
    if failure.status is Status.NOT_AUTHORISED and not token:
        failure = ClientFailure(
            failure.status, f"{failure} (no token: set CITRIAGE_TOKEN or token= in the options file)"
        )
    raise failure


def refusal(status: int, message: object) -> ClientFailure:
    """The failure of an HTTP answer that is not a success, with its envelope status: 2 for 404,
    4 for 401/403, 5 for another 4xx, 6 for the rest."""
    code = {404: Status.UNKNOWN_ID, 401: Status.NOT_AUTHORISED, 403: Status.NOT_AUTHORISED}.get(status)
    if code is None:
        code = Status.REFUSED if 400 <= status < 500 else Status.SERVER_ERROR
    return ClientFailure(code, f"HTTP {status}: {message or 'no message'}")


def _read_capped(response: Any) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ClientFailure(Status.SERVER_ERROR, f"answer over {MAX_ANSWER_BYTES >> 20} MiB: refused")
        chunks.append(chunk)
    return b"".join(chunks)


def _run(args: argparse.Namespace) -> int:
    action = ENTRIES[args.entry][args.action]
    try:
        server, token = _server_and_token(args)
        returns = call(server, token, action, _options(args))
        cursor = None
        if isinstance(returns, dict) and set(returns) == {"items", "cursor"}:
            # A page: `returns` is its list; where the next page starts rides in the invocation.
            returns, cursor = returns["items"], returns["cursor"]
        envelope = Envelope(
            invocation=Invocation(status=Status.OK, message="ok", cursor=cursor), returns=returns
        )
    except ClientFailure as exc:
        envelope = Envelope(invocation=Invocation(status=exc.status, message=printable(str(exc))))
    if args.format == "table":
        print(table(envelope))
    else:
        print(envelope.model_dump_json(indent=2))
    return envelope.invocation.status


def table(envelope: Envelope) -> str:
    """A human reading of an answer: rows and columns for a list, `key: value` for an object."""
    if envelope.invocation.status != 0:
        return f"error {envelope.invocation.status}: {envelope.invocation.message}"
    data, cursor = envelope.returns, envelope.invocation.cursor
    if isinstance(data, list):
        rows = [_flat(item) for item in data]
        columns = list(dict.fromkeys(key for row in rows for key in row))[:8]
        lines = [columns] + [[printable(str(row.get(c, "")))[:60] for c in columns] for row in rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
        out = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
        ]
        if cursor:
            out.append(f"(more: --cursor {cursor})")
        return "\n".join(out) if rows else "(none)"
    return "\n".join(f"{k}: {printable(str(v))[:200]}" for k, v in _flat(data).items())


def _flat(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"value": item}
    flat: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, dict) and key in ("tests", "last_run", "issue", "stats"):
            flat.update({f"{key}.{k}": v for k, v in value.items() if not isinstance(v, dict | list)})
        elif not isinstance(value, dict | list):
            flat[key] = value
    return flat


def register(sub: Any) -> None:
    """Add the client's entries (`run`, `job`, `test`, `known-issue`, `status`)."""
    for entry, actions in ENTRIES.items():
        parser = sub.add_parser(entry, help=f"query the API: {', '.join(actions)}")
        if entry == "status":
            # One action: `citriage status`.
            parser.add_argument(
                "--format", choices=["json", "table"], default="json", help="json (default) or table"
            )
            parser.set_defaults(func=_run, entry=entry, action="show", json_data=None)
            continue
        commands = parser.add_subparsers(dest="action", required=True)
        for name, action in actions.items():
            cmd = commands.add_parser(name, help=action.help)
            for option in dict.fromkeys([*action.required, *action.query]):
                cmd.add_argument(f"--{option}", type=int if option == "limit" else str, help=_OPTIONS[option])
            if entry == "known-issue" and name == "search":
                cmd.add_argument("--text", help=_OPTIONS["text"])
            cmd.add_argument("--json-data", metavar="FILE", help="a JSON object of these options (flags win)")
            cmd.add_argument(
                "--format", choices=["json", "table"], default="json", help="json (default) or table"
            )
            cmd.set_defaults(func=_run, entry=entry, action=name)


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """`--from URL`: the server the client asks (before the entry)."""
    parser.add_argument(
        "--from", dest="server", metavar="URL", help="the citriage API to ask (client entries)"
    )
