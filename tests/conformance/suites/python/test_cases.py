"""Cases every Python runner of the conformance suite runs (pytest, unittest-xml-reporting,
stestr, nose2, tox): a pass, a failure whose 20+ KB traceback ends in the real exception,
captured output before an assertion, odd characters in an id, a skip, and a failure that
happens in one environment only."""

import logging
import os
import sys
import unittest

# A call chain of distinct functions, so that the traceback is long (Python does not fold
# distinct frames) and its last line is the exception that says what went wrong.
_CHAIN = "\n".join(f"def level_{n}():\n    return level_{n + 1}()" for n in range(600))
_CHAIN += (
    "\ndef level_600():\n"
    "    raise ConnectionRefusedError('the metadata service at 169.254.169.254 refused the connection')\n"
)
_NAMESPACE: dict = {}
exec(compile(_CHAIN, "deep_chain.py", "exec"), _NAMESPACE)  # builds the test's own call chain


class ConformanceCases(unittest.TestCase):
    def test_passes(self):
        self.assertEqual(2 + 2, 4)

    def test_deep_traceback(self):
        _NAMESPACE["level_0"]()

    def test_captured_output(self):
        print("resizing the volume to 20 GiB")
        print("quota exceeded for project demo", file=sys.stderr)
        logging.getLogger("conformance").warning("retrying the resize once")
        self.assertEqual("in-use", "available")

    def test_ünïcode_naïve_résumé(self):
        {"cv": 1}["résumé"]

    def test_skipped(self):
        self.skipTest("not on this platform")

    def test_environment_only(self):
        if os.environ.get("CONFORMANCE_ENV") == "first":
            self.fail("the schema migration fails on the first environment only")
