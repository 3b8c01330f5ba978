"""Ports shared by several services (the adapters live in store.py; tests use fakes)."""

from __future__ import annotations

from typing import Protocol


class Dedupe(Protocol):
    """Claims on keys (the dedupe table), so redelivered work is done once.

    A plain claim is final. A claim with a lease is pending until `complete`; a pending claim
    whose lease ran out (its worker died) can be taken again.
    """

    def claim(self, key: str, lease_seconds: int | None = None) -> bool:
        """True when the key was free (or its lease ran out) and is now taken."""

    def complete(self, key: str) -> None:
        """Mark a leased claim done: final from now on."""

    def release(self, key: str) -> None:
        """Free a key again (the work it guarded failed and must be retried)."""

    def is_pending(self, key: str) -> bool:
        """True while a leased claim on the key is taken and not completed."""
