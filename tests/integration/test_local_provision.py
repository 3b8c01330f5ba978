"""The embedded stack's CI API tokens secret: empty unless a test puts tokens in it."""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.integration


def test_the_ci_api_tokens_secret_is_empty_by_default(stack):
    # Given the embedded stack provisioned with no CI tokens (as `citriage serve` and the demo are)
    # When the analyze function's CI API tokens secret is read
    value = boto3.client("secretsmanager").get_secret_value(SecretId=stack.env["CI_TOKENS_SECRET_ARN"])
    # Then it holds no credential: public CI APIs are read anonymously, not with an invented token
    assert json.loads(value["SecretString"]) == {} == stack.ci_tokens
