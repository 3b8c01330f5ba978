"""Which environment each result file ran in, so that one environment never erases another's
failure: tox's `py311` and `py312`, a CI matrix's axes, pytest's `junit_suite_name`.

A run's result files of one format are one environment unless they say otherwise. They say so
by their place (`.tox/<env>/`, or directories that differ only in one part), by their names
(`junit-py311.xml` beside `junit-py312.xml`), or, for JUnit, by suite names that differ from
file to file. stestr's numbered runs and worker streams, and Surefire's one file per class, are
one environment: their names are not environments.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

_TOX = re.compile(r"(?:^|/)\.?tox/(?P<env>[^/]+)/")
# File names that are per test class or per run of one environment, never environments.
_NOT_ENVIRONMENTS = re.compile(r"^(?:TEST-.+|\d+|tmp\w+)(?:\.\w+)*$")
# Suite names writers use whatever the environment: no information.
_GENERIC_SUITES = frozenset({"", "pytest", "tempest", "nose2-junit", "jest tests", "mocha tests", "root"})
_WORDS = re.compile(r"[-_.]+")


def _varying(parts: Sequence[str]) -> list[str] | None:
    """For names that share a prefix and a suffix, the part that differs (None if none differs)."""
    if len(set(parts)) < 2:
        return None
    prefix = posixpath.commonprefix(list(parts))
    # Whole words only: `junit-py311`/`junit-py312` vary in `py311`/`py312`, not in `1`/`2`.
    prefix = prefix[: max((prefix.rfind(c) + 1 for c in "-_./"), default=0)]
    suffix = posixpath.commonprefix([p[len(prefix) :][::-1] for p in parts])[::-1]
    suffix = suffix[min((i for c in "-_./" if (i := suffix.find(c)) >= 0), default=len(suffix)) :]
    varying = [p[len(prefix) : len(p) - len(suffix)].strip("-_./") for p in parts]
    return varying if all(varying) and len(set(varying)) == len(parts) else None


def _from_place(path: str) -> str | None:
    found = _TOX.search(path)
    return found["env"] if found else None


def _by_name_or_suite(paths: Sequence[str], suites: Sequence[set[str]]) -> list[str] | None:
    """Environments told by file names that differ in one word, or by one suite name per file."""
    names = [posixpath.basename(p) for p in paths]
    if any(_NOT_ENVIRONMENTS.match(n) for n in names):
        return None
    stems = _varying([re.sub(r"(\.\w+)+$", "", n) for n in names])
    if stems is not None:
        return stems
    single = [next(iter(s)) if len(s) == 1 else "" for s in suites]
    if all(s and s.lower() not in _GENERIC_SUITES for s in single) and len(set(single)) == len(paths):
        return single
    return None


def file_environments(paths: Sequence[str], suites: Sequence[set[str]]) -> list[str | None]:
    """One environment per file (None: the run's only environment). `suites` holds, per file, the
    suite names its results carried (JUnit; empty for other formats)."""
    if len(paths) < 2:
        return [None] * len(paths)
    tox = [_from_place(p) for p in paths]
    found: list[str] | None = [t for t in tox if t] if all(tox) and len(set(tox)) > 1 else None
    found = found or _varying([posixpath.dirname(p) for p in paths]) or _by_name_or_suite(paths, suites)
    return list(found) if found else [None] * len(paths)
