"""How many runs a buildset has, when its source did not say: openQA's `job.done` names a job's
BUILD and job group but not how many jobs they hold, so openQA's API is asked
(`GET /api/v1/jobs/overview?build=<BUILD>&groupid=<group>`: the latest job of each scenario,
as the build's overview page lists them). The call goes through the log fetch policy (the
instance must be among LOG_HOSTS) and reads at most 256 KiB (about 5,000 jobs); an answer that
cannot be read leaves the run out of buildset tracking, with the reason logged.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aws_lambda_powertools import Logger

from citriage.errors import FetchFailed, FetchRefused
from citriage.feedback.http import OPENQA_JOB, CiApi
from citriage.models import RunEvent, SourceName

logger = Logger(child=True)
# Build sizes a warm function remembers (the oldest is forgotten first).
KNOWN_BUILDS = 256


class BuildsetSizes:
    """A run's buildset size: its own `buildset_size`, or, for openQA, the build's job count."""

    def __init__(self, api: CiApi | None) -> None:
        self._api = api
        # Every job of a build asks for the build's size, and only the first answer is kept
        # (the buildset's count is set once): a warm function asks openQA once per build.
        self._known: dict[str, int] = {}

    def size_of(self, run: RunEvent) -> int | None:
        """How many runs the run's buildset has; None when nobody can say."""
        if run.buildset_size:
            return run.buildset_size
        if run.source == SourceName.OPENQA and run.buildset_id and self._api is not None:
            if run.buildset_id not in self._known:
                size = self._openqa(run)
                if size is None:
                    return None
                if len(self._known) >= KNOWN_BUILDS:
                    self._known.pop(next(iter(self._known)))
                self._known[run.buildset_id] = size
            return self._known[run.buildset_id]
        return None

    def _openqa(self, run: RunEvent) -> int | None:
        match = OPENQA_JOB.match(run.log_url)
        parts = (run.buildset_id or "").split("/", 2)  # instance, job group, BUILD
        if match is None or len(parts) != 3 or not parts[2]:
            return None
        _, group, build = parts
        query = {"build": build} | ({"groupid": group} if group and group != "-" else {})
        url = f"{match.group('base')}/api/v1/jobs/overview?{urlencode(query)}"
        try:
            answer = self._api.call("GET", url, {"Accept": "application/json"}) if self._api else None
        except (FetchRefused, FetchFailed) as exc:
            logger.warning("openQA build size unknown", run_id=run.run_id, reason=str(exc))
            return None
        jobs = answer.json() if answer is not None and answer.status == 200 else None
        if not isinstance(jobs, list) or not jobs:
            status = answer.status if answer is not None else None
            logger.warning("openQA build size unknown", run_id=run.run_id, status=status, url=url)
            return None
        return min(len(jobs), 1000)
