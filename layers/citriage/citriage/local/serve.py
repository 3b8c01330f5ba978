"""`citriage serve`: the webhook routes, the query API and the dashboard on localhost, over the
embedded AWS endpoint, with the queue worker running in-process, so a CI can be pointed at a
laptop (no AWS account, no Docker).

`POST /hooks/{source}` goes to the real webhook handler exactly as API Gateway would deliver it
(several at once, each on its own instance of the function); the query routes go through the
real authorizer to the real query function (citriage.local.gateway), and `GET /` is the
dashboard; a background thread works the analyze and notify queues with the real handlers; mail
is written as `.eml` and `.html` files under the output directory. `GET /healthz` answers 200.
An admin token for the API is made on the first start and written to `<out>/api-token`.

With a state directory (the default, `<out>/state`) the tables, queues and keys survive a
restart, and a 202 is only answered once the queued run is on disk (citriage.local.state).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.dynamodb import DedupeStore
from citriage.local.embedded import (
    EmbeddedAws,
    HandlerChain,
    HandlerPool,
    LocalStack,
    load_handler,
)
from citriage.local.gateway import QueryGateway
from citriage.local.loopback import serve_directory
from citriage.local.seed import seed_tables
from citriage.local.state import StateKeeper, release_in_flight
from citriage.models.query import TokenScope
from citriage.wiring import token_store

# Bodies larger than this are refused before they are read (the webhook's own limit is lower).
MAX_REQUEST_BYTES = 4 * 1024 * 1024
# Webhook requests handled at once (instances of the webhook function).
WEBHOOK_INSTANCES = 4
# Query requests handled at once (instances of the query function).
QUERY_INSTANCES = 2
SERVE_ENV = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass
class ServeOptions:
    """What `citriage serve` was asked for."""

    host: str = "127.0.0.1"
    port: int = 8080
    out_dir: Path = Path("out")
    log_hosts: list[str] = field(default_factory=list)
    serve_logs: Path | None = None
    known_issues: Path | None = None
    subscriptions: Path | None = None
    sender: str = "citriage@example.org"
    poll_seconds: float = 1.0
    # JSON object source -> key, so a CI configured once keeps working across restarts.
    keys_file: Path | None = None
    # JSON, the CI API tokens secret's shape (source -> host -> credential): reading CI APIs, rechecks.
    ci_tokens_file: Path | None = None
    # How often IncidentsFunction's and FeedbackFunction's scheduled rounds run (5 minutes in AWS).
    round_seconds: float = 60.0
    # Reviews go to this Gerrit instead of the one in each change URL.
    gerrit_url: str | None = None
    # Where tables, queues and keys are kept across restarts; None keeps them in memory only.
    state_dir: Path | None = None
    # Replay the bundled Zuul events from this directory at start (their logs are served too).
    demo_events: Path | None = None


@dataclass
class ServeInfo:
    """Where the server listens, the keys a CI signs with, and the API token file."""

    url: str
    webhook_keys: dict[str, str]
    log_server: str | None
    token_file: Path | None = None


class QueueWorker(threading.Thread):
    """Works the analyze and notify queues until stopped, as Lambda's SQS pollers would."""

    def __init__(
        self,
        chain: HandlerChain,
        poll_seconds: float,
        report: Callable[[str], None],
        commit: Callable[[], None] | None = None,
        round_seconds: float = 60.0,
    ) -> None:
        super().__init__(name="citriage-queue-worker", daemon=True)
        self._chain = chain
        self._poll = poll_seconds
        self._round_seconds = round_seconds
        self._report = report
        self._commit = commit
        self.stopping = threading.Event()

    def run(self) -> None:
        """Drain the queues, then wait a moment; every `round_seconds`, the incidents' scheduled
        round too. A failing round is reported, not fatal."""
        next_round = time.monotonic() + self._round_seconds
        while not self.stopping.is_set():
            try:
                analysed, notified = self._chain.run_pending()
                if time.monotonic() >= next_round:
                    next_round = time.monotonic() + self._round_seconds
                    self._rounded(self._chain.incident_round())
                    self._chain.buildset_round()
                if self._commit and (analysed or notified):
                    self._commit()
            except Exception as exc:  # the worker must outlive one bad round; it says why
                self._report(f"queue worker: {type(exc).__name__}: {exc}")
            else:
                if analysed or notified:
                    self._report(f"analysed {analysed} run(s), notified {notified} event(s)")
            self.stopping.wait(self._poll)

    def _rounded(self, outcome: dict[str, Any]) -> None:
        done = {k: v for k, v in outcome.items() if k != "announced" and v}
        if done:
            self._report(f"incident round: {json.dumps(done)}")
        if self._commit:
            self._commit()


def _handler(
    chain: HandlerChain, gateway: QueryGateway, commit: Callable[[], None]
) -> type[BaseHTTPRequestHandler]:
    class WebhookHandler(BaseHTTPRequestHandler):
        """The HTTP API's routes, handed to the real webhook handler."""

        server_version = "citriage-serve"
        # A client that stops sending mid-body frees its thread after this many seconds.
        timeout = 30

        def do_GET(self) -> None:
            """`/healthz`, `/unsubscribe` (the confirmation page), the query API and the
            dashboard; anything else is 404."""
            parts = urlsplit(self.path)
            if gateway.serves(parts.path):
                self._raw(*gateway.request("GET", parts.path, parts.query, dict(self.headers.items())))
            elif parts.path == "/healthz":
                self._reply(200, {"status": "ok"})
            elif parts.path.startswith("/uploads/"):
                self._reply(*chain.upload_request("GET", parts.path, dict(self.headers.items()), b""))
            elif parts.path == "/unsubscribe":
                self._unsubscribe("GET", parts.query, b"")
            else:
                self._reply(404, {"message": "not found; webhooks are POST /hooks/<source>"})

        def _unsubscribe(self, method: str, query: str, body: bytes) -> None:
            status, page = chain.unsubscribe_request(method, dict(parse_qsl(query)), body)
            if status < 300:
                commit()
            data = page.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            """`/hooks/<source>` and `/uploads…`: the body, headers and query go to the webhook
            function; `/unsubscribe`: a one-click unsubscribe (RFC 8058)."""
            parts = urlsplit(self.path)
            segments = parts.path.strip("/").split("/")
            if gateway.serves(parts.path):
                self._raw(*gateway.request("POST", parts.path, parts.query, dict(self.headers.items())))
                return
            if parts.path == "/unsubscribe":
                length = min(int(self.headers.get("Content-Length") or 0), 4096)
                self._unsubscribe("POST", parts.query, self.rfile.read(length))
                return
            hook = len(segments) == 2 and segments[0] == "hooks" and segments[1]
            if not hook and segments[0] != "uploads":
                self._reply(404, {"message": "not found; webhooks are POST /hooks/<source>"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_REQUEST_BYTES:
                self._reply(
                    413, {"message": f"body must be 0..{MAX_REQUEST_BYTES} bytes with a Content-Length"}
                )
                return
            body = self.rfile.read(length)
            headers = dict(self.headers.items())
            if hook:
                status, response = chain.post(segments[1], body, headers, dict(parse_qsl(parts.query)))
            else:  # an upload's ticket or completion (`citriage submit`)
                status, response = chain.upload_request("POST", parts.path, headers, body)
            if status < 300:
                # What was accepted is on disk before the CI hears so.
                commit()
            self._reply(status, response)

        def _reply(self, status: int, document: dict[str, Any]) -> None:
            self._raw(status, "application/json", json.dumps(document).encode("utf-8"))

        def _raw(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # the stdlib's parameter name
            """One line per request on stderr, without the client's address noise."""
            sys.stderr.write(
                f"{self.command} {self.path.split('?', 1)[0]} -> {args[1] if len(args) > 1 else ''}\n"
            )

    return WebhookHandler


class _Server(ThreadingHTTPServer):
    """The HTTP server, with a listen backlog for a CI's bursts (socketserver's default is 5)."""

    request_queue_size = 256
    daemon_threads = True


def _read_keys(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise ValueError(f"{path}: expected a JSON object of source -> key")
    return {str(k): str(v) for k, v in data.items()}


def serve(
    options: ServeOptions,
    on_ready: Callable[[ServeInfo], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run until interrupted (or `stop` is set); returns the exit status."""
    os.environ.update(SERVE_ENV)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    state = StateKeeper(options.state_dir) if options.state_dir else None
    saved = state.load() if state else None
    aws = EmbeddedAws(wrap=state.gate.wrap if state else None)
    aws.start()
    with ExitStack() as cleanup:
        cleanup.callback(aws.stop)
        log_server = None
        hosts = list(options.log_hosts)
        if options.serve_logs:
            log_server = cleanup.enter_context(serve_directory(options.serve_logs))
            hosts.append(log_server)
        keys = _read_keys(options.keys_file) if options.keys_file else None
        stack = _stack(aws, saved, options, hosts, keys)
        seed_tables(stack.env, AwsClients(), options.known_issues, options.subscriptions)
        commit: Callable[[], None] = _nothing if state is None else state.commit
        if state is not None:
            state.stack = asdict(stack)
            state.start()
            cleanup.callback(state.stop)
            commit()
        chain = HandlerChain(stack, webhooks=WEBHOOK_INSTANCES)
        gateway = QueryGateway(HandlerPool("query", QUERY_INSTANCES), load_handler("authorizer"))
        token_file = _api_token(stack, options.out_dir, commit)
        httpd = _Server((options.host, options.port), _handler(chain, gateway, commit))
        cleanup.callback(httpd.server_close)
        worker = QueueWorker(
            chain, options.poll_seconds, lambda line: print(line, flush=True), commit, options.round_seconds
        )
        worker.start()
        cleanup.callback(worker.join)
        cleanup.callback(worker.stopping.set)
        host, port = httpd.server_address[:2]
        info = ServeInfo(f"http://{host!s}:{port}", stack.webhook_keys, log_server, token_file)
        _announce(info, options, stack)
        if on_ready:
            on_ready(info)
        server_thread = threading.Thread(target=httpd.serve_forever, name="citriage-serve", daemon=True)
        server_thread.start()
        if options.demo_events and log_server:
            _replay_demo(chain, options.demo_events, log_server, commit)
        cleanup.callback(server_thread.join)
        cleanup.callback(httpd.shutdown)
        stopping = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a service manager, or a shell job's kill) stops as cleanly as Ctrl-C.
            signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
        with suppress(KeyboardInterrupt):
            stopping.wait()
        print("stopping", flush=True)
    return 0


def _nothing() -> None:
    """No state directory: nothing to commit."""


def _stack(
    aws: EmbeddedAws,
    saved: dict[str, Any] | None,
    options: ServeOptions,
    hosts: list[str],
    keys: dict[str, str] | None,
) -> LocalStack:
    """The stack: resumed from the state directory, or provisioned afresh."""
    out_dir = options.out_dir.resolve()
    hosts = [*hosts, options.gerrit_url] if options.gerrit_url else hosts
    if saved is None:
        tokens = json.loads(options.ci_tokens_file.read_text("utf-8")) if options.ci_tokens_file else None
        if tokens is not None and not isinstance(tokens, dict):
            raise ValueError(
                f"{options.ci_tokens_file}: expected a JSON object of source -> host -> credential"
            )
        if options.gerrit_url and keys and keys.get("gerrit") and not (tokens or {}).get("gerrit"):
            # The --keys file's gerrit entry (user:http-password) is the test Gerrit's credential.
            tokens = (tokens or {}) | {"gerrit": {urlsplit(options.gerrit_url).netloc: keys["gerrit"]}}
        return _reviews_to(options.gerrit_url, aws.provision(options.sender, hosts, out_dir, keys, tokens))
    stack = aws.resume(saved, hosts, out_dir)
    if keys and any(stack.webhook_keys.get(source) != key for source, key in keys.items()):
        print(f"note: the webhook keys kept in {options.state_dir} are used, not those of --keys", flush=True)
    # What the killed process had started and not finished is nobody's now: its messages are
    # visible again and its leases (intake, analysis, mail) end, so the retries go ahead at once.
    released = release_in_flight()
    ended = DedupeStore(AwsClients().table(stack.env["DEDUPE_TABLE"])).end_pending_leases()
    print(
        f"resumed from {options.state_dir}: {released} unfinished message(s) requeued, "
        f"{ended} unfinished claim(s) released",
        flush=True,
    )
    return _reviews_to(options.gerrit_url, stack)


def _reviews_to(gerrit_url: str | None, stack: LocalStack) -> LocalStack:
    """With --gerrit-url, FeedbackFunction posts its reviews to that Gerrit (for this start)."""
    if gerrit_url:
        stack.env["GERRIT_URL"] = gerrit_url
        os.environ["GERRIT_URL"] = gerrit_url
    return stack


def _api_token(stack: LocalStack, out_dir: Path, commit: Callable[[], None]) -> Path:
    """An admin token for the local API, made once and kept in `<out>/api-token` (0600)."""
    path = out_dir / "api-token"
    tokens = token_store(stack.env["TOKENS_TABLE"], AwsClients())
    if path.is_file() and tokens.verify(path.read_text("utf-8").strip()) is not None:
        return path
    token, _ = tokens.create("citriage serve", TokenScope.ADMIN)
    commit()
    path.touch(mode=0o600)
    path.write_text(token + "\n", "utf-8")
    return path


def _replay_demo(chain: HandlerChain, events: Path, log_server: str, commit: Callable[[], None]) -> None:
    """`serve --demo`: the bundled Zuul events as if their builds had just ended; the worker
    analyses them, so the dashboard has runs to show at once."""
    from citriage.local.demo import post_bundled  # noqa: PLC0415  # only --demo replays

    payloads = sorted((events / "zuul").glob("*.json"))
    run_ids = post_bundled(
        chain, chain.stack.webhook_keys["zuul"], payloads, log_server, timedelta(minutes=5)
    )
    commit()
    print(
        f"demo: {len(run_ids or [])} bundled Zuul run(s) queued; the dashboard shows them once analysed",
        flush=True,
    )


def _announce(info: ServeInfo, options: ServeOptions, stack: LocalStack) -> None:
    """Where everything is: printed, and the public URL set for the functions."""
    # Mails link to this server's unsubscribe route (the functions read it on first use).
    os.environ["PUBLIC_API_URL"] = info.url
    _print_banner(info, options)
    _print_tables(stack)


def _print_tables(stack: LocalStack) -> None:
    """How another shell's `citriage tokens|known-issues|subscriptions` reaches these tables."""
    names = ("TOKENS_TABLE", "KNOWN_ISSUES_TABLE", "SUBSCRIPTIONS_TABLE")
    env = {
        "AWS_ENDPOINT_URL": stack.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    } | {name: stack.env[name] for name in names if name in stack.env}
    print("tables: " + " ".join(f"{k}={v}" for k, v in env.items()), flush=True)


def _print_banner(info: ServeInfo, options: ServeOptions) -> None:
    print(f"citriage serve: listening on {info.url} (POST /hooks/<source>)", flush=True)
    print(f"dashboard: {info.url}/  (its token, and the client's: {info.token_file})", flush=True)
    print(
        f"client: CITRIAGE_TOKEN=$(cat {info.token_file}) citriage --from {info.url} run search",
        flush=True,
    )
    if info.log_server:
        print(f"log server: {info.log_server} (serving {options.serve_logs})", flush=True)
    print(f"mail is written under {options.out_dir}/", flush=True)
    print("webhook keys (HMAC key, or token for jenkins and gitlab):", flush=True)
    for source, key in sorted(info.webhook_keys.items()):
        print(f"  {source:8} {key}", flush=True)
