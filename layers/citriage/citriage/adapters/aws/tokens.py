"""DynamoDB: API tokens, one item per token id, holding the token's SHA-256 and never the token.

A token is `citr_<id>_<secret>`: the id (10 characters) is its key and what `tokens list` shows
and `tokens revoke` takes; the secret is 256 random bits, so a plain SHA-256 is enough to store
it (nobody can search 2^256 secrets; a slow hash guards guessable passwords, not these).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from citriage.adapters.aws.dynamodb import _is_conditional_failure, _scan
from citriage.models.query import ApiToken, TokenScope

_TOKEN = re.compile(r"citr_([a-z2-7]{10})_([A-Za-z0-9_-]{43})")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class TokenStore:
    """API tokens in their table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, name: str, scope: TokenScope) -> tuple[str, ApiToken]:
        """A new token (returned once, never stored) and what is stored of it."""
        while True:
            token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
            token = f"citr_{token_id}_{secrets.token_urlsafe(32)}"
            stored = ApiToken(token_id=token_id, name=name, scope=scope, created_at=datetime.now(UTC))
            try:
                self._table.put_item(
                    Item={**stored.model_dump(mode="json"), "hash": _digest(token)},
                    ConditionExpression="attribute_not_exists(token_id)",
                )
            except ClientError as exc:
                if _is_conditional_failure(exc):
                    continue  # an id taken already (1 in 2^50): draw another
                raise
            return token, stored

    def verify(self, token: str) -> ApiToken | None:
        """The stored token a presented one is, or None (malformed, unknown or revoked)."""
        found = _TOKEN.fullmatch(token)
        if found is None:
            return None
        item = self._table.get_item(Key={"token_id": found.group(1)}, ConsistentRead=True).get("Item")
        if item is None or not hmac.compare_digest(str(item.get("hash", "")), _digest(token)):
            return None
        return ApiToken.model_validate({k: v for k, v in item.items() if k != "hash"})

    def list(self) -> list[ApiToken]:
        """Every token, oldest first (a Scan: an admin's command, never the API's read path)."""
        tokens = [
            ApiToken.model_validate({k: v for k, v in i.items() if k != "hash"}) for i in _scan(self._table)
        ]
        return sorted(tokens, key=lambda t: (t.created_at, t.token_id))

    def revoke(self, token_id: str) -> bool:
        """Remove a token; False when there was none of that id."""
        try:
            self._table.delete_item(
                Key={"token_id": token_id}, ConditionExpression="attribute_exists(token_id)"
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True
