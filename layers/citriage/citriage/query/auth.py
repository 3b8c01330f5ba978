"""Bearer tokens for the query API: the authorizer's decision, from the stored tokens."""

from __future__ import annotations

from typing import Any

from citriage.models.query import ApiToken, TokenScope
from citriage.ports import Tokens


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def verified(token: str, tokens: Tokens) -> ApiToken | None:
    """The stored token a presented one is; None for an unknown, revoked or malformed one (a
    token is far shorter than 200 characters: a longer one is not looked up)."""
    return tokens.verify(token) if len(token) < 200 else None


def authorize(header: str | None, tokens: Tokens) -> dict[str, Any]:
    """An HTTP API simple authorizer response: authorized with the token's scope and id in the
    context, or not (an unknown, malformed or revoked token)."""
    token = bearer(header)
    found = verified(token, tokens) if token else None
    if found is None or found.scope is TokenScope.SUBMIT:  # a job's upload token reads nothing
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {"scope": found.scope.value, "token_id": found.token_id}}
