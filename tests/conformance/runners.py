"""The real test runners of the conformance suite, each run into a result tree of its own with
the runner's own record of the run beside it (never citriage's reading of it).

A `Written` is what one writer produced: the tree citriage analyses, and the expected results
keyed by (environment, test id) as the runner itself recorded them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SUITES = HERE / "suites"
JS = HERE / "js"
RUNNERS_VENV = REPO / ".venv-runners"
RUNNER_BIN = RUNNERS_VENV / "bin"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Expected:
    outcome: str
    message: str | None


@dataclass
class Written:
    name: str
    tree: Path
    expected: dict[tuple[str | None, str], Expected]


def available() -> str | None:
    """Why the suite cannot run here (None when it can): the runners come from make."""
    if not (RUNNER_BIN / "python").exists():
        return f"{RUNNERS_VENV} is missing: run make conformance-tools"
    if not (JS / "node_modules" / ".bin" / "jest").exists():
        return f"{JS}/node_modules is missing: run make conformance-tools"
    return None


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, check_code: tuple[int, ...] = (0, 1)
) -> None:
    full_env = {**os.environ, "PYTHONPATH": str(HERE), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    full_env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode not in check_code:
        raise RuntimeError(
            f"{args[0]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def _record(path: Path, env: str | None = None, key=lambda k: k) -> dict[tuple[str | None, str], Expected]:
    data = json.loads(path.read_text("utf-8"))
    return {(env, key(test_id)): Expected(v["outcome"], v["message"]) for test_id, v in data.items()}


def _copy_suite(name: str, into: Path) -> Path:
    target = into / "work"
    shutil.copytree(SUITES / name, target)
    return target


def pytest_junit(out: Path, name: str, *options: str) -> Written:
    """pytest's --junitxml with the given options, on the Python and pytest-only cases."""
    tree, record = out / "tree", out / "record.json"
    tree.mkdir(parents=True)
    # Run from a copy outside the repository: no conftest or pytest settings of citriage's apply.
    suites = out / "suites"
    shutil.copytree(SUITES, suites, ignore=shutil.ignore_patterns("robot"))
    (suites / "pytest.ini").write_text("[pytest]\n")
    _run(
        [
            str(RUNNER_BIN / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "record_pytest",
            f"--junitxml={tree / 'junit.xml'}",
            *options,
            "python",
            "pytest",
        ],
        cwd=suites,
        env={"CONFORMANCE_RECORD": str(record)},
    )
    return Written(name, tree, _record(record))


def unittest_xml(out: Path) -> Written:
    """unittest-xml-reporting: one TEST-*.xml per test class under test-reports/."""
    tree, record = out / "tree", out / "record.json"
    work = _copy_suite("python", out)
    _run(
        [
            str(RUNNER_BIN / "python"),
            str(HERE / "record_unittest.py"),
            str(work),
            str(record),
            "--xml",
            str(tree / "test-reports"),
        ],
        cwd=work,
    )
    return Written("unittest-xml-reporting", tree, _record(record))


def stestr_run(out: Path, convert: bool) -> Written:
    """stestr's repository (.stestr/0), or its last run converted with subunit2junitxml."""
    work, record = _copy_suite("python", out), out / "record.json"
    (work / ".stestr.conf").write_text("[DEFAULT]\ntest_path=.\ntop_dir=.\n")
    _run([str(RUNNER_BIN / "stestr"), "run"], cwd=work)
    _run([str(RUNNER_BIN / "python"), str(HERE / "record_unittest.py"), str(work), str(record)], cwd=work)
    if not convert:
        shutil.rmtree(work / "__pycache__", ignore_errors=True)
        return Written("stestr", work, _record(record))
    tree = out / "tree"
    tree.mkdir()
    stream = subprocess.run(
        [str(RUNNER_BIN / "stestr"), "last", "--subunit"],
        cwd=work,
        capture_output=True,
        check=False,
        timeout=120,
    ).stdout
    xml = subprocess.run(
        [str(RUNNER_BIN / "subunit2junitxml")], input=stream, capture_output=True, check=False, timeout=120
    ).stdout
    (tree / "tempest.xml").write_bytes(xml)
    return Written("stestr + subunit2junitxml", tree, _record(record))


def nose2_run(out: Path) -> Written:
    tree, record = out / "tree", out / "record.json"
    tree.mkdir(parents=True)
    work = _copy_suite("python", out)
    _run(
        [
            str(RUNNER_BIN / "nose2"),
            "-s",
            str(work),
            "--plugin",
            "nose2.plugins.junitxml",
            "--junit-xml",
            "--junit-xml-path",
            str(tree / "nose2-junit.xml"),
        ],
        cwd=work,
    )
    _run([str(RUNNER_BIN / "python"), str(HERE / "record_unittest.py"), str(work), str(record)], cwd=work)
    return Written("nose2", tree, _record(record))


def robot_run(out: Path) -> Written:
    tree, record = out / "tree", out / "record.json"
    tree.mkdir(parents=True)
    _run(
        [
            str(RUNNER_BIN / "robot"),
            "--xunit",
            str(tree / "xunit.xml"),
            "--output",
            str(out / "output.xml"),
            "--report",
            "NONE",
            "--log",
            "NONE",
            str(SUITES / "robot" / "cases.robot"),
        ],
        cwd=out,
        check_code=tuple(range(0, 250)),
    )
    _run(
        [str(RUNNER_BIN / "python"), str(HERE / "record_robot.py"), str(out / "output.xml"), str(record)],
        cwd=out,
    )
    return Written("robot --xunit", tree, _record(record))


def jest_run(out: Path) -> Written:
    """jest with jest-junit; jest's own --json record. jest-junit's default templates name a
    test `{classname} {title}` twice (classname and name): the id is that, dot, that."""
    tree = out / "tree"
    tree.mkdir(parents=True)
    record = out / "jest.json"
    _run(
        [
            str(JS / "node_modules" / ".bin" / "jest"),
            "--ci",
            "--testMatch",
            "**/cases/*.test.js",
            "--reporters=default",
            "--reporters=jest-junit",
            "--json",
            f"--outputFile={record}",
        ],
        cwd=JS,
        env={"JEST_JUNIT_OUTPUT_DIR": str(tree), "JEST_JUNIT_OUTPUT_NAME": "junit.xml"},
    )
    expected = {}
    for suite in json.loads(record.read_text("utf-8"))["testResults"]:
        for case in suite["assertionResults"]:
            full = " ".join([*case["ancestorTitles"], case["title"]])
            outcome = {"passed": "passed", "failed": "failed"}.get(case["status"], "skipped")
            messages = case.get("failureMessages") or []
            message = ANSI.sub("", messages[0]).strip().splitlines()[0] if messages else None
            expected[(None, f"{full}.{full}")] = Expected(outcome, message)
    return Written("jest + jest-junit", tree, expected)


def mocha_run(out: Path) -> Written:
    """mocha with mocha-junit-reporter; mocha's own json reporter for the record. The reporter
    names a test by its full title, in a class named by its title: the id is title.fullTitle."""
    tree = out / "tree"
    tree.mkdir(parents=True)
    mocha = str(JS / "node_modules" / ".bin" / "mocha")
    # includePending: without it the reporter leaves pending tests out of the file altogether.
    _run(
        [
            mocha,
            "--reporter",
            "mocha-junit-reporter",
            "--reporter-options",
            "includePending=true",
            "cases/sum.mocha.js",
        ],
        cwd=JS,
        check_code=tuple(range(100)),
        env={"MOCHA_FILE": str(tree / "test-results.xml")},
    )
    done = subprocess.run(
        [mocha, "--reporter", "json", "cases/sum.mocha.js"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    data = json.loads(done.stdout)
    expected = {}
    for key, outcome in (("passes", "passed"), ("failures", "failed"), ("pending", "skipped")):
        for test in data[key]:
            stack = (test.get("err") or {}).get("stack") or ""
            message = stack.strip().splitlines()[0] if outcome == "failed" and stack else None
            expected[(None, f"{test['title']}.{test['fullTitle']}")] = Expected(outcome, message)
    return Written("mocha + mocha-junit-reporter", tree, expected)


def tox_run(out: Path) -> Written:
    """tox with two environments of the Python cases; each environment's pytest records itself."""
    work = _copy_suite("python", out)
    (work / "pytest.ini").write_text("[pytest]\n")
    tree = out / "tree"
    tox_ini = (
        (work / "tox.ini")
        .read_text()
        .replace("setenv =\n", "setenv =\n    CONFORMANCE_RECORD = {envdir}/record.json\n")
    )
    (work / "tox.ini").write_text(tox_ini)
    _run(
        [str(RUNNER_BIN / "tox"), "-q", "-c", str(work / "tox.ini"), "--workdir", str(tree / ".tox")],
        cwd=work,
        check_code=(0, 1, 255),
    )
    expected: dict[tuple[str | None, str], Expected] = {}
    for env in ("first", "second"):
        expected |= _record(tree / ".tox" / env / "record.json", env)
    return Written("tox (two environments)", tree, expected)


WRITERS = {
    "pytest-xunit2-logging-all": lambda out: pytest_junit(
        out, "pytest xunit2, junit_logging=all", "-o", "junit_family=xunit2", "-o", "junit_logging=all"
    ),
    "pytest-xunit1": lambda out: pytest_junit(out, "pytest xunit1", "-o", "junit_family=xunit1"),
    "pytest-xdist": lambda out: pytest_junit(out, "pytest-xdist", "-n", "2"),
    "unittest-xml-reporting": unittest_xml,
    "stestr": lambda out: stestr_run(out, convert=False),
    "stestr-subunit2junitxml": lambda out: stestr_run(out, convert=True),
    "nose2": nose2_run,
    "robot": robot_run,
    "jest": jest_run,
    "mocha": mocha_run,
    "tox": tox_run,
}


if __name__ == "__main__":
    for name in sys.argv[1:] or WRITERS:
        target = Path("/tmp/conformance") / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        written = WRITERS[name](target)
        print(name, written.tree, len(written.expected))
