"""CI API credentials bound to the hosts the site named for them.

A run's URL comes from a webhook payload, and whoever can send the webhook can name any allowed
log host in it (`*.blob.core.windows.net` included, where anyone can register a host). So a
credential is never sent to "the run's host": only to a host its entry in the CI API tokens
secret names. Each source's entry maps hosts to credentials:

    {"jenkins": {"jenkins.example.org": "user:api-token"},
     "github": {"api.github.com": "ghs_..."},
     "gitlab": {"gitlab.example.org": "glpat-..."}}

A key is `host` (any port) or `host:port` (that port only; a URL without a port is on its
scheme's default port). Keys are exact host names: `*.example.org` names no host. A plain
string is accepted only where the API host is fixed and known here: GitHub's `api.github.com`.
Any other plain string names no host and is sent nowhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# Sources whose plain-string entry is the credential of one fixed, well-known API host.
FIXED_API_HOSTS = {"github": "api.github.com"}


def _url_origin(url: str) -> tuple[str, int] | None:
    """The URL's lower-cased host name and port (the scheme's default when none), or None."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return ((parts.hostname or "").lower(), port) if parts.hostname else None


def _key_matches(key: str, host: str, port: int) -> bool:
    """True when a host key (`host` or `host:port`) names this host (and port, if it has one)."""
    parts = urlsplit(key if "://" in key else f"//{key.strip()}")
    try:
        key_port = parts.port
    except ValueError:
        return False
    return (parts.hostname or "").lower() == host and key_port in (None, port)


def credential_for(source: str, entry: object, url: str) -> str | None:
    """The credential `entry` (a source's value in the tokens secret) names for `url`'s host,
    or None: no entry, or none of its hosts is the URL's host (then nothing may be sent)."""
    origin = _url_origin(url)
    if origin is None:
        return None
    host, port = origin
    if isinstance(entry, str):
        fixed = FIXED_API_HOSTS.get(source)
        return entry if entry and fixed is not None and host == fixed else None
    if not isinstance(entry, dict):
        return None
    matches = (
        credential
        for key, credential in entry.items()
        if isinstance(key, str) and isinstance(credential, str) and credential
        if _key_matches(key, host, port)
    )
    return next(matches, None)


def withheld_note(source: str, url: str) -> str:
    """The sentence (report note, log line) when a source has credentials but none for `url`'s host."""
    origin = _url_origin(url)
    host = f"{origin[0]}:{origin[1]}" if origin else url
    return (
        f"The {source} credentials in the CI API tokens secret name other hosts than {host}: "
        "none was sent there (read anonymously)."
    )
