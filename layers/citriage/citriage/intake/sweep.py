"""Sweeps of periodic jobs: builds that no webhook reported, found through the CI's API.

For each configured job, the sweep pages through the CI's finished builds, newest first, back
to the job's cursor (kept in DynamoDB) and enqueues every build not seen before. It claims the
same dedupe key as the webhook (`run#<source>:<build id>`), so a build that arrives both ways is
analysed once. A CI API that keeps failing is retried a few times, then that job's sweep stops
and says why (the next scheduled sweep resumes from the saved cursor); the other jobs go on. So
do they when a job fails in any other way (the queue, the table, a bug): that job's error is
logged with its traceback and reported, never raised out of the sweep.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field, ValidationError

from citriage.analyze.ci_api.credentials import credential_for, withheld_note
from citriage.analyze.ci_api.jenkins import jenkins_headers
from citriage.config import JenkinsPeriodicJob, PeriodicJob, SweepSettings, ZuulPeriodicJob
from citriage.errors import BadRequest, CitriageError, IntakeInProgress
from citriage.intake.sources.jenkins import jenkins_run
from citriage.intake.sources.zuul import ZuulBuild
from citriage.intake.webhook import enqueue_once
from citriage.models import RunEvent, SweepCursor
from citriage.ports import Cursors, Dedupe, Queue, TokenSource

# A child of the function's Powertools Logger: structured, with the invocation's correlation id.
logger = Logger(child=True)

# Worth another try: the request, or the answer's body, broke off on the way.
_TRANSIENT = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class SweepApiError(CitriageError):
    """A CI API did not answer usefully after the retries."""


class JsonApi:
    """GETs JSON from a CI's API with a timeout, a size cap, and a bounded number of retries."""

    def __init__(
        self,
        settings: SweepSettings,
        session: requests.Session | None = None,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._session = session or requests.Session()
        self._backoff = backoff
        self._sleep = sleep

    def get(self, url: str, params: Mapping[str, str | int], headers: Mapping[str, str] | None = None) -> Any:
        """The parsed JSON; SweepApiError after the retries (timeouts, connection errors, bodies
        cut off, 5xx, 429), or at once for any other failed request (e.g. too many redirects)."""
        last = ""
        for attempt in range(self._settings.api_retries + 1):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            try:
                with self._session.get(
                    url,
                    params=dict(params),
                    headers=dict(headers or {}),
                    timeout=self._settings.api_timeout,
                    stream=True,
                ) as response:
                    if response.status_code >= 500 or response.status_code == 429:
                        last = f"HTTP {response.status_code}"
                        continue
                    if response.status_code >= 400:
                        raise SweepApiError(f"{url}: HTTP {response.status_code}")
                    return _capped_json(response, url, self._settings.max_response_bytes)
            except _TRANSIENT as exc:
                last = type(exc).__name__
            except requests.RequestException as exc:
                raise SweepApiError(f"{url}: {type(exc).__name__}") from exc
        raise SweepApiError(f"{url}: gave up after {self._settings.api_retries + 1} attempts ({last})")


def _capped_json(response: requests.Response, url: str, limit: int) -> Any:
    data = b""
    for chunk in response.iter_content(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise SweepApiError(f"{url}: answer larger than {limit} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SweepApiError(f"{url}: answer is not JSON") from exc


class JobSweep(BaseModel):
    """What one job's sweep did: the runs it enqueued, those already seen, and any error."""

    job: str
    enqueued: list[str] = Field(default_factory=list)
    duplicates: list[str] = Field(default_factory=list)
    pages: int = 0
    error: str | None = None
    notes: list[str] = Field(default_factory=list)


class Sweeper:
    """Sweeps the configured periodic jobs into the analyze queue."""

    def __init__(
        self,
        settings: SweepSettings,
        api: JsonApi,
        cursors: Cursors,
        dedupe: Dedupe,
        queue: Queue,
        tokens: TokenSource | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._api = api
        self._cursors = cursors
        self._dedupe = dedupe
        self._queue = queue
        self._tokens = tokens
        self._now = now
        self._time_left: Callable[[], float] = lambda: float("inf")

    def sweep(
        self, jobs: list[PeriodicJob] | None = None, time_left: Callable[[], float] | None = None
    ) -> list[JobSweep]:
        """Sweep every job (the configured ones by default); one job's failure stops only that job.

        Whatever a job raises (the CI API, the queue, the table, a bug) becomes that job's
        `error`, and the next job is swept. `time_left` (seconds, e.g. from the Lambda context)
        stops a sweep that a slow API would otherwise carry past the function's timeout: the
        job saves its cursor and says so.
        """
        self._time_left = time_left or (lambda: float("inf"))
        outcomes = []
        for job in self._settings.sweep_jobs if jobs is None else jobs:
            try:
                if isinstance(job, ZuulPeriodicJob):
                    outcomes.append(self.sweep_zuul(job))
                else:
                    outcomes.append(self.sweep_jenkins(job))
            except Exception as exc:  # a job's failure must not stop the other jobs
                # Raised outside the jobs' own handlers (reading or saving the cursor).
                outcome = JobSweep(job=job.key)
                _failed(outcome, exc)
                outcomes.append(outcome)
        return outcomes

    def _check_time(self) -> None:
        # Room for one more request with all its retries, and for saving the cursor.
        needed = self._settings.api_timeout * (self._settings.api_retries + 1) + 5
        if self._time_left() < needed:
            raise SweepApiError("out of time for this sweep; the next one resumes from the cursor")

    def _enqueue(self, run: RunEvent, outcome: JobSweep) -> None:
        try:
            accepted = enqueue_once(run, self._dedupe, self._queue)
        except IntakeInProgress as exc:
            # Stop here and keep the cursor: the next sweep looks at this build again.
            raise SweepApiError(str(exc)) from exc
        if accepted:
            outcome.enqueued.append(run.run_id)
        else:
            outcome.duplicates.append(run.run_id)

    def sweep_zuul(self, job: ZuulPeriodicJob) -> JobSweep:
        """Page through the job's finished builds back to the cursor; save where it got to.

        The cursor is the newest end time of the last complete walk. A walk that fails saves
        the page it reached (`resume_skip`) and the build at the top of the list when it began
        (`walk_top`): the next sweep jumps straight there while the list has not moved.
        """
        outcome = JobSweep(job=job.key)
        state = self._cursors.get(job.key)
        since = state.since or self._now() - timedelta(hours=self._settings.lookback_hours)
        floor = since - timedelta(hours=self._settings.overlap_hours)
        newest = state.walk_newest
        url = f"{job.api.rstrip('/')}/api/tenant/{job.tenant}/builds"
        params: dict[str, str | int] = {
            "pipeline": job.pipeline,
            "job_name": job.job_name,
            "complete": "true",
        }
        if job.project:
            params["project"] = job.project
        limit = self._settings.page_size
        skip, top = 0, None
        try:
            if state.resume_skip and state.walk_top:
                head = self._zuul_page(url, params, 0, 1, outcome)
                if head and head[0].uuid == state.walk_top:
                    skip, top = state.resume_skip, state.walk_top
                    outcome.notes.append(f"resumed at build {skip} of the list")
                else:
                    newest = None
            for _ in range(self._settings.max_pages):
                page = self._zuul_page(url, params, skip, limit, outcome)
                if top is None and page:
                    top = page[0].uuid
                in_window = False
                for build in page:
                    if build.end_time is None or build.end_time < floor:
                        continue
                    in_window = True
                    newest = max(newest or build.end_time, build.end_time)
                    if build.log_url and build.result:
                        self._enqueue(
                            build.run_event(
                                job.tenant, web_url=f"{job.api.rstrip('/')}/t/{job.tenant}/build/{build.uuid}"
                            ),
                            outcome,
                        )
                skip += len(page)
                if len(page) < limit or not in_window:
                    break
            else:
                outcome.notes.append(
                    f"stopped after {self._settings.max_pages} pages; older builds were not swept"
                )
        except Exception as exc:  # whatever stopped the walk, save where it got to
            _failed(outcome, exc)
            self._cursors.put(
                job.key, SweepCursor(since=state.since, resume_skip=skip, walk_top=top, walk_newest=newest)
            )
            return outcome
        self._cursors.put(job.key, SweepCursor(since=newest or since))
        return outcome

    def _zuul_page(
        self, url: str, params: dict[str, str | int], skip: int, limit: int, outcome: JobSweep
    ) -> list[ZuulBuild]:
        self._check_time()
        document = self._api.get(url, {**params, "skip": skip, "limit": limit})
        outcome.pages += 1
        if not isinstance(document, list):
            raise SweepApiError(f"{url}: expected a list of builds")
        builds = []
        for item in document:
            try:
                builds.append(ZuulBuild.model_validate(item))
            except ValidationError:
                outcome.notes.append("skipped a malformed build entry")
        return builds

    def sweep_jenkins(self, job: JenkinsPeriodicJob) -> JobSweep:
        """Enqueue the job's finished builds above the cursor: the highest build number below
        which nothing is still running (a first sweep takes the lookback window)."""
        outcome = JobSweep(job=job.key)
        last = self._cursors.get(job.key).last_number
        base = job.job_url if job.job_url.endswith("/") else job.job_url + "/"
        tree = f"name,builds[number,url,result,building,timestamp]{{0,{self._settings.page_size}}}"
        try:
            self._check_time()
            document = self._api.get(f"{base}api/json", {"tree": tree}, self._jenkins_headers(base))
            outcome.pages = 1
            if not isinstance(document, dict) or not isinstance(document.get("builds"), list):
                raise SweepApiError(f"{base}api/json: not a Jenkins job document")
            name = str(document.get("name") or base)
            cutoff = (self._now() - timedelta(hours=self._settings.lookback_hours)).timestamp() * 1000
            fresh = sorted(
                (b for b in document["builds"] if _jenkins_build_after(b, last, cutoff)),
                key=lambda b: int(b["number"]),
            )
            for build in fresh:
                if _jenkins_finished(build):
                    self._enqueue(jenkins_run(name, build["url"], build["result"]), outcome)
        except Exception as exc:  # reported as this job's error; the others go on
            _failed(outcome, exc)
            return outcome
        running = [int(b["number"]) for b in fresh if b.get("building") or not b.get("result")]
        if running:
            self._cursors.put(job.key, SweepCursor(last_number=min(running) - 1))
        elif fresh:
            self._cursors.put(job.key, SweepCursor(last_number=int(fresh[-1]["number"])))
        return outcome

    def _jenkins_headers(self, url: str) -> dict[str, str]:
        """Basic auth with the Jenkins credential the tokens secret names for `url`'s host."""
        entry = self._tokens.entry_for("jenkins") if self._tokens is not None else None
        token = credential_for("jenkins", entry, url)
        if token is None and entry:
            logger.warning("%s", withheld_note("jenkins", url))
        return jenkins_headers(token)


def _failed(outcome: JobSweep, exc: Exception) -> None:
    """Record why the job's sweep stopped; an unexpected error is logged with its traceback."""
    if isinstance(exc, SweepApiError | BadRequest):
        outcome.error = str(exc)
        return
    logger.error("sweep of %s failed unexpectedly", outcome.job, exc_info=exc)
    outcome.error = f"unexpected {type(exc).__name__}: {exc}"


def _jenkins_build_after(build: object, last: object, cutoff_ms: float) -> bool:
    if not isinstance(build, dict) or not isinstance(build.get("number"), int):
        return False
    if last is not None:
        return bool(build["number"] > int(str(last)))
    timestamp = build.get("timestamp")
    return isinstance(timestamp, int | float) and timestamp >= cutoff_ms


def _jenkins_finished(build: dict[str, Any]) -> bool:
    return not build.get("building") and bool(build.get("result")) and isinstance(build.get("url"), str)
