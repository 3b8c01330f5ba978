"""AuthorizerFunction: the HTTP API's Lambda authorizer for the query routes. It looks the bearer
token up (stored hashed) and answers with its scope; API Gateway caches the answer per token for
`AuthorizerResultTtlInSeconds`. A token is never logged."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import AuthorizerSettings
from citriage.ports import Tokens
from citriage.query.auth import authorize
from citriage.wiring import token_store

logger = Logger()


@cache
def tokens() -> Tokens:
    """Built on first use from the environment, then kept for warm invocations."""
    table = AuthorizerSettings.from_env().tokens_table
    if not table:
        raise RuntimeError("TOKENS_TABLE is not set")
    return token_store(table, AwsClients())


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: a simple response (payload format 2.0)."""
    answer = authorize((event.get("headers") or {}).get("authorization"), tokens())
    logger.info(
        "authorized" if answer["isAuthorized"] else "refused",
        token_id=answer.get("context", {}).get("token_id"),
    )
    return answer
