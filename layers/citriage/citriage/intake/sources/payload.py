"""Helpers the sources share to read untrusted payloads into models with clear errors."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import SplitResult

from pydantic import BaseModel, ValidationError

from citriage.errors import BadRequest

ModelT = TypeVar("ModelT", bound=BaseModel)


def first_error(exc: ValidationError) -> str:
    """The first validation error as `field.path: message`."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"


def parse_payload(model: type[ModelT], payload: Any, what: str) -> ModelT:
    """Validate a payload against a model; BadRequest naming the first bad field otherwise."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(f"not {what}: {first_error(exc)}") from exc


def as_text(value: object) -> object:
    """Numbers sent where citriage keeps text (ids, change numbers) become text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def url_host(parts: SplitResult) -> str:
    """`host` or `host:port` of a URL, lower-cased, never its user info (part of build ids)."""
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host
