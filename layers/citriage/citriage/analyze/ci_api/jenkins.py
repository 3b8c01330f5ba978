"""Reading a Jenkins build through its API (discovery's JenkinsLayout says what to read) with an
API token when Jenkins needs a login to read."""

from __future__ import annotations

import base64


def jenkins_headers(token: str | None) -> dict[str, str]:
    """HTTP basic auth for a `user:api-token` secret; nothing for anonymous read access."""
    if not token:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")}
