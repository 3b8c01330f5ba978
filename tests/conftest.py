"""Shared fixtures: the embedded AWS endpoint (a real moto server over HTTP) and a log server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from citriage.local.embedded import EmbeddedAws, LocalStack
from citriage.local.loopback import serve_directory

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
SENDER = "citriage@example.org"


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAws]:
    """One moto server for the session; each test resets it (see `stack`)."""
    saved = dict(os.environ)
    aws = EmbeddedAws()
    aws.start()
    yield aws
    aws.stop()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def log_server() -> Iterator[str]:
    """The bundled log trees over HTTP on 127.0.0.1."""
    with serve_directory(EVENTS / "logs") as url:
        yield url


@pytest.fixture
def stack(embedded_aws: EmbeddedAws, log_server: str, tmp_path: Path) -> LocalStack:
    """Fresh resources (as template.yaml declares them) on the embedded endpoint."""
    requests.post(f"{embedded_aws.endpoint}/moto-api/reset", timeout=10).raise_for_status()
    return embedded_aws.provision(SENDER, [log_server], tmp_path / "out")
