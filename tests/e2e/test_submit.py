"""A job pushes its own results: `citriage submit` (its own process) against `citriage serve` (its
own process), the archive PUT to the embedded S3 through a presigned URL, analysed from the
archive by the real handlers. The job's subscribers get the mail they get when citriage fetches
the same tree from a log server, and `--wait --fail-on new` gates on the verdict."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.conftest import EVENTS, REPO
from tests.e2e.serving import launch_serve, post_generic, wait_for

pytestmark = pytest.mark.e2e
KEY = "submit-e2e-generic-key"
JOB = "tempest-full-py3"


def submit(
    url: str, build: str, tree: str, result: str, *extra: str, key: str = KEY
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CITRIAGE_"))} | {
        "CITRIAGE_KEY": key
    }
    logs = EVENTS / "logs" / tree
    return subprocess.run(
        [
            sys.executable, "-m", "citriage.cli.main", "submit",
            "--server", url, "--job", JOB, "--build-id", build, "--result", result,
            "--results", "testrepository.subunit", "--console", str(logs / "job-output.txt"),
            "--dir", str(logs), "--link", "build=https://ci.example.org/builds/" + build, *extra,
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def mails_for(out: Path, run_id_part: str) -> dict[str, email.message.EmailMessage]:
    """The mails of one run, by recipient, once they stop coming (every recipient's is written)."""
    deadline, seen = time.monotonic() + 60, -1
    while time.monotonic() < deadline:
        paths = sorted(p for p in out.glob("*.eml") if run_id_part in p.name)
        if paths and len(paths) == seen:
            return {
                p.name.split("__", 1)[1]: email.message_from_bytes(
                    p.read_bytes(), policy=email.policy.default
                )
                for p in paths
            }  # type: ignore[misc]
        seen = len(paths)
        time.sleep(1.5)
    raise AssertionError(f"no mail for {run_id_part}")


def report(url: str, token: str, run_id: str) -> dict:
    answer = requests.get(
        f"{url}/runs/{run_id.replace('/', '%2F')}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_submitted_tree_is_mailed_as_the_fetched_tree_and_wait_gates_on_the_verdict(tmp_path: Path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"generic": KEY}))
    out = tmp_path / "out"
    process, lines = launch_serve(out, keys)
    try:
        url = wait_for(lines, "citriage serve: listening on").split()[4]
        log_server = wait_for(lines, "log server:").split()[2]
        token = (out / "api-token").read_text().strip()
        # When the job submits its tree, and waits for the verdict, failing on new failures
        pushed = submit(url, "upload-1", "tempest-mixed", "FAILURE", "--wait", "--fail-on", "new")
        # Then it gets a run id, and exits 1: the run failed on a new failure
        assert pushed.returncode == 1, pushed.stderr
        answer = json.loads(pushed.stdout)
        assert answer["invocation"] == {"status": 0, "message": "ok", "cursor": None}
        run_id = answer["returns"]["run_id"]
        assert run_id == "upload:upload-1" and answer["returns"]["verdict"] == "failed_new"
        # And the same tree fetched from the log server as a generic webhook's run
        post_generic(url, log_server, KEY, JOB, 2, "tempest-mixed", datetime.now(UTC))
        fetched_id = f"generic:ci.example.org/{JOB}/2"
        deadline = time.monotonic() + 60
        while (
            requests.get(
                f"{url}/runs/{fetched_id.replace('/', '%2F')}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline, "the fetched run was never analysed"
            time.sleep(0.5)
        uploaded, fetched = report(url, token, run_id), report(url, token, fetched_id)

        def failures(r: dict) -> list:
            return sorted(
                (f["test_id"], f["classification"], f["message"], (f.get("known_issue") or {}).get("id"))
                for f in r["failures"]
            )

        assert uploaded["verdict"] == fetched["verdict"] == "failed_new"
        assert uploaded["tests"] == fetched["tests"]
        assert failures(uploaded) == failures(fetched) and len(failures(uploaded)) == 3
        # And the job's subscribers got the same mails, recipient by recipient
        up_mails, fetched_mails = mails_for(out, "upload-1"), mails_for(out, f"{JOB}_2")
        assert sorted(up_mails) == sorted(fetched_mails) and up_mails
        for name, mail in up_mails.items():
            other = fetched_mails[name]
            assert mail["Subject"].replace("upload-1", "#") == other["Subject"].replace(
                f"ci.example.org/{JOB}/2", "#"
            )
            text = mail.get_body(("plain",)).get_content()
            for test_id, _, message, issue in failures(uploaded):
                assert test_id in text and (message or "")[:60] in text and (issue or "") in text
        # And a passing tree's submit waits and exits 0; a wrong key is refused (status 4)
        passing = submit(url, "upload-2", "tempest-passing", "SUCCESS", "--wait", "--fail-on", "new")
        assert passing.returncode == 0, passing.stderr
        assert json.loads(passing.stdout)["returns"]["verdict"] == "passed"
        refused = submit(url, "upload-3", "tempest-passing", "SUCCESS", key="not-the-key")
        assert refused.returncode == 4 and json.loads(refused.stdout)["invocation"]["status"] == 4
        # And a second submit of the first build sends nothing: it was analysed
        again = submit(url, "upload-1", "tempest-mixed", "FAILURE")
        assert again.returncode == 0 and json.loads(again.stdout)["returns"]["state"] == "duplicate"
    finally:
        process.kill()
        process.wait()
