"""Secrets Manager: webhook keys and CI API tokens, one JSON secret each."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters


class SecretKeys:
    """HMAC keys and tokens per source, from one JSON secret (cached across warm invocations)."""

    def __init__(self, secret_arn: str, max_age: int = 300) -> None:
        self._arn = secret_arn
        self._max_age = max_age

    def key_for(self, source: str) -> str | None:
        """The key configured for a source, or None when the secret has none for it."""
        key = self.entry_for(source)
        return key if isinstance(key, str) and key else None

    def entry_for(self, source: str) -> object:
        """A source's raw value in the secret (CI API tokens: host -> credential), or None."""
        value = parameters.get_secret(self._arn, max_age=self._max_age)
        data = json.loads(value) if isinstance(value, str | bytes) else value
        return data.get(source) if isinstance(data, dict) else None
