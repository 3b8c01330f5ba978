"""Robot Framework's own record of a run (its output.xml): each test's id as its xunit file
names it (suite long name . test name), its status and its message.

Usage: python record_robot.py OUTPUT.xml RECORD.json
"""

import json
import sys

from robot.api import ExecutionResult, ResultVisitor


class Recorder(ResultVisitor):
    def __init__(self) -> None:
        self.record: dict = {}

    def visit_test(self, test) -> None:
        outcome = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[test.status]
        message = test.message.strip().splitlines()[0] if outcome == "failed" and test.message else None
        self.record[f"{test.parent.longname}.{test.name}"] = {"outcome": outcome, "message": message}


def main() -> None:
    output, target = sys.argv[1:]
    recorder = Recorder()
    ExecutionResult(output).visit(recorder)
    with open(target, "w", encoding="utf-8") as out:
        json.dump(recorder.record, out, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
