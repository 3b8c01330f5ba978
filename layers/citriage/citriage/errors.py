"""Typed domain errors; the API layer maps them to HTTP responses in one place."""


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


class IntakeInProgress(CitriageError):
    """Another intake holds the run's claim right now (HTTP 409: the sender should retry)."""

    status_code = 409


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
