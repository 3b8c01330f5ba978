"""The read side as a user meets it: `citriage serve` in its own process, two webhooks analysed,
then the `citriage` client over real HTTP, and the API's token scopes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.e2e.serving import launch_serve, post_generic, wait_for

pytestmark = pytest.mark.e2e
KEY = "query-e2e-generic-key"
FAILING, PASSING = "tempest-integrated-storage", "tox-py311"


def client(url: str | None, token: str | None, *args: str, home: Path) -> tuple[int, dict]:
    """`citriage [--from URL] ARGS` as a separate process; its exit code and envelope."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CITRIAGE_"))}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    if token:
        env["CITRIAGE_TOKEN"] = token
    command = [sys.executable, "-m", "citriage.cli.main", *(["--from", url] if url else []), *args]
    done = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout)


def webhook(url: str, log_server: str, job: str, build: int, logs: str) -> None:
    """A build of `job` that ended ten minutes ago, in openstack/cinder."""
    ended = datetime.now(UTC) - timedelta(minutes=10)
    post_generic(url, log_server, KEY, job, build, logs, ended, project="openstack/cinder")


@pytest.fixture
def served(tmp_path: Path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"generic": KEY}))
    out = tmp_path / "out"
    process, lines = launch_serve(out, keys)
    try:
        url = wait_for(lines, "citriage serve: listening on").split()[4]
        log_server = wait_for(lines, "log server:").split()[2]
        tables = dict(pair.split("=", 1) for pair in wait_for(lines, "tables:").split()[1:])
        yield url, log_server, out, tables
    finally:
        process.kill()
        process.wait()


def test_the_client_answers_in_its_envelope_over_real_http(served, tmp_path: Path):
    url, log_server, out, _ = served
    admin = (out / "api-token").read_text().strip()
    assert (out / "api-token").stat().st_mode & 0o777 == 0o600
    home = tmp_path / "home"
    # Given two webhooks, one run that fails and one that passes
    webhook(url, log_server, FAILING, 1, "tempest-mixed")
    webhook(url, log_server, PASSING, 2, "tempest-passing")
    deadline = time.monotonic() + 90
    runs: list = []
    while time.monotonic() < deadline and len(runs) < 2:
        _, answer = client(url, admin, "run", "search", home=home)
        runs = answer["returns"]
        time.sleep(1)
    assert {(r["job"], r["verdict"]) for r in runs} == {(FAILING, "failed_new"), (PASSING, "passed")}

    # When the client searches by job, it prints the envelope with exactly that run
    code, answer = client(url, admin, "run", "search", "--job", FAILING, home=home)
    assert code == 0 and answer["invocation"] == {"status": 0, "message": "ok", "cursor": None}
    [summary] = answer["returns"]
    run_id = f"generic:ci.example.org/{FAILING}/1"
    assert (summary["run_id"], summary["job"], summary["verdict"]) == (run_id, FAILING, "failed_new")
    assert summary["log_url"] == f"{log_server}/tempest-mixed/" and summary["tests"]["failed"] >= 1
    # And a page of one says where the next starts, and that one where nothing more is
    code, first = client(url, admin, "run", "search", "--limit", "1", home=home)
    assert code == 0 and len(first["returns"]) == 1 and first["invocation"]["cursor"]
    code, second = client(
        url, admin, "run", "search", "--limit", "1", "--cursor", first["invocation"]["cursor"], home=home
    )
    assert code == 0 and second["invocation"]["cursor"] is None
    assert {first["returns"][0]["run_id"], second["returns"][0]["run_id"]} == {r["run_id"] for r in runs}
    # And `run info` returns its report; an unknown id has status 2 and exits 2
    code, answer = client(url, admin, "run", "info", "--id", run_id, home=home)
    assert (
        code == 0
        and answer["returns"]["run"]["job"] == FAILING
        and answer["returns"]["verdict"] == "failed_new"
    )
    code, answer = client(url, admin, "run", "info", "--id", "nope", home=home)
    assert code == 2 and answer["invocation"]["status"] == 2 and "nope" in answer["invocation"]["message"]
    # And `job history` and `job status` answer; --json-data stands for the flags
    code, answer = client(url, admin, "job", "history", "--job", PASSING, home=home)
    assert code == 0 and [r["verdict"] for r in answer["returns"]] == ["passed"]
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"job": FAILING}))
    code, answer = client(url, admin, "job", "status", "--json-data", str(options), home=home)
    assert code == 0 and answer["returns"][0]["last_run"]["run_id"] == run_id
    # And a failing test's history names the run it failed in
    report = client(url, admin, "run", "info", "--id", run_id, home=home)[1]["returns"]
    test_id = report["failures"][0]["test_id"]
    code, answer = client(url, admin, "test", "history", "--id", test_id, home=home)
    assert code == 0 and [f["run_id"] for f in answer["returns"]["failures"]] == [run_id]
    code, answer = client(url, admin, "status", home=home)
    assert code == 0 and answer["returns"]["last_run_by_source"]["generic"]["job"] in (FAILING, PASSING)

    # The options file supplies the server and token; --from wins over it
    (home / ".config" / "citriage").mkdir(parents=True)
    (home / ".config" / "citriage" / "client.conf").write_text(f"[client]\nserver = {url}\ntoken = {admin}\n")
    code, answer = client(None, None, "known-issue", "search", home=home)
    assert code == 0 and isinstance(answer["returns"], list)
    code, answer = client("http://127.0.0.1:9", None, "status", home=home)
    assert code == 3 and "unreachable" in answer["invocation"]["message"]


def test_token_scopes_are_enforced_over_http(served, tmp_path: Path):
    url, log_server, out, tables = served
    admin = (out / "api-token").read_text().strip()
    webhook(url, log_server, PASSING, 7, "tempest-passing")
    run_id = f"generic:ci.example.org/{PASSING}/7"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if (
            requests.get(
                f"{url}/runs/{run_id.replace('/', '%2F')}",
                headers={"Authorization": f"Bearer {admin}"},
                timeout=30,
            ).status_code
            == 200
        ):
            break
        time.sleep(1)
    # No token: 401, before any authorizer runs; a wrong one: 403
    assert requests.get(f"{url}/runs", timeout=30).status_code == 401
    assert (
        requests.get(f"{url}/runs", headers={"Authorization": "Bearer citr_nope"}, timeout=30).status_code
        == 403
    )
    assert (
        requests.get(f"{url}/status", headers={"Authorization": f"Bearer {admin}x"}, timeout=30).status_code
        == 403
    )
    # The admin token reanalyses; the client says so in its envelope
    home = tmp_path / "home"
    code, answer = client(url, admin, "run", "reanalyze", "--id", run_id, home=home)
    assert code == 0 and answer["returns"]["queued"] is True
    # A read token cannot reanalyze (403: status 4), but can read
    read = _read_token(tables)
    code, answer = client(url, read, "run", "reanalyze", "--id", run_id, home=home)
    assert code == 4 and "admin" in answer["invocation"]["message"]
    assert client(url, read, "run", "info", "--id", run_id, home=home)[0] == 0
    # And no token at all is 401: status 4, with a hint
    code, answer = client(url, None, "run", "search", home=home)
    assert code == 4 and "CITRIAGE_TOKEN" in answer["invocation"]["message"]
    # And a revoked token is refused (serve's authorizer answers are not cached)
    token_id = read.split("_")[1]
    assert _tokens(tables, "revoke", "--id", token_id).returncode == 0
    assert (
        requests.get(f"{url}/status", headers={"Authorization": f"Bearer {read}"}, timeout=30).status_code
        == 403
    )


def _tokens(tables: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`citriage tokens ARGS` from another shell, on the tables serve printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | tables
    command = [sys.executable, "-m", "citriage.cli.main", "tokens", *args]
    return subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def _read_token(tables: dict[str, str]) -> str:
    """A read-scoped token made with `citriage tokens create`; `tokens list` never shows it."""
    made = _tokens(tables, "create", "--name", "release-bot", "--scope", "read")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    listed = _tokens(tables, "list", "--format", "json")
    assert token not in listed.stdout and "release-bot" in listed.stdout
    return str(token)


def test_a_new_failure_seen_in_two_jobs_is_one_cluster_over_the_api_and_from(served, tmp_path: Path):
    url, log_server, out, _ = served
    admin = (out / "api-token").read_text().strip()
    home = tmp_path / "home"
    # Given the same tree failing in two jobs (its port test is a new failure in both)
    webhook(url, log_server, "tempest-full-py3", 21, "tempest-mixed")
    webhook(url, log_server, "tempest-slow-py3", 22, "tempest-mixed")
    deadline, runs = time.monotonic() + 90, []
    while time.monotonic() < deadline and len(runs) < 2:
        runs = client(url, admin, "run", "search", home=home)[1]["returns"]
        time.sleep(1)
    run_id = "generic:ci.example.org/tempest-full-py3/21"
    report = requests.get(
        f"{url}/runs/{run_id.replace('/', '%2F')}", headers={"Authorization": f"Bearer {admin}"}, timeout=30
    ).json()
    (new,) = [f for f in report["failures"] if f["classification"] == "new"]
    from citriage.clusters.normalize import cluster_id, normalise

    wanted = cluster_id(normalise(new["message"]))
    # When the client asks the API for that cluster
    status, answer = client(url, admin, "cluster", "info", "--id", wanted, home=home)
    # Then it holds the failure in both runs, of both jobs
    assert status == 0, answer
    cluster = answer["returns"]
    assert (cluster["id"], cluster["runs"], cluster["jobs"]) == (wanted, 2, 2)
    assert {(m["job"], m["test_id"]) for m in cluster["members"]} == {
        ("tempest-full-py3", new["test_id"]),
        ("tempest-slow-py3", new["test_id"]),
    }
    assert all(m["message"] == new["message"] for m in cluster["members"])
    # And `cluster search` over the API finds it among the week's clusters, biggest first
    status, found = client(url, admin, "cluster", "search", home=home)
    assert status == 0, found
    assert found["returns"][0]["id"] == wanted and found["returns"][0]["runs"] == 2
    # And `cluster propose` over the API replays on the jobs' passing runs, fetched from the log server
    webhook(url, log_server, "tempest-full-py3", 23, "tempest-passing")
    deadline, passing = time.monotonic() + 60, []
    while time.monotonic() < deadline and not passing:
        passing = client(url, admin, "run", "search", "--verdict", "passed", home=home)[1]["returns"]
        time.sleep(1)
    status, proposed = client(url, admin, "cluster", "propose", "--id", wanted, "--allow-private", home=home)
    assert status == 0, proposed
    proposal = proposed["returns"]
    assert proposal["good"] is True, proposal["why"]
    assert proposal["replay"]["cluster_hits"] == proposal["replay"]["cluster_size"] == 2
    assert proposal["replay"]["passing_runs"] == 1 and proposal["replay"]["lines_checked"] > 100
    # And an unknown cluster is status 2
    assert client(url, admin, "cluster", "info", "--id", "c-000000000000", home=home)[0] == 2
    # And the later run's report counts the cluster, and its mail says where else it was seen
    later_id = "generic:ci.example.org/tempest-slow-py3/22"
    later = requests.get(
        f"{url}/runs/{later_id.replace('/', '%2F')}", headers={"Authorization": f"Bearer {admin}"}, timeout=30
    ).json()
    (counted,) = [f["cluster"] for f in later["failures"] if f["classification"] == "new"]
    assert (counted["id"], counted["runs"], counted["jobs"]) == (wanted, 2, 2)
    deadline, found = time.monotonic() + 60, []
    while time.monotonic() < deadline and not found:
        found = list(out.glob("*tempest-slow-py3_22__nova-core@example.org.eml"))
        time.sleep(0.5)
    (mail,) = found
    assert "Also seen: in 1 other run of 2 jobs since" in mail.read_text() and wanted in mail.read_text()
