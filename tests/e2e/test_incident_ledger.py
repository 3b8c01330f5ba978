"""An outage end to end: signed webhooks of runs that fail on one unreachable mirror, through
`citriage serve`'s real handlers, become one incident; clean runs close it; the client's
`incident` entry answers over HTTP, and the ledger's totals are the incident's own duration."""

from __future__ import annotations

import email
import email.policy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.e2e.serving import launch_serve, post_generic, wait_for
from tests.e2e.test_query_client import KEY, client

pytestmark = pytest.mark.e2e
MIRROR = "mirror.regionone.example.org"


def post(url: str, log_server: str, job: str, build: int, logs: str, ended: datetime) -> None:
    """A half-hour build of `job` that ended at `ended`."""
    post_generic(url, log_server, KEY, job, build, logs, ended, wall=timedelta(minutes=30))


def analysed(url: str, token: str, count: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = requests.get(f"{url}/runs", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        if len(runs["items"]) >= count:
            return
        time.sleep(1)
    raise AssertionError(f"fewer than {count} runs analysed")


def test_five_runs_of_three_jobs_on_one_mirror_are_one_incident_and_clean_runs_close_it(tmp_path: Path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"generic": KEY}))
    out, home = tmp_path / "out", tmp_path / "home"
    process, lines = launch_serve(out, keys)
    try:
        url = wait_for(lines, "citriage serve: listening on").split()[4]
        log_server = wait_for(lines, "log server:").split()[2]
        token = (out / "api-token").read_text().strip()
        now = datetime.now(UTC).replace(microsecond=0)
        # Given five runs of three jobs failing on one unreachable mirror within 25 minutes
        outage = [
            ("tempest-full", 1, 30),
            ("devstack", 2, 27),
            ("grenade", 3, 20),
            ("tempest-full", 4, 12),
            ("devstack", 5, 5),
        ]
        for job, build, ago in outage:
            post(url, log_server, job, build, "mirror-outage", now - timedelta(minutes=ago))
        analysed(url, token, 5)
        # Then the client finds one open incident: the mirror, 5 runs, 3 jobs, from the first run's end
        code, answer = client(url, token, "incident", "search", "--state", "open", home=home)
        assert code == 0, answer
        [incident] = answer["returns"]
        assert (incident["service"], incident["run_count"], incident["jobs"]) == (
            MIRROR,
            5,
            ["devstack", "grenade", "tempest-full"],
        )
        assert datetime.fromisoformat(incident["opened_at"]) == now - timedelta(minutes=30)
        # And each of those runs' reports names it (the ones after it opened)
        report = requests.get(
            f"{url}/runs/generic:ci.example.org%2Fdevstack%2F5",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        assert report["verdict"] == "infra" and report["incident"] == incident["id"]
        # And the CI admins got one alert of its opening; the runs it held mailed nobody
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(out.glob(f"{incident['id']}.opened__*.eml")):
            time.sleep(0.5)
        assert [m.name for m in out.glob(f"{incident['id']}.*.eml")] == [
            f"{incident['id']}.opened__ci-admins@example.org.eml"
        ]
        held = [m.name for m in out.glob("generic_*devstack_5__*.eml")] + [
            m.name for m in out.glob("generic_*grenade_3__*.eml")
        ]
        assert held == []
        # When two clean runs of its jobs end after its last hit
        post(url, log_server, "tempest-full", 6, "tempest-passing", now - timedelta(minutes=2))
        post(url, log_server, "grenade", 7, "tempest-passing", now - timedelta(minutes=1))
        analysed(url, token, 7)
        # Then it is closed, with a duration, by clean runs
        code, answer = client(url, token, "incident", "info", "--id", incident["id"], home=home)
        assert code == 0 and answer["returns"]["state"] == "closed"
        assert answer["returns"]["closed_by"] == "clean runs"
        closed = answer["returns"]
        duration = (
            datetime.fromisoformat(closed["closed_at"]) - datetime.fromisoformat(closed["opened_at"])
        ).total_seconds()
        # From the first broken run's end to the end of the clean run that closed it
        assert duration == 29 * 60
        # And the admins got its closing, once
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(out.glob(f"{incident['id']}.closed__*.eml")):
            time.sleep(0.5)
        closing = email.message_from_bytes(
            (out / f"{incident['id']}.closed__ci-admins@example.org.eml").read_bytes(),
            policy=email.policy.default,
        )
        assert (
            closing["Subject"]
            == "[citriage] incident closed: network mirror.regionone.example.org (5 runs, 3 jobs)"
        )
        # And the runs it held, which no API can rerun (generic runs), are released: the
        # subscribers of their jobs hear, once, that they never ran again (tempest-full #4 has
        # one; devstack and grenade have none, and the infra subscribers had the alerts)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(out.glob("generic_*tempest-full_4__*.eml")):
            time.sleep(0.5)
        [released] = out.glob("generic_*tempest-full_4__*.eml")
        assert released.name.endswith("__nova-core@example.org.eml")
        mail = email.message_from_bytes(released.read_bytes(), policy=email.policy.default)
        assert mail["Subject"].startswith("Infra failure, not rerun: tempest-full")
        text = mail.get_body(preferencelist=("plain",)).get_content()
        assert f"incident {incident['id']}" in text
        assert "It never ran again: its CI could not be asked to run it again" in text
        assert [m.name for m in out.glob("generic_*devstack_5__*.eml")] == []
        # And the ledger of the last 30 days adds up to that incident's own duration
        code, answer = client(url, token, "incident", "report", "--since", "30d", home=home)
        ledger = answer["returns"]
        assert code == 0 and ledger["incidents"] == 1 and ledger["runs"] == 5
        assert ledger["downtime_seconds"] == pytest.approx(duration)
        [row] = ledger["rows"]
        assert (row["category"], row["service"], row["downtime_seconds"]) == (
            "network",
            MIRROR,
            pytest.approx(duration),
        )
        assert row["ci_hours_lost"] == pytest.approx(5 * 0.5)
        # And the status page lists no open incident any more; an unknown id is status 2
        assert client(url, token, "status", home=home)[1]["returns"]["open_incidents"] == []
        assert client(url, token, "incident", "info", "--id", "nope", home=home)[0] == 2
    finally:
        process.kill()
        process.wait()
