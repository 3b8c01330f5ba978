"""Cold start: how long importing each Lambda handler takes, against a bare `import boto3`
measured the same way in the same run (a fresh interpreter per measurement, median of 3).

Tracing off (the template's default) and on: with it on, the X-Ray SDK is loaded too.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HANDLERS = ["webhook", "analyze", "notify", "sweep", "digest", "ses_events", "unsubscribe"]
REPEAT = 3

_TIMED = """
import importlib.util, time
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""
_HANDLER = (
    "spec = importlib.util.spec_from_file_location('app', {path!r})\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)"
)


def seconds(body: str, tracing: bool) -> float:
    """Median of REPEAT fresh interpreters timing `body`."""
    env = dict(os.environ, POWERTOOLS_TRACE_DISABLED="false" if tracing else "true")
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", _TIMED.format(body=body)],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(REPEAT)
    ]
    return statistics.median(runs)


def main() -> None:
    baseline = seconds("import boto3", tracing=False)
    print(f"import boto3 (baseline): {baseline * 1000:.0f} ms (median of {REPEAT})")
    print(f"{'handler':12} {'tracing off':>12} {'vs boto3':>9} {'tracing on':>12} {'vs boto3':>9}")
    for name in HANDLERS:
        body = _HANDLER.format(path=str(REPO / "functions" / name / "app.py"))
        off, on = seconds(body, tracing=False), seconds(body, tracing=True)
        ratios = f"{off * 1000:10.0f} ms {off / baseline:8.2f}x {on * 1000:10.0f} ms {on / baseline:8.2f}x"
        print(f"{name:12} {ratios}")


if __name__ == "__main__":
    main()
