"""Request authentication shared by the sources: HMAC signatures and shared tokens."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from citriage.errors import Unauthorized


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name (API Gateway v2 lower-cases them)."""
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


def sign_hmac_sha256(body: bytes, key: str) -> str:
    """The `sha256=<hex>` signature of a body, as citriage and GitHub sign webhooks."""
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_hmac_sha256(headers: Mapping[str, str], header_name: str, body: bytes, key: str) -> None:
    """Check a `sha256=<hex>` HMAC of the raw body in constant time; raise Unauthorized if wrong."""
    given = header(headers, header_name)
    if not given:
        raise Unauthorized("missing signature")
    expected = sign_hmac_sha256(body, key)
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise Unauthorized("bad signature")


def verify_token(given: str | None, key: str) -> None:
    """Compare a shared token with the configured one in constant time; raise Unauthorized if wrong."""
    if not given:
        raise Unauthorized("missing token")
    if not hmac.compare_digest(given.strip().encode("utf-8"), key.encode("utf-8")):
        raise Unauthorized("bad token")


CITRIAGE_SIGNATURE_HEADER = "X-Citriage-Signature"


class HmacSignedSource:
    """Sources signed with citriage's own header (a bridge or a post-build step sends
    `X-Citriage-Signature: sha256=<hex HMAC of the raw body>`); runs dedupe by build id."""

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Check the HMAC-SHA256 signature of the raw body."""
        verify_hmac_sha256(headers, CITRIAGE_SIGNATURE_HEADER, body, key)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """No delivery id: runs are deduplicated by their build id."""
        return None
