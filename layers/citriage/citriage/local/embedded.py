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
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.provision import create_email_identity, provision, read_template
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
    # IncidentClosed events for IncidentsFunction (None in a state kept before it existed).
    incidents_queue_url: str | None = None
    # RunAnalyzed and BuildsetAnalyzed for FeedbackFunction, BuildsetAnalyzed for the release gate.
    feedback_queue_url: str | None = None
    gate_queue_url: str | None = None


# A WSGI application wrapper: `serve --state` passes every request through its snapshot gate.
WsgiWrapper = Callable[[Any], Any]


class EmbeddedAws:
    """A moto server on 127.0.0.1 with the resources template.yaml declares."""

    def __init__(self, port: int = 0, wrap: WsgiWrapper | None = None) -> None:
        self._port = port
        self._wrap = wrap
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    def start(self) -> str:
        """Start the server and point boto3 (in this process) at it."""
        # moto is only needed in local mode.
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        # The embedded server's per-request access log would drown the caller's output.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1",
            self._port,
            self._wrap(app) if self._wrap else app,
            True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="citriage-aws", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
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
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def provision(
        self,
        sender: str,
        log_hosts: list[str],
        mail_out_dir: Path | None,
        webhook_keys: Mapping[str, str] | None = None,
        ci_tokens: Mapping[str, object] | None = None,
        unsubscribe_key: str | None = None,
    ) -> LocalStack:
        """Create what template.yaml declares (tables, queues, bus and rule, secrets) and a verified
        sender; return the functions' environment, resolved against the local resources.

        Every source gets a random webhook key unless `webhook_keys` names one for it. The CI API
        tokens secret is `ci_tokens`, empty by default: runs are read anonymously (an invented
        token would turn a public API's anonymous answer into a 401).
        """
        aws = AwsClients()
        keys = {name: (webhook_keys or {}).get(name) or secrets.token_hex(24) for name in SOURCES}
        tokens = dict(ci_tokens or {})
        done, env = provision(
            read_template(repo_root() / "template.yaml"),
            aws,
            parameters={"LogHosts": ",".join(log_hosts), "MailSender": sender},
            secrets={
                "WebhookSecret": keys,
                "CiApiTokensSecret": tokens,
                "UnsubscribeSecret": {"unsubscribe": unsubscribe_key or secrets.token_hex(24)},
            },
        )
        create_email_identity(aws, sender)
        # The local log server listens on loopback; only this embedded mode allows it.
        env["ALLOW_PRIVATE_ADDRESSES"] = "true"
        _set_mail_out(env, mail_out_dir)
        return LocalStack(
            self.endpoint,
            env,
            done.queue_urls["AnalyzeQueue"],
            done.queue_urls["NotifyQueue"],
            keys,
            tokens,
            done.queue_urls["IncidentsQueue"],
            done.queue_urls["FeedbackQueue"],
            done.queue_urls["ReleaseGateQueue"],
        )

    def resume(self, saved: Mapping[str, Any], log_hosts: list[str], mail_out_dir: Path | None) -> LocalStack:
        """The stack of a restored state (`serve --state`), re-pointed at this endpoint and at
        this start's log hosts and mail directory; the functions' environment is set."""
        old = str(saved["endpoint"])
        env = {k: v.replace(old, self.endpoint) for k, v in saved["env"].items()}
        env["LOG_HOSTS"] = ",".join(log_hosts)
        _set_mail_out(env, mail_out_dir)
        return LocalStack(
            self.endpoint,
            env,
            str(saved["analyze_queue_url"]).replace(old, self.endpoint),
            str(saved["notify_queue_url"]).replace(old, self.endpoint),
            dict(saved["webhook_keys"]),
            dict(saved.get("ci_tokens") or {}),
            *(
                str(saved[name]).replace(old, self.endpoint) if saved.get(name) else None
                for name in ("incidents_queue_url", "feedback_queue_url", "gate_queue_url")
            ),
        )


def _set_mail_out(env: dict[str, str], mail_out_dir: Path | None) -> None:
    """Mail through SES, and also as files when there is a directory; then the functions'
    environment (this process's) is set."""
    env["MAIL_TRANSPORTS"] = "ses,file" if mail_out_dir else "ses"
    env.pop("MAIL_OUT_DIR", None)
    if mail_out_dir:
        env["MAIL_OUT_DIR"] = str(mail_out_dir)
    os.environ.update(env)


def http_api_event(
    source: str, body: bytes, headers: dict[str, str], query: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The API Gateway HTTP API (v2) event for `POST /hooks/{source}`."""
    return http_route_event(
        "POST", f"/hooks/{source}", "POST /hooks/{source}", body, headers, query, {"source": source}
    )


def http_route_event(
    method: str,
    path: str,
    route_key: str,
    body: bytes,
    headers: dict[str, str],
    query: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API (v2) event of one request to a route."""
    now = int(time.time() * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", "citriage-local"),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "timeEpoch": now,
        },
        "pathParameters": dict(path_parameters or {}),
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


class HandlerPool:
    """Instances of one function, each handling one request at a time, as Lambda's concurrent
    execution environments do: a request holds one instance, never the others (the handler
    module keeps per-request state, Powertools' resolver)."""

    def __init__(self, name: str, size: int, root: Path | None = None) -> None:
        self._idle: queue.Queue[Handler] = queue.Queue()
        for _ in range(size):
            self._idle.put(load_handler(name, root))

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Invoke an idle instance (waiting for one when all are busy)."""
        handler = self._idle.get()
        try:
            return handler(event, context)
        finally:
            self._idle.put(handler)


def _acknowledge(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"batchItemFailures": []}


class HandlerChain:
    """Drives the real handlers: webhook -> analyze queue -> analyze -> bus -> notify queue -> notify.

    `webhooks` instances of the webhook and unsubscribe functions take requests concurrently.
    """

    def __init__(self, stack: LocalStack, root: Path | None = None, webhooks: int = 1) -> None:
        self.stack = stack
        self.webhook = HandlerPool("webhook", webhooks, root)
        self.analyze = load_handler("analyze", root)
        self.notify = load_handler("notify", root)
        self.incidents = load_handler("incidents", root)
        self.feedback = load_handler("feedback", root)
        # With no gate configured (the template makes none then), its queue is only emptied.
        self.gate = load_handler("gate", root) if os.environ.get("RELEASE_GATE_URL") else _acknowledge
        self.unsubscribe = HandlerPool("unsubscribe", 1, root)
        self._sqs = AwsClients().sqs

    def post(
        self, source: str, body: bytes, headers: dict[str, str], query: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Invoke the webhook function as API Gateway would; return status and JSON body."""
        event = http_api_event(source, body, headers, query)
        response = self.webhook(event, LambdaContext("WebhookFunction"))
        return int(response["statusCode"]), json.loads(response.get("body") or "{}")

    def upload_request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Invoke the webhook function's upload routes as API Gateway would (404 off them)."""
        segments = path.strip("/").split("/")
        route = {
            ("POST", 1): "POST /uploads",
            ("GET", 2): "GET /uploads/{upload_id}",
            ("POST", 3): "POST /uploads/{upload_id}/complete",
        }.get((method, len(segments)))
        if segments[0] != "uploads" or route is None or (len(segments) == 3 and segments[2] != "complete"):
            return 404, {"message": "not found"}
        parameters = {"upload_id": segments[1]} if len(segments) > 1 else {}
        event = http_route_event(method, path, route, body, headers, None, parameters)
        response = self.webhook(event, LambdaContext("WebhookFunction"))
        return int(response["statusCode"]), json.loads(response.get("body") or "{}")

    def unsubscribe_request(self, method: str, query: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """Invoke the unsubscribe function as API Gateway would; return status and HTML page."""
        event = http_route_event(method, "/unsubscribe", f"{method} /unsubscribe", body, {}, query)
        response = self.unsubscribe(event, LambdaContext("UnsubscribeFunction"))
        return int(response["statusCode"]), str(response.get("body") or "")

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
        """Analyse everything queued, then notify; recheck the held runs of closed incidents
        (and mail the runs that released); fill buildsets and answer their CI (and the release
        gate, when one is configured). Returns (runs analysed, events notified)."""
        analysed = self.drain(self.stack.analyze_queue_url, self.analyze, "AnalyzeFunction")
        notified = self.drain(self.stack.notify_queue_url, self.notify, "NotifyFunction")
        if self.stack.incidents_queue_url and self.drain(
            self.stack.incidents_queue_url, self.incidents, "IncidentsFunction"
        ):
            notified += self.drain(self.stack.notify_queue_url, self.notify, "NotifyFunction")
        self.answer_pending()
        return analysed, notified

    def answer_pending(self) -> int:
        """Work the feedback queue until it is empty (a buildset's last run puts its
        BuildsetAnalyzed there), then the release gate's queue; returns the events done."""
        done = 0
        if self.stack.feedback_queue_url:
            while worked := self.drain(self.stack.feedback_queue_url, self.feedback, "FeedbackFunction"):
                done += worked
        if self.stack.gate_queue_url:
            done += self.drain(self.stack.gate_queue_url, self.gate, "ReleaseGateFunction")
        return done

    def buildset_round(self) -> dict[str, Any]:
        """FeedbackFunction's scheduled round (buildsets past their deadline), then the answers."""
        outcome = self.feedback(
            {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}},
            LambdaContext("FeedbackFunction"),
        )
        self.answer_pending()
        return dict(outcome)

    def incident_round(self) -> dict[str, Any]:
        """IncidentsFunction's scheduled round (quiet incidents, unannounced changes, held runs
        past their limit), then the mails it led to."""
        outcome = self.incidents(
            {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}},
            LambdaContext("IncidentsFunction"),
        )
        self.drain(self.stack.notify_queue_url, self.notify, "NotifyFunction")
        if self.stack.incidents_queue_url:
            self.drain(self.stack.incidents_queue_url, self.incidents, "IncidentsFunction")
            self.drain(self.stack.notify_queue_url, self.notify, "NotifyFunction")
        return dict(outcome)
