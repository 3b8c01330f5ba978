"""Every source's payload parser under property-based fuzzing: a correctly signed request, whatever
its body, is accepted (202) or refused with a 4xx and its reason; never a 5xx."""

import json
from pathlib import Path

import pytest
from citriage.errors import CitriageError
from citriage.intake.sources.auth import sign_hmac_sha256
from citriage.intake.webhook import WebhookService
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.fakes import FakeDedupe, FakeKeys, FakeQueue

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = {
    "zuul": sorted((EVENTS / "zuul").glob("*.json"))[0],
    "generic": EVENTS / "generic" / "build-failed.json",
    "openqa": next((EVENTS / "openqa").glob("*.json")),
    "github": next((EVENTS / "github").glob("*.json")),
    "gitlab": next((EVENTS / "gitlab").glob("*.json")),
    "jenkins": next((EVENTS / "jenkins").glob("*.json")),
}
KEY = "fuzz-key"

# Values a hostile payload puts where a field is expected.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x9F), max_size=20),
    st.sampled_from(["x" * 3000, "a\r\nBcc: x@example.org", "\x00", "../../etc/passwd", "1e300", "-1"]),
)
hostile_scalar = st.one_of(
    hostile_text,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
hostile_value = st.recursive(
    hostile_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def request(source: str, body: bytes) -> tuple[dict[str, str], dict[str, str]]:
    if source == "jenkins":
        return {}, {"token": KEY}
    if source == "gitlab":
        return {"x-gitlab-token": KEY, "x-gitlab-event": "Pipeline Hook"}, {}
    if source == "github":
        return {"x-hub-signature-256": sign_hmac_sha256(body, KEY), "x-github-event": "workflow_run"}, {}
    return {"x-citriage-signature": sign_hmac_sha256(body, KEY)}, {}


def status_of(source: str, body: bytes) -> int:
    service = WebhookService(
        keys=FakeKeys(dict.fromkeys(SAMPLES, KEY)),
        dedupe=FakeDedupe(),
        queue=FakeQueue(),
        max_body_bytes=1 << 20,
    )
    headers, query = request(source, body)
    try:
        service.receive(source, headers, body, query)
    except CitriageError as exc:
        return int(getattr(exc, "status_code", 500))
    return 202


def mutate(document: object, path: list[object], value: object) -> object:
    """The document with the value at `path` (keys or indexes, as far as they reach) replaced."""
    if not path or not isinstance(document, dict | list):
        return value
    key, rest = path[0], path[1:]
    if isinstance(document, dict):
        chosen = list(document)[int(key) % len(document)] if document else "x"
        return {**document, chosen: mutate(document.get(chosen), rest, value)}
    if not document:
        return [value]
    index = int(key) % len(document)
    return [*document[:index], mutate(document[index], rest, value), *document[index + 1 :]]


@pytest.mark.parametrize("source", sorted(SAMPLES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.lists(st.integers(min_value=0, max_value=50), max_size=4), value=hostile_value)
def test_a_mutated_payload_is_accepted_or_refused_never_a_server_error(source, path, value):
    sample = json.loads(SAMPLES[source].read_text().replace("${LOG_SERVER}", "https://logs.example.org"))
    body = json.dumps(mutate(sample, path, value)).encode()
    assert status_of(source, body) in (202, 400, 404, 409, 413)


@pytest.mark.parametrize("source", sorted(SAMPLES))
@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300))
def test_any_bytes_are_refused_with_a_4xx(source, body):
    assert status_of(source, body) in (202, 400, 409, 413)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"job": ' + b"9" * 5000 + b"}", b'{"end_time": 1e300}'],
    ids=["deep-nesting", "5000-digit-integer", "huge-time"],
)
@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_the_named_hostile_bodies_are_400(source, body):
    assert status_of(source, body) == 400
