"""Reading a GitHub Actions run through the REST API: its jobs, the failed jobs' logs and the
JUnit XML inside its test-result artifacts.

The RunEvent's log URL is the run's API URL (`https://api.github.com/repos/o/r/actions/runs/<id>`)
and its build id is `<id>-<attempt>`. `GitHubRun` is the run as a LogTree: `failed-jobs.log` is
the failed jobs' logs one after the other, `artifact/<name>/<path>` a file inside a result
artifact, anything else a path of the repository's Actions API. Job logs and artifact zips are
served by redirects to GitHub's blob storage: those hosts must be allowed log hosts too, and the
token is never sent to them (HttpLogTree sends its headers only to the API host).
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from functools import partial
from typing import Any, BinaryIO

from citriage.analyze.ci_api.common import ApiRunTree, concatenated, get_json
from citriage.analyze.logs.fetch import HttpLogTree
from citriage.analyze.logs.layouts import Discovery, FoundFile, ResultKind
from citriage.analyze.logs.streams import CHUNK, FetchBudget
from citriage.config import FetchSettings, LayoutSettings
from citriage.errors import FetchRefused
from citriage.models import RunEvent
from citriage.ports import LogTree

FAILED_JOBS_LOG = "failed-jobs.log"
ARTIFACT_PREFIX = "artifact/"
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out"})
# Artifacts whose name looks like test results; the XML files inside them are read as JUnit.
RESULT_ARTIFACTS = ("*junit*", "*test*result*", "*test*report*")
MAX_ZIP_MEMBERS = 200


def github_api_headers(token: str | None) -> dict[str, str]:
    """The REST API's recommended headers, with the token when one is configured."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class _ZipMember(io.RawIOBase):
    """A zip member's bytes; a member that fails its CRC or size check ends early, with a note."""

    def __init__(self, member: BinaryIO, name: str, notes: list[str]) -> None:
        self._member = member
        self._name = name
        self._notes = notes

    def readable(self) -> bool:
        """This stream is readable."""
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # RawIOBase's buffer type is wider than we need
        """Fill `buffer` from the member."""
        try:
            data = self._member.read(len(buffer))
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            self._notes.append(f"{self._name} could not be read from the zip ({exc}); kept what was read.")
            return 0
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the member too."""
        self._member.close()
        super().close()


class GitHubRun(ApiRunTree):
    """One workflow run attempt, read through the API as a LogTree."""

    def __init__(
        self, run: RunEvent, settings: FetchSettings, budget: FetchBudget, token: str | None
    ) -> None:
        prefix, sep, rest = run.log_url.partition("/actions/runs/")
        run_id, _, attempt = run.build_id.partition("-")
        if not sep or not rest.strip("/").isdigit() or rest.strip("/") != run_id or not attempt.isdigit():
            raise FetchRefused(f"{run.log_url}: not the API URL of workflow run {run.build_id}")
        self._run_id, self._attempt = run_id, attempt
        api = HttpLogTree(f"{prefix}/actions/", settings, budget, headers=github_api_headers(token))
        super().__init__(api, run.web_url or run.log_url)
        self._jobs: list[dict[str, Any]] | None = None
        self._zips: dict[str, zipfile.ZipFile | None] = {}
        self._artifact_ids: dict[str, int] | None = None

    @property
    def root(self) -> str:
        """The run's API URL."""
        return self._api.url_for(f"runs/{self._run_id}")

    def open(self, path: str, tail_bytes: int = 0) -> BinaryIO | None:
        """A virtual file of the run (see the module's docstring), or an API path."""
        if path == FAILED_JOBS_LOG:
            return self._failed_jobs_log()
        if path.startswith(ARTIFACT_PREFIX):
            name, _, member = path[len(ARTIFACT_PREFIX) :].partition("/")
            return self._open_member(name, member)
        return self._api.open(path)

    def jobs(self) -> list[dict[str, Any]]:
        """The attempt's jobs (read once)."""
        if self._jobs is None:
            path = f"runs/{self._run_id}/attempts/{self._attempt}/jobs?per_page=100"
            document = get_json(self._api, path, self.budget.notes)
            listed = document.get("jobs") if isinstance(document, dict) else None
            self._jobs = [j for j in listed or [] if isinstance(j, dict) and isinstance(j.get("id"), int)]
            total = document.get("total_count") if isinstance(document, dict) else None
            if isinstance(total, int) and total > len(self._jobs):
                self.budget.note(f"The run has {total} jobs; only the first {len(self._jobs)} were read.")
        return self._jobs

    def _failed_jobs_log(self) -> BinaryIO | None:
        failed = [job for job in self.jobs() if job.get("conclusion") in FAILED_CONCLUSIONS]
        if not failed:
            return None
        return concatenated(
            [
                (str(job.get("name", job["id"])), partial(self._api.open, f"jobs/{job['id']}/logs"))
                for job in failed
            ],
            self.budget.notes,
        )

    def result_artifacts(self, notes: list[str]) -> dict[str, int]:
        """Name -> id of the run's unexpired test-result artifacts (read once)."""
        if self._artifact_ids is None:
            document = get_json(self._api, f"runs/{self._run_id}/artifacts?per_page=100", notes)
            listed = document.get("artifacts") if isinstance(document, dict) else None
            self._artifact_ids = {
                str(a["name"]): a["id"]
                for a in listed or []
                if isinstance(a, dict)
                and isinstance(a.get("id"), int)
                and isinstance(a.get("name"), str)
                and not a.get("expired")
                and any(fnmatch.fnmatch(a["name"].lower(), g) for g in RESULT_ARTIFACTS)
            }
        return self._artifact_ids

    def junit_paths(self, notes: list[str]) -> list[str]:
        """`artifact/<name>/<path>` of every XML file in the run's test-result artifacts."""
        paths: list[str] = []
        for name in self.result_artifacts(notes):
            archive = self._archive(name, notes)
            if archive is None:
                continue
            members = [
                m.filename for m in archive.infolist() if m.filename.endswith(".xml") and not m.is_dir()
            ]
            if len(members) > MAX_ZIP_MEMBERS:
                notes.append(
                    f"Artifact {name}: read the first {MAX_ZIP_MEMBERS} of {len(members)} XML files."
                )
            paths.extend(f"{ARTIFACT_PREFIX}{name}/{member}" for member in members[:MAX_ZIP_MEMBERS])
        if not paths:
            notes.append(
                "The workflow run has no test-result artifact holding JUnit XML (an artifact named "
                f"like {', '.join(RESULT_ARTIFACTS)})."
            )
        return paths

    def _archive(self, name: str, notes: list[str]) -> zipfile.ZipFile | None:
        if name not in self._zips:
            self._zips[name] = self._download(name, notes)
        return self._zips[name]

    def _download(self, name: str, notes: list[str]) -> zipfile.ZipFile | None:
        artifact_id = self.result_artifacts(notes).get(name)
        stream = self._api.open(f"artifacts/{artifact_id}/zip") if artifact_id is not None else None
        if stream is None:
            notes.append(f"Artifact {name} could not be downloaded (gone).")
            return None
        with stream:
            data = b"".join(iter(lambda: stream.read(CHUNK), b""))
        try:
            return zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            notes.append(f"Artifact {name} is not a readable zip (cut by the size cap, or corrupt).")
            return None

    def _open_member(self, name: str, member: str) -> BinaryIO | None:
        archive = self._archive(name, self.budget.notes)
        if archive is None:
            return None
        try:
            info = archive.getinfo(member)
        except KeyError:
            return None
        label = f"{name}/{member}"
        # ZipExtFile stops at the declared size, so the cap on it bounds what is inflated.
        if info.file_size > self.budget.max_file_bytes:
            self.budget.note(f"{label} is over the file cap; skipped.")
            return None
        raw = _ZipMember(archive.open(info), label, self.budget.notes)  # type: ignore[arg-type]  # ZipExtFile is a binary stream
        return io.BufferedReader(raw, buffer_size=CHUNK)


class GitHubLayout:
    """Where a GitHub Actions run's results are: JUnit in its artifacts, the failed jobs' logs."""

    def tree_location(self, run: RunEvent) -> str:
        """The run's API URL (GitHubRun is rooted there)."""
        return run.log_url

    def discover(self, run: RunEvent, tree: LogTree, settings: LayoutSettings, notes: list[str]) -> Discovery:
        """The XML files of the run's result artifacts and its failed jobs' logs."""
        if not isinstance(tree, GitHubRun):
            raise FetchRefused(f"{tree.root} is not a GitHub run read through the API")
        return Discovery(
            results=[FoundFile(path, ResultKind.JUNIT) for path in tree.junit_paths(notes)],
            console=[FAILED_JOBS_LOG],
            probe=False,
            method="github api",
        )
