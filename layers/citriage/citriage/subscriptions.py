"""Subscriptions from the YAML that CI teams keep (a list of Subscription items)."""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from citriage.errors import CitriageError
from citriage.models import Subscription


def load_subscriptions_yaml(text: str) -> list[Subscription]:
    """Subscriptions from a YAML list; an invalid entry is refused with its position."""
    data = yaml.safe_load(text) or []
    if not isinstance(data, list):
        raise CitriageError("a subscriptions file holds a YAML list")
    subscriptions = []
    for position, item in enumerate(data, 1):
        try:
            subscriptions.append(Subscription.model_validate(item))
        except ValidationError as exc:
            raise CitriageError(f"subscription #{position}: {exc}") from exc
    return subscriptions
