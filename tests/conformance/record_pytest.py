"""A pytest plugin that writes pytest's own record of a run (CONFORMANCE_RECORD): each test's
JUnit id by pytest's own naming rule, its outcome, and its exception line (reprcrash)."""

import json
import os
import re


def _junit_id(nodeid: str) -> str:
    # pytest's junitxml: mangle_test_address (file path to dots, params kept) then classname.name
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names)


_RECORD: dict = {}


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        entry = _RECORD.setdefault(_junit_id(report.nodeid), {"outcome": "passed", "message": None})
        if report.outcome == "skipped":
            entry["outcome"] = "skipped"
        elif report.outcome == "failed":
            entry["outcome"] = "failed"
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr)
            entry["message"] = message.strip().splitlines()[0].strip()


def pytest_sessionfinish(session):
    target = os.environ.get("CONFORMANCE_RECORD")
    if target and not hasattr(session.config, "workerinput"):
        with open(target, "w", encoding="utf-8") as out:
            json.dump(_RECORD, out, indent=2, ensure_ascii=False)
