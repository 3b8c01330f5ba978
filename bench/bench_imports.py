"""Cold start: how long importing each Lambda handler takes, against a bare `import boto3`
measured the same way in the same run (a fresh interpreter per measurement, median of 3).

Tracing off (the template's default) and on: with it on, the X-Ray SDK is loaded too.

And, when `make build` has run, what the built layer costs as Lambda runs it (the runtime's
python3.13, nothing written, since /opt is read-only): `import boto3` from the layer with the
bytecode `make build` compiles and without it (the layer's native wheels are for arm64, so the
pure-Python boto3 stands for the layer).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HANDLERS = [
    "webhook",
    "analyze",
    "notify",
    "sweep",
    "digest",
    "ses_events",
    "unsubscribe",
    "query",
    "authorizer",
    "incidents",
    "feedback",
    "gate",
]
REPEAT = 3
LAYER = REPO / ".aws-sam" / "build" / "CitriageLayer" / "python"

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


def seconds(body: str, tracing: bool, python: str = sys.executable, **extra_env: str) -> float:
    """Median of REPEAT fresh interpreters timing `body`."""
    env = dict(os.environ, POWERTOOLS_TRACE_DISABLED="false" if tracing else "true", **extra_env)
    runs = [
        float(
            subprocess.run(
                [python, "-c", _TIMED.format(body=body)],
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
    built_layer()


def built_layer() -> None:
    # pyenv's own build first: its shim answers to python3.13 but fails unless 3.13 is selected.
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = sorted(pyenv.glob("versions/3.13*/bin/python3.13"))
    python = str(found[-1]) if found else shutil.which("python3.13")
    if python is None or not (LAYER / "boto3" / "__pycache__").is_dir():
        print("built layer: skipped (run `make build` first, with python3.13)")
        return
    env = {"PYTHONPATH": str(LAYER), "PYTHONDONTWRITEBYTECODE": "1"}
    compiled = seconds("import boto3", tracing=False, python=python, **env)
    with tempfile.TemporaryDirectory() as empty:
        # Bytecode looked for under an empty directory: none is found, every module is compiled.
        source = seconds("import boto3", tracing=False, python=python, PYTHONPYCACHEPREFIX=empty, **env)
    print(
        f"built layer, import boto3 as Lambda runs it: {source * 1000:.0f} ms from source, "
        f"{compiled * 1000:.0f} ms with make build's bytecode ({source / compiled:.2f}x faster)"
    )


if __name__ == "__main__":
    main()
