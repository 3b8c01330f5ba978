"""Rechecks: asking a held run's CI to run it again, once its incident is over (docs/incidents.md).

- zuul: a `recheck` review comment on the Gerrit change
  (`POST /a/changes/{id}/revisions/{ps}/review`; credential `gerrit`: `user:http-password`), or,
  with no change or no Gerrit credential, zuul-web's enqueue
  (`POST /api/tenant/{t}/project/{p}/enqueue`; credential `zuul`: a JWT);
- jenkins: the job built again with the build's parameters (`POST {job}/buildWithParameters`, or
  `{job}/build` without any; `jenkins`: `user:api-token`);
- github: the workflow run's failed jobs re-run (`POST …/actions/runs/{id}/rerun-failed-jobs`;
  `github`: a token);
- gitlab: the pipeline retried (`POST /projects/{id}/pipelines/{pid}/retry`; `gitlab`: a token);
- openqa: the job restarted (`POST /api/v1/jobs/{id}/restart`, with openQA's HMAC headers;
  `openqa`: `KEY:SECRET`).

A credential is sent only to a host its entry names, and the URL must pass the log fetch
policy (LOG_HOSTS, public addresses). A CI that cannot be asked (no way for its source, no
credential for its host, a refusal) raises RecheckUnavailable: the run is released with a mail.
No answer, a 5xx or a 429 raise RecheckFailed: the next round tries again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from citriage.analyze.ci_api.github import github_api_headers
from citriage.analyze.ci_api.gitlab import gitlab_api_headers
from citriage.analyze.ci_api.jenkins import jenkins_headers
from citriage.errors import RecheckFailed, RecheckUnavailable
from citriage.feedback.http import GITHUB_RUN, GITLAB_PIPELINE, OPENQA_JOB, CiActions, CiApi
from citriage.models import RunEvent
from citriage.models.incident import Recheck
from citriage.models.run import without_credentials
from citriage.ports import TokenSource

# A Jenkins build URL: the job's URL (folders included), then the build number.
_JENKINS_BUILD = re.compile(r"^(?P<job>https?://.+/job/[^/]+/)(?P<number>\d+)/?$")
_ZUUL_TENANT = re.compile(r"^(?P<base>https?://[^?#]+?)/t/(?P<tenant>[^/]+)/")
_ZERO = "0" * 40
# The most of a Jenkins build's parameters passed on to its rebuild.
MAX_PARAMETERS = 200


def gerrit_base(change_url: str) -> str | None:
    """Gerrit's base URL from a change URL (`…/c/<project>/+/<n>`, `…/#/c/<n>/` or `…/<n>`)."""
    for marker in ("/c/", "/#/c/", "/#/"):
        head, found, _ = change_url.partition(marker)
        if found:
            return head.rstrip("#/").rstrip("/")
    match = re.match(r"^(https?://.+?)/\d+/?$", change_url)
    return match.group(1) if match else None


class CiRechecker:
    """Asks each source's CI for a recheck through its API."""

    def __init__(
        self, api: CiApi, tokens: TokenSource | None, clock: Callable[[], float] = time.time
    ) -> None:
        self._calls = CiActions(api, tokens, RecheckUnavailable, RecheckFailed)
        self._clock = clock
        self._by_source: dict[str, Callable[[RunEvent], Recheck]] = {
            "jenkins": self._jenkins,
            "github": self._github,
            "gitlab": self._gitlab,
            "openqa": self._openqa,
        }

    def recheck(self, run: RunEvent, comment: str) -> Recheck:
        """Ask the run's CI to run it again, once."""
        if run.source in ("zuul", "gerrit"):
            return self._zuul(run, comment)
        way = self._by_source.get(run.source)
        if way is None:
            raise RecheckUnavailable(f"{run.source} runs cannot be rechecked through an API")
        return way(run)

    # ---- per CI

    def _zuul(self, run: RunEvent, comment: str) -> Recheck:
        base = gerrit_base(run.change_url) if run.change_url else None
        if run.change and run.patchset and base:
            credential = self._credential("gerrit", f"{base}/a/", required=False)
            if credential:
                change = f"{quote(run.project, safe='')}~{run.change}" if run.project else run.change
                url = f"{base}/a/changes/{change}/revisions/{quote(run.patchset, safe='')}/review"
                return self._send(
                    "gerrit",
                    f"{comment!r} comment on change {run.change},{run.patchset}",
                    "POST",
                    url,
                    jenkins_headers(credential),
                    json={"message": comment},
                )
        return self._zuul_enqueue(run)

    def _zuul_enqueue(self, run: RunEvent) -> Recheck:
        match = _ZUUL_TENANT.match(run.web_url or "")
        base, tenant = (match.group("base"), match.group("tenant")) if match else (None, run.tenant)
        if base is None and run.web_url and "/build/" in run.web_url:
            base = run.web_url.split("/build/", 1)[0]  # a white-labelled tenant's zuul-web
        if not (base and tenant and run.project and run.pipeline):
            raise RecheckUnavailable(
                "the run names no Gerrit change with a credential, and not the zuul-web URL, tenant, "
                "project and pipeline an enqueue needs"
            )
        url = f"{base}/api/tenant/{quote(tenant, safe='')}/project/{quote(run.project, safe='')}/enqueue"
        token = self._credential("zuul", url)
        body: dict[str, str] = {"pipeline": run.pipeline}
        if run.change and run.patchset:
            body["change"] = f"{run.change},{run.patchset}"
            what = f"change {body['change']}"
        else:
            body.update(ref=f"refs/heads/{run.branch or 'master'}", oldrev=_ZERO, newrev=_ZERO)
            what = body["ref"]
        return self._send(
            "zuul",
            f"enqueue of {what} into {run.pipeline}",
            "POST",
            url,
            {"Authorization": f"Bearer {token}"},
            json=body,
        )

    def _jenkins(self, run: RunEvent) -> Recheck:
        match = _JENKINS_BUILD.match(run.web_url or run.log_url)
        if match is None:
            raise RecheckUnavailable(f"{run.web_url or run.log_url} is not a Jenkins build URL")
        build = f"{match.group('job')}{match.group('number')}/"
        auth = jenkins_headers(self._credential("jenkins", build))
        parameters = self._jenkins_parameters(build, auth)
        job = match.group("job")
        if parameters:
            return self._send(
                "jenkins",
                f"rebuild of {run.job} #{match.group('number')} with its {len(parameters)} parameter(s)",
                "POST",
                f"{job}buildWithParameters",
                auth,
                data=parameters,
            )
        return self._send(
            "jenkins", f"rebuild of {run.job} #{match.group('number')}", "POST", f"{job}build", auth
        )

    def _jenkins_parameters(self, build: str, auth: Mapping[str, str]) -> dict[str, str]:
        """The build's parameters (name -> value), to build it again the same way."""
        url = f"{build}api/json?{urlencode({'tree': 'actions[parameters[name,value]]'})}"
        answer = self._answer("GET", url, auth)
        document = answer.json() if answer.status == 200 else None
        found: dict[str, str] = {}
        for action in (document or {}).get("actions") or []:
            for parameter in (action or {}).get("parameters") or [] if isinstance(action, dict) else []:
                name, value = parameter.get("name"), parameter.get("value")
                if isinstance(name, str) and isinstance(value, str | int | float | bool):
                    found[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return dict(list(found.items())[:MAX_PARAMETERS])

    def _github(self, run: RunEvent) -> Recheck:
        if not GITHUB_RUN.match(run.log_url):
            raise RecheckUnavailable(f"{run.log_url} is not a GitHub Actions run's API URL")
        token = self._credential("github", run.log_url)
        headers = github_api_headers(token)
        return self._send(
            "github",
            f"re-run of the failed jobs of {run.job}",
            "POST",
            f"{run.log_url}/rerun-failed-jobs",
            headers,
        )

    def _gitlab(self, run: RunEvent) -> Recheck:
        if not GITLAB_PIPELINE.match(run.log_url):
            raise RecheckUnavailable(f"{run.log_url} is not a GitLab pipeline's API URL")
        token = self._credential("gitlab", run.log_url)
        return self._send(
            "gitlab",
            f"retry of pipeline {run.build_id}",
            "POST",
            f"{run.log_url}/retry",
            gitlab_api_headers(token),
        )

    def _openqa(self, run: RunEvent) -> Recheck:
        match = OPENQA_JOB.match(run.web_url or run.log_url)
        if match is None:
            raise RecheckUnavailable(f"{run.web_url or run.log_url} is not an openQA job URL")
        url = f"{match.group('base')}/api/v1/jobs/{match.group('id')}/restart"
        key, _, secret = self._credential("openqa", url).partition(":")
        if not key or not secret:
            raise RecheckUnavailable("the openqa credential is not KEY:SECRET")
        stamp = f"{self._clock():.6f}"
        path = urlsplit(url).path
        digest = hmac.new(secret.encode("utf-8"), f"{path}{stamp}".encode(), hashlib.sha1).hexdigest()
        headers = {
            "X-API-Key": key,
            "X-API-Microtime": stamp,
            "X-API-Hash": digest,
            "Accept": "application/json",
        }
        return self._send("openqa", f"restart of job {match.group('id')}", "POST", url, headers)

    # ---- shared

    def _credential(self, kind: str, url: str, required: bool = True) -> str:
        return self._calls.credential(kind, url, required)

    def _answer(self, method: str, url: str, headers: Mapping[str, str], **body: Any) -> Any:
        return self._calls.answer(method, url, headers, **body)

    def _send(
        self, ci: str, action: str, method: str, url: str, headers: Mapping[str, str], **body: Any
    ) -> Recheck:
        answer = self._calls.send(method, url, headers, **body)
        return Recheck(
            ci=ci, action=action, url=without_credentials(url), status=answer.status, at=datetime.now(UTC)
        )
