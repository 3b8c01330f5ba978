"""Timestamped signatures: a captured request replayed after its window is refused (401)."""

import json
import time

import pytest
from citriage.errors import Unauthorized
from citriage.intake.sources.auth import (
    SIGNATURE_WINDOW_SECONDS,
    sign_hmac_sha256,
    sign_timestamped,
    verify_citriage_signature,
)
from citriage.intake.webhook import WebhookService

from tests.conftest import EVENTS
from tests.unit.fakes import FakeDedupe, FakeKeys, FakeQueue

BODY = (EVENTS / "generic" / "build-failed.json").read_text().replace("${LOG_SERVER}", "https://l").encode()


def check(signature: str, now: float) -> None:
    verify_citriage_signature({"X-Citriage-Signature": signature}, BODY, "k", now=lambda: now)


def test_a_timestamped_signature_is_good_within_its_window_only():
    t = 1_795_168_800
    signature = sign_timestamped(BODY, "k", t)
    check(signature, t + SIGNATURE_WINDOW_SECONDS - 1)
    with pytest.raises(Unauthorized, match="outside its time window"):
        check(signature, t + SIGNATURE_WINDOW_SECONDS + 1)
    # Its time is signed too: moving it into the window breaks the signature
    moved = signature.replace(f"t={t}", f"t={t + 600}")
    with pytest.raises(Unauthorized, match="bad signature"):
        check(moved, t + 600)
    with pytest.raises(Unauthorized, match="malformed"):
        check("t=soon,v1=00", t)


def test_the_plain_form_is_still_accepted_during_the_transition():
    check(sign_hmac_sha256(BODY, "k"), time.time())


def test_a_replayed_webhook_after_its_window_is_401_through_the_service():
    service = WebhookService(
        keys=FakeKeys({"generic": "k"}), dedupe=FakeDedupe(), queue=FakeQueue(), max_body_bytes=1 << 20
    )
    old = sign_timestamped(BODY, "k", int(time.time()) - 3600)
    with pytest.raises(Unauthorized) as refused:
        service.receive("generic", {"x-citriage-signature": old}, BODY, {})
    assert refused.value.status_code == 401
    fresh = sign_timestamped(BODY, "k")
    assert service.receive("generic", {"x-citriage-signature": fresh}, BODY, {}).accepted
    assert json.loads(BODY)["job"] == "tempest-integrated-storage"
