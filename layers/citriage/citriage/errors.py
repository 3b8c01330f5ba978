"""Typed domain errors; the API layer maps them to HTTP responses in one place."""

from __future__ import annotations

from pathlib import Path


class CitriageError(Exception):
    """Base of every error citriage raises on purpose."""


class BadRequest(CitriageError):
    """The request is malformed: bad JSON, missing fields, body too large (HTTP 400/413)."""

    status_code = 400


class PayloadTooLarge(BadRequest):
    """The body is over the configured size limit."""

    status_code = 413


class Unauthorized(CitriageError):
    """Missing or wrong signature or token (HTTP 401). Says nothing about which."""

    status_code = 401


class Forbidden(CitriageError):
    """The token is good but its scope does not allow this (HTTP 403)."""

    status_code = 403


class NotFound(CitriageError):
    """No run, job, test or known issue of that id (HTTP 404)."""

    status_code = 404


class IntakeInProgress(CitriageError):
    """Another intake holds the run's claim right now (HTTP 409: the sender should retry)."""

    status_code = 409


class AnalysisInProgress(CitriageError):
    """Another worker is analysing this run now: the message goes back to SQS, and its retry
    finds the stored report."""


class UnknownSource(CitriageError):
    """No webhook source of that name (HTTP 404)."""

    status_code = 404


class FetchRefused(CitriageError):
    """A log URL points somewhere citriage must not go (host not allowed, private address, ...)."""


class FetchFailed(CitriageError):
    """A log could not be fetched after retries."""


class InvalidSignature(CitriageError):
    """A known-issue signature's pattern is not valid RE2, or the item is malformed."""


class FetchDenied(FetchFailed):
    """The log server refused one file (HTTP 4xx other than 404): other files may still be read."""


class InputError(CitriageError):
    """What the user gave cannot be used: a missing path, a malformed file (CLI exit code 2)."""


def validation_summary(exc: Exception) -> str:
    """A pydantic ValidationError as `field: problem; field: problem` (others: their message)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "value"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = len(errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def read_input(path: Path) -> str:
    """A file the user named, as UTF-8 text; a missing or unreadable one is an InputError."""
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


class RecheckUnavailable(CitriageError):
    """A held run's CI cannot be asked to run it again (no API, no credential, refused): the run
    is released with a mail instead."""


class RecheckFailed(CitriageError):
    """A recheck did not get through this time (timeout, 5xx, 429): it is tried again later."""
