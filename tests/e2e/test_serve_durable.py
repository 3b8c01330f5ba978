"""`citriage serve` under load and crashes: kill -9 in the middle of a burst of webhooks and
redeliveries, a restart on the same state, and every run answered 202 is mailed exactly once;
a message of many builds holds up no other webhook."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from citriage.intake.sources.auth import sign_hmac_sha256

from bench.load import KEY, Serve, _free_port, body_of, deliver, run_load
from tests.conftest import EVENTS

pytestmark = pytest.mark.e2e


def test_kill_9_mid_burst_and_a_restart_lose_nothing_and_mail_nothing_twice(tmp_path):
    # Given serve with its state directory, 60 webhooks and 15 redeliveries from 16 senders,
    # killed with SIGKILL after 30 answers, restarted, and the unanswered ones retried
    result = run_load(tmp_path, webhooks=60, redeliveries=15, kill_after=30)
    # Then every run has exactly one mail, none came again after the restart, and no redelivery
    # of an accepted run was accepted a second time
    assert result.answered_before_kill >= 30
    assert result.problems == []


def test_a_message_of_many_builds_holds_up_no_other_webhook(tmp_path):
    from citriage.local.loopback import serve_directory

    with serve_directory(EVENTS / "logs") as log_server:
        serve = Serve(tmp_path, _free_port(), log_server, state=True)
        zuul_key = "load-zuul-key"
        (tmp_path / "keys.json").write_text(json.dumps({"generic": KEY, "zuul": zuul_key}))
        serve.start()
        try:
            # Given a Zuul buildset of 500 finished builds being taken in
            builds = [
                {
                    "job_name": f"job-{n}",
                    "uuid": f"u{n:04d}",
                    "result": "FAILURE",
                    "log_url": f"{log_server}/missing-{n}/",
                    "end_time": 1795169893.0,
                }
                for n in range(500)
            ]
            big = json.dumps(
                {"tenant": "t", "project": "p", "buildset": {"uuid": "bs", "builds": builds}}
            ).encode()
            big_done = threading.Event()
            answers: list[int] = []

            def post_big() -> None:
                response = requests.post(
                    f"{serve.url}/hooks/zuul",
                    data=big,
                    headers={"X-Citriage-Signature": sign_hmac_sha256(big, zuul_key)},
                    timeout=300,
                )
                answers.append(response.status_code)
                big_done.set()

            sender = threading.Thread(target=post_big)
            sender.start()
            big_done.wait(0.3)
            # When another CI's webhook arrives meanwhile
            small = deliver(serve.url, 1, body_of(1, log_server))
            # Then it is answered while the big message is still being taken in
            assert small.status == 202 and small.accepted
            assert not big_done.is_set()
            sender.join(timeout=300)
            assert answers == [202]
        finally:
            serve.kill()
