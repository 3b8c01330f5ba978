"""Looking up a known issue's bug (title and status) in Launchpad, GitHub, Bugzilla or Redmine.

Optional, and it fails softly: the caller keeps the signature and notes why the lookup failed.
The bug tracker's API is read under the same rules as logs (its own host only, public
addresses only unless allowed, capped size, timeouts), reusing the log fetcher.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from citriage.analyze.logs.fetch import HttpLogTree
from citriage.analyze.logs.streams import FetchBudget
from citriage.config import FetchSettings
from citriage.errors import CitriageError, FetchFailed, FetchRefused
from citriage.models import KnownIssue

MAX_API_BYTES = 1_048_576
_LAUNCHPAD = re.compile(r"^https://bugs\.launchpad\.net/(?:[^/?#]+/)?\+bug/(\d+)/?$")
_GITHUB = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+)/issues/(\d+)/?$")
_BUGZILLA = re.compile(r"^(https?://[^?#]+?)/show_bug\.cgi\?id=(\d+)$")
_REDMINE = re.compile(r"^(https?://[^?#]+?)/issues/(\d+)/?$")


class BugLookupFailed(CitriageError):
    """A bug could not be looked up (unknown tracker, refused host, HTTP error, odd answer)."""


@dataclass(frozen=True)
class BugApi:
    """Where a bug's data lives: the tracker kind, the API base URL and the path under it."""

    kind: str
    base: str
    path: str


@dataclass(frozen=True)
class BugInfo:
    """A bug's title and status as its tracker says."""

    title: str
    status: str


def bug_api(bug_url: str) -> BugApi | None:
    """The API location of a bug URL, or None for a tracker citriage does not know."""
    if match := _LAUNCHPAD.match(bug_url):
        return BugApi("launchpad", "https://api.launchpad.net/1.0/bugs/", match.group(1))
    if match := _GITHUB.match(bug_url):
        owner, repo, number = match.groups()
        return BugApi("github", f"https://api.github.com/repos/{owner}/{repo}/issues/", number)
    if match := _BUGZILLA.match(bug_url):
        return BugApi("bugzilla", f"{match.group(1)}/rest/bug/", match.group(2))
    if match := _REDMINE.match(bug_url):
        return BugApi("redmine", f"{match.group(1)}/issues/", f"{match.group(2)}.json")
    return None


def _host_entry(base: str) -> str:
    # The API's own host is the only one allowed; plain http only when the URL says so.
    scheme, rest = base.split("://", 1)
    host = rest.split("/", 1)[0]
    return f"http://{host}" if scheme == "http" else host


def _get_json(base: str, path: str, settings: FetchSettings) -> Any:
    budget = FetchBudget(MAX_API_BYTES, MAX_API_BYTES)
    api_settings = settings.model_copy(update={"log_hosts": [_host_entry(base)], "retries": 1})
    try:
        stream = HttpLogTree(base, api_settings, budget).open(path)
        if stream is None:
            raise BugLookupFailed(f"{base}{path}: no such bug (HTTP 404)")
        with stream:
            data = stream.read(MAX_API_BYTES + 1)
    except (FetchFailed, FetchRefused) as exc:
        raise BugLookupFailed(str(exc)) from exc
    if len(data) > MAX_API_BYTES or budget.notes:
        raise BugLookupFailed(f"{base}{path}: answer over {MAX_API_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BugLookupFailed(f"{base}{path}: not JSON") from exc


def parse_bug(kind: str, data: Any, tasks: Any = None) -> BugInfo:
    """The title and status out of a tracker's JSON answer (Launchpad's status is in its tasks)."""
    try:
        if kind == "launchpad":
            entries = tasks.get("entries", []) if isinstance(tasks, dict) else []
            status = ", ".join(sorted({str(e["status"]) for e in entries})) or "unknown"
            return BugInfo(str(data["title"]), status)
        if kind == "github":
            return BugInfo(str(data["title"]), str(data["state"]))
        if kind == "bugzilla":
            bug = data["bugs"][0]
            status = str(bug["status"]) + (f" {bug['resolution']}" if bug.get("resolution") else "")
            return BugInfo(str(bug["summary"]), status)
        if kind == "redmine":
            issue = data["issue"]
            return BugInfo(str(issue["subject"]), str(issue["status"]["name"]))
    except (KeyError, IndexError, TypeError) as exc:
        raise BugLookupFailed(f"unexpected {kind} answer: missing {exc}") from exc
    raise BugLookupFailed(f"unknown tracker kind {kind!r}")


def lookup_bug(bug_url: str, settings: FetchSettings) -> BugInfo:
    """The bug's title and status from its tracker; raises BugLookupFailed with the reason."""
    api = bug_api(bug_url)
    if api is None:
        raise BugLookupFailed(f"{bug_url}: not a Launchpad, GitHub, Bugzilla or Redmine bug URL")
    data = _get_json(api.base, api.path, settings)
    tasks = _get_json(api.base, f"{api.path}/bug_tasks", settings) if api.kind == "launchpad" else None
    return parse_bug(api.kind, data, tasks)


def with_bug_details(issue: KnownIssue, settings: FetchSettings) -> tuple[KnownIssue, str | None]:
    """The signature with its bug's title and status looked up, or unchanged and the reason why not
    (the lookup is optional and never stops a signature from being stored)."""
    try:
        info = lookup_bug(issue.bug_url, settings)
    except BugLookupFailed as exc:
        return issue, f"{issue.id}: bug not looked up: {exc}"
    return issue.model_copy(update={"bug_title": info.title, "bug_status": info.status}), None
