"""Run a unittest suite and write unittest's own record of it: each test's id, outcome and
exception line (traceback.format_exception_only). With --xml DIR, the run is
unittest-xml-reporting's, which writes its JUnit XML to DIR at the same time.

Usage: python record_unittest.py START_DIR RECORD.json [--xml DIR]
"""

import json
import sys
import traceback
import unittest
from typing import ClassVar


def _line(err) -> str:
    return traceback.format_exception_only(err[0], err[1])[0].strip().splitlines()[0]


def recording(base):
    class Recording(base):
        record: ClassVar[dict] = {}

        def addSuccess(self, test):
            super().addSuccess(test)
            self.record[test.id()] = {"outcome": "passed", "message": None}

        def addFailure(self, test, err):
            super().addFailure(test, err)
            self.record[test.id()] = {"outcome": "failed", "message": _line(err)}

        def addError(self, test, err):
            super().addError(test, err)
            self.record[test.id()] = {"outcome": "failed", "message": _line(err)}

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self.record[test.id()] = {"outcome": "skipped", "message": None}

    return Recording


def main() -> None:
    start, target, *rest = sys.argv[1:]
    suite = unittest.defaultTestLoader.discover(start, top_level_dir=start)
    if rest[:1] == ["--xml"]:
        import xmlrunner  # only the unittest-xml-reporting run needs it
        from xmlrunner.result import _XMLTestResult

        result_class = recording(_XMLTestResult)
        xmlrunner.XMLTestRunner(output=rest[1], resultclass=result_class, verbosity=0).run(suite)
    else:
        result_class = recording(unittest.TextTestResult)
        unittest.TextTestRunner(resultclass=result_class, verbosity=0).run(suite)
    with open(target, "w", encoding="utf-8") as out:
        json.dump(result_class.record, out, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
