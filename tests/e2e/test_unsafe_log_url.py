"""A signed webhook whose log_url points at the cloud metadata service or a private address:
nothing is fetched, and the stored report says why."""

from __future__ import annotations

import json

import boto3
import pytest
from citriage.adapters.aws.dynamodb import RunStore
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.local.embedded import HandlerChain, LocalStack

from tests.conftest import EVENTS

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "log_root", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.7", "https://192.168.1.20:8443"]
)
def test_webhook_with_metadata_or_private_log_url_fetches_nothing(stack: LocalStack, log_root: str):
    # Given a correctly signed Zuul message whose log_url points somewhere citriage must not go
    chain = HandlerChain(stack)
    body = (EVENTS / "zuul" / "tempest-mixed.json").read_text().replace("${LOG_SERVER}", log_root).encode()
    headers = {"X-Citriage-Signature": sign_hmac_sha256(body, stack.webhook_keys["zuul"])}
    # When it is accepted and analyzed
    status, response = chain.post("zuul", body, headers)
    assert status == 202
    analysed, _ = chain.run_pending()
    # Then the analysis finished (no crash, no retry loop) with no results and the reason
    assert analysed == 1
    report = RunStore(boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"])).get_report(
        response["accepted"][0]
    )
    assert report is not None
    assert report.verdict.value == "no_results"
    assert report.tests.total == 0
    assert any("Logs unavailable" in n and "not a configured log host" in n for n in report.notes)
    assert json.loads(body)["buildset"]["builds"][0]["log_url"].startswith(log_root)
