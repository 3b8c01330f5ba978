"""`citriage serve` as a user runs it: a separate process, a webhook over real HTTP, mail under out/."""

from __future__ import annotations

import email
import email.policy
import json
import signal
import time
from pathlib import Path

import pytest
import requests
from citriage.intake.sources.auth import sign_hmac_sha256

from tests.conftest import EVENTS
from tests.e2e.serving import launch_serve, wait_for

pytestmark = pytest.mark.e2e
KEY = "laptop-generic-key"


def test_serve_takes_a_webhook_over_http_and_writes_the_mail(tmp_path: Path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"generic": KEY}))
    out = tmp_path / "out"
    # Given `citriage serve` on a free port, serving the bundled log trees
    process, lines = launch_serve(out, keys)
    try:
        url = wait_for(lines, "citriage serve: listening on").split()[4]
        log_server = wait_for(lines, "log server:").split()[2]
        body = (
            (EVENTS / "generic" / "build-failed.json")
            .read_text()
            .replace("${LOG_SERVER}", log_server)
            .encode()
        )
        # When a CI's post-build step POSTs the signed generic report
        response = requests.post(
            f"{url}/hooks/generic",
            data=body,
            headers={"X-Citriage-Signature": sign_hmac_sha256(body, KEY)},
            timeout=30,
        )
        # Then it is accepted, and a badly signed one is refused
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == ["generic:ci.example.org/tempest-integrated-storage/981"]
        refused = requests.post(
            f"{url}/hooks/generic", data=body, headers={"X-Citriage-Signature": "sha256=00"}, timeout=30
        )
        assert refused.status_code == 401
        # And the in-process worker analyses it and writes the subscriber's mail under out/
        deadline = time.monotonic() + 60
        mails: list[Path] = []
        while time.monotonic() < deadline and not mails:
            mails = sorted(out.glob("*.eml"))
            time.sleep(0.5)
        assert [m.name for m in mails] == [
            "generic_ci.example.org_tempest-integrated-storage_981__nova-core@example.org.eml"
        ]
        assert "tempest-integrated-storage" in mails[0].read_text()
        # And the mail carries the headers a mail client files, threads and unsubscribes by
        mail = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
        assert mail["Auto-Submitted"] == "auto-generated"
        assert (
            mail["List-Id"].strip()
            == "tempest-integrated-storage <tempest-integrated-storage.citriage.example.org>"
        )
        assert mail["Message-ID"].endswith("@example.org>")
        assert mail["In-Reply-To"] == mail["References"] and mail["In-Reply-To"].startswith("<thread.")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = mail["List-Unsubscribe"].split(",")[0].strip("<> ")
        assert (
            link.startswith(f"{url}/unsubscribe?")
            and "mailto:citriage@example.org" in mail["List-Unsubscribe"]
        )
        # And the link works: a page that asks first, then a one-click POST removes the subscription
        page = requests.get(link, timeout=30)
        assert page.status_code == 200 and '<form method="post"' in page.text
        forged = requests.post(link.replace("t=", "t=x"), data="List-Unsubscribe=One-Click", timeout=30)
        assert forged.status_code == 403
        done = requests.post(link, data="List-Unsubscribe=One-Click", timeout=30)
        assert done.status_code == 200 and "nova-core@example.org is unsubscribed" in done.text
        again = requests.post(link, data="List-Unsubscribe=One-Click", timeout=30)
        assert "had no subscription" in again.text
        # So the next failing run of that job mails nobody
        second = body.replace(b"/981", b"/982").replace(b'"981"', b'"982"')
        accepted = requests.post(
            f"{url}/hooks/generic",
            data=second,
            headers={"X-Citriage-Signature": sign_hmac_sha256(second, KEY)},
            timeout=30,
        )
        assert accepted.status_code == 202 and accepted.json()["accepted"], accepted.text
        time.sleep(5)
        assert sorted(out.glob("*.eml")) == mails
        assert requests.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
        # And SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert wait_for(lines, "stopping", timeout=5) == "stopping"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
