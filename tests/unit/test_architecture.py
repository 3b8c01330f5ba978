"""docs/architecture.md stays true, and the package keeps the shape the design gives it."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "layers" / "citriage" / "citriage"
DOC = REPO / "docs" / "architecture.md"
# Backticked paths: a file with a suffix, or a folder ending in a slash.
_PATH = re.compile(r"`([\w./-]+(?:\.(?:py|md|yaml|json|j2|toml)|/))`")


def named_paths() -> list[str]:
    return sorted({m for m in _PATH.findall(DOC.read_text("utf-8")) if "/" in m or "." in m})


def resolve(path: str) -> Path:
    """Repository-root paths as they are; everything else under the package."""
    top = path.split("/", 1)[0]
    if (REPO / top).exists() and top not in ("models", "notify", "analyze", "intake", "cli", "local"):
        return REPO / path
    return PACKAGE / path


@pytest.mark.parametrize("path", named_paths())
def test_every_path_the_architecture_page_names_exists(path):
    assert resolve(path).exists(), f"docs/architecture.md names {path}, which does not exist"


def test_the_page_names_enough_paths_to_be_checked():
    assert len(named_paths()) >= 40


def test_at_most_eight_modules_at_the_top_of_the_package():
    top = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= 8, top


def test_no_module_is_over_450_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 450
    }
    assert long == {}


def test_boto3_is_imported_only_under_the_aws_adapters():
    importing = re.compile(r"^\s*(import boto3|from boto3|import botocore|from botocore)", re.M)
    outside = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if importing.search(p.read_text()) and "adapters/aws" not in p.as_posix()
    ]
    assert outside == []


def test_the_environment_is_read_only_in_config_and_local_mode():
    reading = re.compile(r"os\.environ|os\.getenv|getenv\(")
    outside = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if reading.search(p.read_text())
        and p.name != "config.py"
        and "local/" not in p.relative_to(PACKAGE).as_posix()
    ]
    assert outside == []


def test_every_protocol_is_defined_in_ports():
    defining = re.compile(r"^class \w+\((?:[\w\[\], ]*, )?Protocol\)", re.M)
    outside = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "ports.py" and defining.search(p.read_text())
    ]
    assert outside == []
