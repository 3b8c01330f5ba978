"""Unsubscribing with one click (RFC 8058): every mail's List-Unsubscribe carries a link signed
for its recipient; the unsubscribe route checks the signature and removes that address's
subscription. The key is a secret of the stack's own; a link cannot be forged for another
address, and a changed key voids every link sent before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

from pydantic import BaseModel

from citriage.errors import BadRequest, Unauthorized
from citriage.ports import KeySource, SubscriptionRemover

# The entry of the unsubscribe secret that holds the signing key.
KEY_NAME = "unsubscribe"


def unsubscribe_token(key: str, email: str) -> str:
    """The signature of an address, as it goes in a link (URL-safe, 32 characters)."""
    digest = hmac.new(key.encode(), email.strip().lower().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:32]


class UnsubscribeLinks:
    """Signed unsubscribe links for the stack's public API (none without an API URL or key)."""

    def __init__(self, api_url: str | None, keys: KeySource | None) -> None:
        self._api_url = api_url.rstrip("/") if api_url else None
        self._keys = keys

    def url_for(self, email: str) -> str | None:
        """The one-click link for an address, or None (mail then carries a mailto: form only)."""
        if not self._api_url or self._keys is None:
            return None
        key = self._keys.key_for(KEY_NAME)
        if not key:
            return None
        return f"{self._api_url}/unsubscribe?{urlencode({'e': email, 't': unsubscribe_token(key, email)})}"


# Mail with no public API to unsubscribe through (the CLI, the demo): a mailto: form only.
NO_LINKS = UnsubscribeLinks(None, None)


class UnsubscribeOutcome(BaseModel):
    """What an unsubscribe request did."""

    email: str
    removed: bool


class UnsubscribeService:
    """Removes the subscription of an address whose link signature checks out."""

    def __init__(self, subscriptions: SubscriptionRemover, keys: KeySource) -> None:
        self._subscriptions = subscriptions
        self._keys = keys

    def check(self, email: str | None, token: str | None) -> str:
        """The address, when the link is whole and its signature is right; else a typed error."""
        if not email or not token or len(email) > 320 or len(token) > 64:
            raise BadRequest("this unsubscribe link is incomplete")
        key = self._keys.key_for(KEY_NAME)
        if not key or not hmac.compare_digest(unsubscribe_token(key, email), token):
            raise Unauthorized("this unsubscribe link is not valid (it may be from before a key change)")
        return email

    def unsubscribe(self, email: str | None, token: str | None) -> UnsubscribeOutcome:
        """Remove the address's subscription (idempotent: a second click removes nothing)."""
        address = self.check(email, token)
        existed = self._subscriptions.get(address) is not None
        if existed:
            self._subscriptions.delete(address)
        return UnsubscribeOutcome(email=address, removed=existed)
