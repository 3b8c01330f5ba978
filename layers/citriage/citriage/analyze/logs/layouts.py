"""Finding a run's result files, whatever layout its CI or log server uses.

A *layout* knows, for one CI source, where its tree is rooted and which files hold results,
the console, the job's own record and component versions:

* `zuul` (and any source with no layout of its own): a log tree. Files are listed from
  `zuul-manifest.json` when the log server has it, else from directory indexes (Apache,
  Swift), else candidate paths are probed: Zuul's top level, per-node `controller/logs/`,
  TripleO's `logs/undercloud/var/log/tempest/`, stage-output renames (`tempest.log` ->
  `tempest_log.txt`), `.gz` variants, and a per-job setting for the rest.
* `jenkins`: `log_url` is the build URL; `testReport/api/json`, `consoleText`, `api/json`.
* `openqa`: `log_url` is `https://host/tests/<id>`; `api/v1/jobs/<id>/details` and the
  job's `autoinst-log.txt`.

GitHub and GitLab runs are read through their APIs (`citriage.analyze.ci_api`); every layout
is listed once, in `citriage.analyze.locate.LAYOUTS`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from citriage.analyze.logs.listing import index_paths, manifest_paths
from citriage.config import LayoutSettings
from citriage.errors import FetchRefused
from citriage.models import RunEvent, glob_match
from citriage.ports import LogTree


class ResultKind(StrEnum):
    """How a result file is read."""

    SUBUNIT = "subunit"
    JUNIT = "junit"
    TEMPEST_CONSOLE = "tempest_console"
    JENKINS_REPORT = "jenkins_report"
    OPENQA_DETAILS = "openqa_details"
    GITLAB_REPORT = "gitlab_report"


class ComponentKind(StrEnum):
    """How a component-version file is read."""

    ZUUL_INVENTORY = "zuul_inventory"
    PIP_FREEZE = "pip_freeze"
    RPM_QA = "rpm_qa"
    DPKG_L = "dpkg_l"
    JENKINS_BUILD = "jenkins_build"


# Formats in the order they are preferred: only the best format found is read, since
# a tree often carries the same results twice (subunit and its JUnit conversion).
RESULT_PRIORITY = (
    ResultKind.JENKINS_REPORT,
    ResultKind.OPENQA_DETAILS,
    ResultKind.GITLAB_REPORT,
    ResultKind.SUBUNIT,
    ResultKind.JUNIT,
    ResultKind.TEMPEST_CONSOLE,
)


@dataclass(frozen=True)
class FoundFile:
    """A file of the tree and how to read it."""

    path: str
    kind: ResultKind | ComponentKind


@dataclass
class Discovery:
    """What a layout found (or, when `probe`, where to look: missing files are skipped and
    each path's `.gz` variant is tried too)."""

    results: list[FoundFile] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    job_json: list[str] = field(default_factory=list)
    components: list[FoundFile] = field(default_factory=list)
    html_results: list[str] = field(default_factory=list)
    probe: bool = True
    method: str = "probing"

    def results_by_priority(self) -> Iterator[tuple[str, list[str]]]:
        """Result paths grouped by kind, best format first."""
        present = {f.kind for f in self.results}
        kinds: list[str] = [k for k in RESULT_PRIORITY if k in present]
        kinds += sorted(present - set(kinds))
        for kind in kinds:
            yield kind, [f.path for f in self.results if f.kind == kind]


# ---- names -------------------------------------------------------------------------------

_STAGE_RENAME = re.compile(r"^(?P<stem>.+)_(?P<ext>log|xml|subunit|json|yaml|html|txt)\.txt$")
# JUnit XML by name: junit*.xml, *junit*.xml (nose2-junit.xml), TEST-*.xml (Surefire, Ant),
# *results*.xml, xunit.xml, nosetests.xml, tempest*.xml ... (the content decides in the end).
_JUNIT_NAMES = re.compile(
    r"^(?:tempest|junit|results|test-?results|pytest|report|unit|nosetests|xunit|xunit2)\.xml$"
    r"|^TEST-.+\.xml$|junit.*\.xml$|results.*\.xml$|^tempest[-_].*\.xml$",
    re.IGNORECASE,
)
# Any XML under these folders is a test report (GitHub/GitLab conventions, Maven, Gradle).
_REPORT_DIRS = frozenset(
    {"test-results", "test-reports", "surefire-reports", "failsafe-reports", "junit-reports", "junit"}
)
_TEMPEST_CONSOLE_NAMES = frozenset({"tempest_run.log", "tempest.log", "tempest_output.log", "tempest.txt"})
_COMPONENT_NAMES = {
    "inventory.yaml": ComponentKind.ZUUL_INVENTORY,
    "pip-freeze.txt": ComponentKind.PIP_FREEZE,
    "pip3-freeze.txt": ComponentKind.PIP_FREEZE,
    "pip2-freeze.txt": ComponentKind.PIP_FREEZE,
    "rpm-qa.txt": ComponentKind.RPM_QA,
    "dpkg-l.txt": ComponentKind.DPKG_L,
}


def canonical_name(path: str) -> str:
    """The file's base name as its producer wrote it: without `.gz`, and with Zuul's
    stage-output rename undone (`tempest_log.txt` -> `tempest.log`)."""
    name = posixpath.basename(path)
    if name.endswith(".gz"):
        name = name[:-3]
    match = _STAGE_RENAME.match(name)
    if match and match["ext"] != "txt":
        name = f"{match['stem']}.{match['ext']}"
    return name


class FileRole(StrEnum):
    """What a file of a run's tree is to citriage."""

    RESULT = "result"
    COMPONENT = "component"
    CONSOLE = "console"
    JOB_JSON = "job_json"
    HTML_RESULTS = "html_results"


@dataclass(frozen=True)
class PathRole:
    """A file's role, and for results and component files the format it is read as."""

    role: FileRole
    kind: ResultKind | ComponentKind | None = None


def classify_path(path: str) -> PathRole | None:
    """What a file is, by its path; None when citriage does not read it."""
    name = canonical_name(path)
    parent = posixpath.basename(posixpath.dirname(path))
    component = _COMPONENT_NAMES.get(name)
    what: PathRole | None = None
    if name == "job-output.txt":
        what = PathRole(FileRole.CONSOLE)
    elif name == "job-output.json":
        what = PathRole(FileRole.JOB_JSON)
    elif name.endswith(".subunit") or (parent == ".stestr" and (name.isdigit() or name.startswith("tmp"))):
        what = PathRole(FileRole.RESULT, ResultKind.SUBUNIT)
    elif _JUNIT_NAMES.search(name) or (
        name.endswith(".xml") and any(part in _REPORT_DIRS for part in path.split("/")[:-1])
    ):
        what = PathRole(FileRole.RESULT, ResultKind.JUNIT)
    elif name in _TEMPEST_CONSOLE_NAMES:
        what = PathRole(FileRole.RESULT, ResultKind.TEMPEST_CONSOLE)
    elif name in ("testr_results.html", "stestr_results.html"):
        what = PathRole(FileRole.HTML_RESULTS)
    elif component is not None and (component is not ComponentKind.ZUUL_INVENTORY or parent == "zuul-info"):
        what = PathRole(FileRole.COMPONENT, component)
    return what


def discovery_from_paths(paths: list[str], method: str) -> Discovery:
    """Sort a list of existing files into a Discovery (no probing needed)."""
    found = Discovery(probe=False, method=method)

    def stestr_order(path: str) -> tuple[int, int, str]:
        # stestr's numbered runs in order, its partial tmp* stream of a cut-off run last.
        name = posixpath.basename(path)
        return (0, int(name), path) if name.isdigit() else (1, 0, path)

    for path in sorted(paths, key=stestr_order):
        what = classify_path(path)
        if what is None:
            continue
        if what.role is FileRole.RESULT and isinstance(what.kind, ResultKind):
            found.results.append(FoundFile(path, what.kind))
        elif what.role is FileRole.COMPONENT and isinstance(what.kind, ComponentKind):
            found.components.append(FoundFile(path, what.kind))
        elif what.role is FileRole.CONSOLE:
            found.console.append(path)
        elif what.role is FileRole.JOB_JSON:
            found.job_json.append(path)
        else:
            found.html_results.append(path)
    # The top-level console is the job's; per-node copies come after it.
    found.console.sort(key=lambda p: (p.count("/"), p))
    found.job_json.sort(key=lambda p: (p.count("/"), p))
    return found


# ---- listings ----------------------------------------------------------------------------


# ---- layouts -----------------------------------------------------------------------------

TRIPLEO_TEMPEST = "logs/undercloud/var/log/tempest"
NODE_DIRS = ("", "logs/", "controller/logs/", "primary/logs/")
PROBE_RESULTS = [
    *(FoundFile(f"{d}testrepository.subunit", ResultKind.SUBUNIT) for d in NODE_DIRS),
    FoundFile(f"{TRIPLEO_TEMPEST}/testrepository.subunit", ResultKind.SUBUNIT),
    FoundFile(f"{TRIPLEO_TEMPEST}/tempest.xml", ResultKind.JUNIT),
    *(FoundFile(f"{d}tempest.xml", ResultKind.JUNIT) for d in NODE_DIRS),
    FoundFile(f"{TRIPLEO_TEMPEST}/tempest_run.log", ResultKind.TEMPEST_CONSOLE),
    FoundFile(f"{TRIPLEO_TEMPEST}/tempest_run_log.txt", ResultKind.TEMPEST_CONSOLE),
    *(FoundFile(f"{d}tempest_log.txt", ResultKind.TEMPEST_CONSOLE) for d in NODE_DIRS[1:]),
]
PROBE_COMPONENTS = [
    FoundFile("zuul-info/inventory.yaml", ComponentKind.ZUUL_INVENTORY),
    *(
        FoundFile(f"{d}{name}", kind)
        for d in ("", "logs/", "controller/logs/", "logs/undercloud/var/log/extra/")
        for name, kind in (
            ("pip3-freeze.txt", ComponentKind.PIP_FREEZE),
            ("pip-freeze.txt", ComponentKind.PIP_FREEZE),
            ("rpm-qa.txt", ComponentKind.RPM_QA),
            ("dpkg-l.txt", ComponentKind.DPKG_L),
        )
    ),
]


class LogTreeLayout:
    """Zuul and any other CI whose run is a tree of log files."""

    def tree_location(self, run: RunEvent) -> str:
        """The log URL itself."""
        return run.log_url

    def discover(self, run: RunEvent, tree: LogTree, settings: LayoutSettings, notes: list[str]) -> Discovery:
        """Listing first (manifest, then indexes); probing the known layouts otherwise."""
        configured = [
            path
            for pattern, paths in settings.result_paths.items()
            if glob_match(run.job, [pattern])
            for path in paths
        ]
        paths, method = tree.listing(notes), "directory listing"
        if paths is None:
            paths, method = manifest_paths(tree, notes), "zuul-manifest.json"
        if paths is None:
            paths, method = index_paths(tree, notes), "directory index"
        if paths is not None:
            found = discovery_from_paths(paths, method)
            found.results[:0] = _configured_in_listing(configured, paths, notes)
            return found
        globs = [p for p in configured if _is_glob(p)]
        if globs:
            notes.append(
                f"{tree.root} cannot be listed, so the result globs {', '.join(globs[:3])} were not "
                "expanded; name the files themselves."
            )
        return Discovery(
            results=[
                *(FoundFile(p, k) for p in configured if not _is_glob(p) and (k := _kind_of(p)) is not None),
                *PROBE_RESULTS,
            ],
            console=["job-output.txt"],
            job_json=["job-output.json"],
            components=list(PROBE_COMPONENTS),
            probe=True,
            method="probing",
        )


def _is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: `**/` is any number of directories, `*` and `?` stay inside one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 1)) > i:
            out.append("[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _configured_in_listing(configured: list[str], listed: list[str], notes: list[str]) -> list[FoundFile]:
    """The configured result files (paths or globs, `.gz` variants too) among a listing. A file a
    glob names is read as results whatever its name: its content decides its format."""
    found: list[FoundFile] = []
    for pattern in configured:
        regex = glob_to_regex(pattern.lstrip("/"))
        matched = [p for p in listed if regex.match(p) or regex.match(p.removesuffix(".gz"))]
        if not matched:
            notes.append(f"No file matches the configured result path {pattern!r}.")
        found.extend(FoundFile(p, _kind_of(p) or ResultKind.JUNIT) for p in matched)
    return found


def _kind_of(path: str) -> ResultKind | None:
    what = classify_path(path)
    if what is not None and isinstance(what.kind, ResultKind):
        return what.kind
    if path.endswith((".xml", ".xml.gz")):
        return ResultKind.JUNIT
    if ".subunit" in path:
        return ResultKind.SUBUNIT
    return None


_JENKINS_CASE_FIELDS = "className,name,status,duration,errorDetails,errorStackTrace,skipped,skippedMessage"
JENKINS_REPORT_FIELDS = (
    f"suites[cases[{_JENKINS_CASE_FIELDS}]],childReports[result[suites[cases[{_JENKINS_CASE_FIELDS}]]]]"
)


class JenkinsLayout:
    """A Jenkins build: its URL is the tree; results, console and parameters come from its API."""

    def tree_location(self, run: RunEvent) -> str:
        """The build URL."""
        return run.log_url

    def discover(self, run: RunEvent, tree: LogTree, settings: LayoutSettings, notes: list[str]) -> Discovery:
        """The build's test report, console and build record."""
        report = "testReport/api/json"
        if tree.root.startswith(("http://", "https://")):
            # Ask Jenkins for the fields citriage reads only: a full report carries every
            # test's stdout and can be hundreds of megabytes.
            report += f"?tree={JENKINS_REPORT_FIELDS}"
        return Discovery(
            results=[FoundFile(report, ResultKind.JENKINS_REPORT)],
            console=["consoleText"],
            components=[FoundFile("api/json", ComponentKind.JENKINS_BUILD)],
            probe=True,
            method="jenkins api",
        )


_OPENQA_JOB = re.compile(r"/tests/(?P<id>\d+)/?$")


class OpenQaLayout:
    """An openQA job: the tree is the openQA host; results come from the job details API."""

    def tree_location(self, run: RunEvent) -> str:
        """The openQA host's root URL."""
        parts = urlsplit(run.log_url)
        return f"{parts.scheme}://{parts.netloc}/" if parts.scheme else run.log_url

    def discover(self, run: RunEvent, tree: LogTree, settings: LayoutSettings, notes: list[str]) -> Discovery:
        """The details of the job that `log_url` names."""
        parts = urlsplit(run.log_url)
        match = _OPENQA_JOB.search(parts.path)
        if match is None:
            notes.append(f"{run.log_url} is not an openQA job URL (…/tests/<id>).")
            return Discovery(method="openqa api")
        job = match["id"]
        wanted = [f"api/v1/jobs/{job}/details", f"tests/{job}/file/autoinst-log.txt"]
        base = _base_path(tree, parts.scheme, parts.netloc, parts.path[: match.start()])
        if base is None:
            raise FetchRefused(f"the openQA API of {run.log_url} is outside the log tree {tree.root}")
        return Discovery(
            results=[FoundFile(base + wanted[0], ResultKind.OPENQA_DETAILS)],
            console=[base + wanted[1]],
            probe=True,
            method="openqa api",
        )


def _base_path(tree: LogTree, scheme: str, netloc: str, prefix: str) -> str | None:
    """Where the openQA root (`prefix` on the host) is inside the tree, as a relative path."""
    root = tree.root
    if not root.startswith(("http://", "https://")):
        return prefix.strip("/") + "/" if prefix.strip("/") else ""  # a local mirror of the host
    host_root = f"{scheme}://{netloc}{prefix.rstrip('/')}/"
    if not host_root.startswith(root):
        return None
    return host_root[len(root) :]
