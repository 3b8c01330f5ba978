"""SES throttling is retried once, by the client (botocore's adaptive mode), over real HTTP."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.ses import SesTransport

from tests.unit.mail_fakes import MESSAGE

pytestmark = pytest.mark.integration


@contextmanager
def stand_in_ses(throttle_first: int) -> Iterator[tuple[str, list[str]]]:
    """SES v2's SendEmail, answering 429 TooManyRequestsException to the first N requests."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # the stdlib's method name
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.path)
            if len(seen) <= throttle_first:
                body = json.dumps({"message": "Maximum sending rate exceeded."}).encode()
                self.send_response(429)
                self.send_header("x-amzn-ErrorType", "TooManyRequestsException")
            else:
                body = json.dumps({"MessageId": f"m-{len(seen)}"}).encode()
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # the stdlib's parameter name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_throttled_sends_are_retried_by_the_client_and_go_through(aws_env, monkeypatch):
    with stand_in_ses(throttle_first=2) as (url, seen):
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", url)
        message_id = SesTransport(AwsClients().sesv2).send(MESSAGE, "x@example.org")
    assert message_id == "m-3" and len(seen) == 3


def test_the_client_gives_up_after_its_attempts_and_the_error_propagates(aws_env, monkeypatch):
    with stand_in_ses(throttle_first=100) as (url, seen):
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", url)
        with pytest.raises(ClientError, match="TooManyRequestsException"):
            SesTransport(AwsClients().sesv2).send(MESSAGE, "x@example.org")
    # One retry layer: the client's 5 attempts in all, no transport loop multiplying them
    assert len(seen) == 5
