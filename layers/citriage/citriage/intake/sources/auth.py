"""Request authentication shared by the sources: HMAC signatures and shared tokens."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

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
# A timestamped signature is good for this long either side of its time: a request captured and
# replayed later is refused.
SIGNATURE_WINDOW_SECONDS = 300


def sign_timestamped(body: bytes, key: str, timestamp: int | None = None) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`: the signature a sender should use."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(key.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_citriage_signature(
    headers: Mapping[str, str], body: bytes, key: str, now: Callable[[], float] = time.time
) -> None:
    """Check `X-Citriage-Signature`: the timestamped form (`t=...,v1=...`, within
    SIGNATURE_WINDOW_SECONDS of now), or, during the documented transition, the plain
    `sha256=<hex>` of the body alone (which a replay can reuse: senders should move on)."""
    given = (header(headers, CITRIAGE_SIGNATURE_HEADER) or "").strip()
    if not given.startswith("t="):
        verify_hmac_sha256(headers, CITRIAGE_SIGNATURE_HEADER, body, key)
        return
    fields = dict(part.split("=", 1) for part in given.split(",") if "=" in part)
    stamp, signature = fields.get("t", ""), fields.get("v1", "")
    if not stamp.isdigit() or len(stamp) > 12 or not signature:
        raise Unauthorized("malformed signature")
    expected = sign_timestamped(body, key, int(stamp)).split(",v1=", 1)[1]
    if not hmac.compare_digest(signature.encode("utf-8"), expected.encode("utf-8")):
        raise Unauthorized("bad signature")
    if abs(now() - int(stamp)) > SIGNATURE_WINDOW_SECONDS:
        raise Unauthorized("signature outside its time window (replayed, or the sender's clock is off)")


class HmacSignedSource:
    """Sources signed with citriage's own header (a bridge or a post-build step sends
    `X-Citriage-Signature: t=<time>,v1=<hex HMAC of "<time>." + body>`, or the older
    `sha256=<hex HMAC of the body>`); runs dedupe by build id."""

    def verify(
        self, headers: Mapping[str, str], body: bytes, key: str, query: Mapping[str, str] | None = None
    ) -> None:
        """Check the signature of the raw body (and its time, in the timestamped form)."""
        verify_citriage_signature(headers, body, key)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        """No delivery id: runs are deduplicated by their build id."""
        return None
