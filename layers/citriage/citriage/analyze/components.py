"""Component versions a job says it ran, for the report's `components`.

Read from Zuul's `zuul-info/inventory.yaml` (project checkouts and commits), pip freezes,
`rpm -qa`, `dpkg -l` and Jenkins build parameters. Earlier sources win on a name clash:
the project commits Zuul tested say more than a package list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import yaml

from citriage.analyze.logs.layouts import ComponentKind
from citriage.analyze.logs.streams import iter_lines
from citriage.analyze.parsers.jenkins import jenkins_build_parameters, read_json
from citriage.models import glob_match

MAX_COMPONENTS = 1500
MAX_VALUE = 120
MAX_YAML_BYTES = 4 * 1024 * 1024
_PIP = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:===?|@)\s*(?P<version>\S+)")
_PIP_EDITABLE = re.compile(r"^-e\s+\S*?#egg=(?P<name>[A-Za-z0-9._-]+)")
_RPM = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+-[^-]+)\.(?P<arch>[A-Za-z0-9_]+)$")
_DPKG = re.compile(r"^[a-z]i\s+(?P<name>\S+?)(?::\S+)?\s+(?P<version>\S+)\s")


def _pairs_from_lines(lines: Iterable[str], parse: Callable[[str], tuple[str, str] | None]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        pair = parse(line.strip())
        if pair is not None and pair[0] not in found:
            found[pair[0]] = pair[1][:MAX_VALUE]
        if len(found) >= MAX_COMPONENTS:
            break
    return found


def _pip(line: str) -> tuple[str, str] | None:
    match = _PIP.match(line)
    if match:
        return match["name"].lower(), match["version"]
    editable = _PIP_EDITABLE.match(line)
    return (editable["name"].lower(), line.split()[1].split("#", 1)[0]) if editable else None


def _rpm(line: str) -> tuple[str, str] | None:
    match = _RPM.match(line)
    return (match["name"], match["version"]) if match else None


def _dpkg(line: str) -> tuple[str, str] | None:
    match = _DPKG.match(line)
    return (match["name"], match["version"]) if match else None


def zuul_project_versions(inventory: Any) -> dict[str, str]:
    """`project -> "<checkout> <commit>"` from an inventory's `all.vars.zuul.projects`."""
    found: dict[str, str] = {}
    try:
        projects = inventory["all"]["vars"]["zuul"]["projects"]
    except (KeyError, TypeError):
        return found
    if not isinstance(projects, dict):
        return found
    for key, project in projects.items():
        if not isinstance(project, dict):
            continue
        name = str(project.get("name") or key)
        checkout = str(project.get("checkout") or "")
        commit = str(project.get("commit") or "")[:12]
        value = " ".join(x for x in (checkout, commit) if x)
        if value:
            found[name] = value[:MAX_VALUE]
    return found


_LINE_PARSERS: dict[str, Callable[[str], tuple[str, str] | None]] = {
    ComponentKind.PIP_FREEZE: _pip,
    ComponentKind.RPM_QA: _rpm,
    ComponentKind.DPKG_L: _dpkg,
}


def read_components(kind: str, stream: BinaryIO, name: str, notes: list[str]) -> dict[str, str]:
    """Component versions from one file of the given kind."""
    line_parser = _LINE_PARSERS.get(kind)
    if line_parser is not None:
        return _pairs_from_lines(iter_lines(stream), line_parser)
    if kind == ComponentKind.JENKINS_BUILD:
        return jenkins_build_parameters(read_json(stream, name, notes))
    if kind != ComponentKind.ZUUL_INVENTORY:
        return {}
    data = stream.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        notes.append(f"{name}: too large to read for component versions.")
        return {}
    try:
        # safe_load builds no objects; aliases are shared references, not copies.
        return zuul_project_versions(yaml.safe_load(data))
    except yaml.YAMLError as exc:
        notes.append(f"{name}: not valid YAML ({type(exc).__name__}); no project versions read.")
        return {}


def merge_components(into: dict[str, str], found: dict[str, str], notes: list[str]) -> None:
    """Add `found` to `into` without overriding earlier sources, up to MAX_COMPONENTS."""
    for key, value in found.items():
        if len(into) >= MAX_COMPONENTS:
            note = f"Kept the first {MAX_COMPONENTS} component versions; the rest were skipped."
            if note not in notes:
                notes.append(note)
            return
        into.setdefault(key, value)


def components_matching(components: dict[str, str], patterns: list[str]) -> dict[str, str]:
    """The components whose name matches one of the globs (what a subscriber cares about);
    all of them when no pattern is given."""
    if not patterns:
        return dict(components)
    return {name: version for name, version in components.items() if glob_match(name, patterns)}
