"""Docker-less local mode: an embedded AWS endpoint (moto server), a local log server, and the
real Lambda handlers driven the way Lambda's event sources drive them.

Nothing here changes how the handlers work: they get the same events and read the same
environment variables as in AWS; boto3 is pointed at the embedded endpoint by AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import boto3

from citriage.intake.sources import SOURCES

REGION = "us-east-1"
ACCOUNT = "123456789012"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def repo_root() -> Path:
    """The checkout holding `functions/` and `events/` (the package is installed from it)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "functions").is_dir() and (parent / "template.yaml").is_file():
            return parent
    cwd = Path.cwd()
    if (cwd / "functions").is_dir():
        return cwd
    raise FileNotFoundError("cannot find the citriage checkout (functions/ and template.yaml)")


def load_handler(name: str, root: Path | None = None) -> Handler:
    """Import `functions/<name>/app.py` afresh and return its `lambda_handler`."""
    path = (root or repo_root()) / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"citriage_function_{name}_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.lambda_handler
    return handler


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        """The ARN the function would have."""
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty: local invocations are not cut off."""
        return 300_000


@dataclass
class LocalStack:
    """Names of the resources provisioned on the embedded endpoint, and the functions' env."""

    endpoint: str
    env: dict[str, str]
    analyze_queue_url: str
    notify_queue_url: str
    webhook_keys: dict[str, str]
    # The CI API tokens secret: per source, host -> credential (see citriage.analyze.ci_api.credentials).
    ci_tokens: dict[str, object] = field(default_factory=dict)


class EmbeddedAws:
    """A moto server on 127.0.0.1 with the resources template.yaml declares."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415  # moto is only needed in local mode

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> str:
        """Start the server and point boto3 (in this process) at it."""
        # The embedded server's per-request access log would drown the caller's output.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",  # moto's dummy credentials
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        return self.endpoint

    def stop(self) -> None:
        """Stop the server."""
        self._server.stop()

    def provision(
        self,
        sender: str,
        log_hosts: list[str],
        mail_out_dir: Path | None,
        webhook_keys: Mapping[str, str] | None = None,
        ci_tokens: Mapping[str, object] | None = None,
    ) -> LocalStack:
        """Create tables, queues, bus and rule, secrets and SES identity; return the env to run with.

        Every source gets a random webhook key unless `webhook_keys` names one for it. The CI API
        tokens secret is `ci_tokens`, empty by default: runs are read anonymously (an invented
        token would turn a public API's anonymous answer into a 401).
        """
        dynamodb = boto3.client("dynamodb")
        names = {
            "runs": "citriage-runs",
            "known": "citriage-known-issues",
            "subs": "citriage-subscriptions",
            "dedupe": "citriage-dedupe",
            "suppressions": "citriage-suppressions",
        }
        _create_table(
            dynamodb, names["runs"], [("pk", "HASH"), ("sk", "RANGE")], gsi=("by-job", "gsi1pk", "gsi1sk")
        )
        _create_table(dynamodb, names["known"], [("id", "HASH")])
        _create_table(dynamodb, names["subs"], [("email", "HASH")])
        _create_table(dynamodb, names["dedupe"], [("key", "HASH")])
        _create_table(dynamodb, names["suppressions"], [("email", "HASH")])
        sqs = boto3.client("sqs")
        analyze_url = _create_queue(sqs, "citriage-analyze", visibility=720)
        notify_url = _create_queue(sqs, "citriage-notify", visibility=360)
        notify_arn = sqs.get_queue_attributes(QueueUrl=notify_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events")
        events.create_event_bus(Name="citriage")
        events.put_rule(
            Name="citriage-run-analyzed",
            EventBusName="citriage",
            EventPattern=json.dumps({"source": ["citriage"], "detail-type": ["RunAnalyzed"]}),
        )
        events.put_targets(
            Rule="citriage-run-analyzed",
            EventBusName="citriage",
            Targets=[{"Id": "notify", "Arn": notify_arn}],
        )
        keys = {name: (webhook_keys or {}).get(name) or secrets.token_hex(24) for name in SOURCES}
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name="citriage/intake/webhook-keys", SecretString=json.dumps(keys)
        )["ARN"]
        tokens = dict(ci_tokens or {})
        ci_tokens_arn = boto3.client("secretsmanager").create_secret(
            Name="citriage/ci-api-tokens", SecretString=json.dumps(tokens)
        )["ARN"]
        boto3.client("sesv2").create_email_identity(EmailIdentity=sender)
        env = {
            "POWERTOOLS_SERVICE_NAME": "citriage",
            "POWERTOOLS_METRICS_NAMESPACE": "Citriage",
            "ANALYZE_QUEUE_URL": analyze_url,
            "DEDUPE_TABLE": names["dedupe"],
            "WEBHOOK_SECRET_ARN": secret_arn,
            "RUNS_TABLE": names["runs"],
            "KNOWN_ISSUES_TABLE": names["known"],
            "SUBSCRIPTIONS_TABLE": names["subs"],
            "SUPPRESSIONS_TABLE": names["suppressions"],
            "EVENT_BUS_NAME": "citriage",
            "CI_TOKENS_SECRET_ARN": ci_tokens_arn,
            "LOG_HOSTS": ",".join(log_hosts),
            # The local log server listens on loopback; only this embedded mode allows it.
            "ALLOW_PRIVATE_ADDRESSES": "true",
            "MAIL_SENDER": sender,
            "MAIL_TRANSPORTS": "ses,file" if mail_out_dir else "ses",
        }
        if mail_out_dir:
            env["MAIL_OUT_DIR"] = str(mail_out_dir)
        os.environ.update(env)
        return LocalStack(self.endpoint, env, analyze_url, notify_url, keys, tokens)


def _create_table(
    client: Any, name: str, keys: list[tuple[str, str]], gsi: tuple[str, str, str] | None = None
) -> None:
    attributes = [{"AttributeName": k, "AttributeType": "S"} for k, _ in keys]
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": k, "KeyType": t} for k, t in keys],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsi:
        index, hash_key, range_key = gsi
        attributes += [
            {"AttributeName": hash_key, "AttributeType": "S"},
            {"AttributeName": range_key, "AttributeType": "S"},
        ]
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    request["AttributeDefinitions"] = attributes
    client.create_table(**request)


def _create_queue(sqs: Any, name: str, visibility: int) -> str:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url: str = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    return url


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's parameter name
        """Keep the demo's output to its own lines."""


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve a directory over HTTP on 127.0.0.1 (a local log server); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        thread.join()


def http_api_event(
    source: str, body: bytes, headers: dict[str, str], query: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The API Gateway HTTP API (v2) event for `POST /hooks/{source}`."""
    now = int(time.time() * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /hooks/{source}",
        "rawPath": f"/hooks/{source}",
        "rawQueryString": urlencode(query or {}),
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": "localhost",
            "http": {
                "method": "POST",
                "path": f"/hooks/{source}",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", "citriage-local"),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "POST /hooks/{source}",
            "stage": "$default",
            "timeEpoch": now,
        },
        "pathParameters": {"source": source},
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    return event


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_url: str) -> dict[str, Any]:
    """The SQS event Lambda's event source mapping builds from received messages."""
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


class HandlerChain:
    """Drives the real handlers: webhook -> analyze queue -> analyze -> bus -> notify queue -> notify."""

    def __init__(self, stack: LocalStack, root: Path | None = None) -> None:
        self.stack = stack
        self.webhook = load_handler("webhook", root)
        self.analyze = load_handler("analyze", root)
        self.notify = load_handler("notify", root)
        self._sqs = boto3.client("sqs")

    def post(
        self, source: str, body: bytes, headers: dict[str, str], query: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Invoke the webhook function as API Gateway would; return status and JSON body."""
        event = http_api_event(source, body, headers, query)
        response = self.webhook(event, LambdaContext("WebhookFunction"))
        return int(response["statusCode"]), json.loads(response.get("body") or "{}")

    def drain(self, queue_url: str, handler: Handler, function_name: str, max_rounds: int = 20) -> int:
        """Feed a queue's messages to a handler in batches; delete those it did not fail.

        Returns how many messages were processed successfully.
        """
        done = 0
        for _ in range(max_rounds):
            received = self._sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not received:
                break
            result = handler(sqs_event(received, queue_url), LambdaContext(function_name))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for message in received:
                if message["MessageId"] not in failed:
                    self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    done += 1
                else:
                    # Make the failed message visible again at once, as a retry would find it.
                    self._sqs.change_message_visibility(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
            if failed:
                break
        return done

    def run_pending(self) -> tuple[int, int]:
        """Analyse everything queued, then notify; returns (runs analysed, events notified)."""
        analysed = self.drain(self.stack.analyze_queue_url, self.analyze, "AnalyzeFunction")
        notified = self.drain(self.stack.notify_queue_url, self.notify, "NotifyFunction")
        return analysed, notified
