"""Webhook intake: authenticate, parse, normalise, dedupe and enqueue. No analysis here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from citriage import keys
from citriage.errors import BadRequest, IntakeInProgress, PayloadTooLarge, Unauthorized, validation_summary
from citriage.intake.sources import SOURCES, get_source
from citriage.models import RunEvent
from citriage.ports import Dedupe, KeySource, Queue, WebhookSource

# Runs one webhook message may carry (a Zuul buildset's finished builds, an openQA group).
MAX_RUNS_PER_MESSAGE = 500


class WebhookOutcome(BaseModel):
    """What a webhook request led to (the 202 response body)."""

    accepted: list[str]
    duplicates: list[str]


class WebhookService:
    """Turns a signed CI webhook into queued, deduplicated analysis requests."""

    def __init__(
        self,
        keys: KeySource,
        dedupe: Dedupe,
        queue: Queue,
        max_body_bytes: int,
        sources: Mapping[str, WebhookSource] = SOURCES,
    ) -> None:
        self._sources = sources
        self._keys = keys
        self._dedupe = dedupe
        self._queue = queue
        self._max_body_bytes = max_body_bytes

    def receive(
        self,
        source_name: str,
        headers: Mapping[str, str],
        body: bytes,
        query: Mapping[str, str] | None = None,
    ) -> WebhookOutcome:
        """Handle one webhook request; raises a CitriageError subclass for every refusal.

        Nothing is enqueued unless the signature is right. A run already accepted (a redelivery,
        or the same build found by a sweep) is reported as a duplicate and not enqueued again;
        so is every run of a delivery whose id (e.g. X-GitHub-Delivery) was seen before.
        """
        source = get_source(source_name, self._sources)
        if len(body) > self._max_body_bytes:
            raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {self._max_body_bytes}")
        key = self._keys.key_for(source.name)
        if key is None:
            # No key configured means no request can be trusted, not that all are.
            raise Unauthorized(f"no key is configured for source {source.name}")
        source.verify(headers, body, key, query)
        payload = parse_json(body)
        try:
            runs = source.normalize(payload)
        except ValidationError as exc:
            raise BadRequest(f"not a usable {source.name} payload: {validation_summary(exc)}") from None
        if len(runs) > MAX_RUNS_PER_MESSAGE:
            # Each run is a claim and a send: one request must not cost thousands of them.
            raise BadRequest(
                f"{len(runs)} finished builds in one message; at most {MAX_RUNS_PER_MESSAGE} are taken "
                "(send the buildset in parts)"
            )
        outcome = WebhookOutcome(accepted=[], duplicates=[])
        delivery = source.delivery_id(headers)
        delivery_key = keys.intake_delivery(source.name, delivery) if delivery and runs else None
        if delivery_key and not _claim_or_busy(self._dedupe, delivery_key):
            outcome.duplicates.extend(run.run_id for run in runs)
            return outcome
        try:
            for run in runs:
                if enqueue_once(run, self._dedupe, self._queue):
                    outcome.accepted.append(run.run_id)
                else:
                    outcome.duplicates.append(run.run_id)
        except Exception:
            if delivery_key:
                self._dedupe.release(delivery_key)
            raise
        if delivery_key:
            self._dedupe.complete(delivery_key)
        return outcome


def parse_json(body: bytes) -> Any:
    """A request body as JSON; anything else, nested too deeply, or holding an integer of
    thousands of digits is a BadRequest that says so (never a 500)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    except RecursionError:
        raise BadRequest("body is not usable JSON: it is nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"body is not usable JSON: {str(exc)[:120]}") from None


def run_dedupe_key(run: RunEvent) -> str:
    """The dedupe key every intake (webhook, sweep) claims before enqueueing a run."""
    return keys.intake_run(run.run_id)


# How long an intake's claim stays pending before another intake may take it. The webhook
# function's timeout is 10 s: a live intake completes its claim in milliseconds, and one killed
# between claiming and enqueueing frees it after this, for the sender's retry or the next sweep.
INTAKE_LEASE_SECONDS = 30


def _claim_or_busy(dedupe: Dedupe, key: str) -> bool:
    """Take the key under a lease; False when it is done; IntakeInProgress while pending."""
    if dedupe.claim(key, INTAKE_LEASE_SECONDS):
        return True
    if dedupe.is_pending(key):
        raise IntakeInProgress(f"{key} is being enqueued right now; retry in {INTAKE_LEASE_SECONDS} s")
    return False


def enqueue_once(run: RunEvent, dedupe: Dedupe, queue: Queue) -> bool:
    """Enqueue a run unless it was enqueued before; False for a duplicate.

    A failed send gives the claim back, so a retry (or the next sweep) can enqueue it. A run
    another intake is enqueueing at this moment raises IntakeInProgress (HTTP 409): calling
    it a duplicate would lose the run if that intake died before sending it.
    """
    key = run_dedupe_key(run)
    if not _claim_or_busy(dedupe, key):
        return False
    try:
        queue.send(run)
    except Exception:
        dedupe.release(key)
        raise
    dedupe.complete(key)
    return True
