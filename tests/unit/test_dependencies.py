"""The tests run exactly what the Lambda layer ships: every package the layer pins is installed
here at that version (make installs both from the locks)."""

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

LAYER_LOCK = Path(__file__).resolve().parents[2] / "layers" / "citriage" / "requirements.txt"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)")


def test_every_layer_pin_is_the_version_installed_for_the_tests():
    pins = dict(m.groups() for line in LAYER_LOCK.read_text().splitlines() if (m := _PIN.match(line)))
    assert {"boto3", "pydantic", "aws-lambda-powertools", "jinja2"} <= {p.lower() for p in pins}
    mismatched = {}
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            mismatched[name] = (pinned, installed)
    assert mismatched == {}, "run make (the venv is not the layer's lock): " + repr(mismatched)


def test_the_lock_is_fully_pinned():
    lines = [line.strip() for line in LAYER_LOCK.read_text().splitlines()]
    requirements = [line for line in lines if line and not line.startswith(("#", "-"))]
    assert requirements and all("==" in line for line in requirements)
