"""`citriage serve --state DIR`: the embedded AWS's tables, queues, bus and secrets kept on disk,
so that a killed `serve` loses no run it answered 202 for and, restarted, mails none twice.

Every request to the embedded endpoint passes a gate. A snapshot closes the gate (waiting for
the requests inside to finish), pickles the moto backends, opens the gate again, and writes the
file atomically (a temporary file, fsync, rename, fsync of the directory). `commit()` returns
once a snapshot begun after it was called is on disk: `serve` calls it after the webhook
function queued a run and before answering 202, and the queue worker after each round. Requests
waiting at the same time share one snapshot (group commit).

On restart the snapshot is loaded before the endpoint starts, and the messages the killed
process had received but not finished are made visible again at once (nothing works on them).
A mail sent just before the kill and not yet marked sent is sent again by the retry; the file
transport then finds its file and does not write it twice.

The snapshot is a pickle: it is only ever loaded from a directory the user owns and that nobody
else may write (`StateKeeper` refuses any other).
"""

from __future__ import annotations

import _thread
import io
import os
import pickle
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from citriage.errors import CitriageError

SNAPSHOT = "aws-state.pickle"
# The moto services template.yaml's resources live in (and local mode's sender identity).
SERVICES = ("dynamodb", "sqs", "events", "secretsmanager", "sesv2", "ses", "s3")
_FORMAT = 1


class StateError(CitriageError):
    """A state directory that cannot be used."""


class Gate:
    """Requests share the gate; a snapshot holds it alone. A waiting snapshot goes first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0
        self._closed = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Held by one request to the endpoint."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._inside += 1
        try:
            yield
        finally:
            with self._cond:
                self._inside -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        """Held by a snapshot: no request is half done meanwhile."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._closed = True
            while self._inside:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()

    def wrap(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """A WSGI application that answers each request inside the gate, body included."""

        def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            with self.shared():
                return list(app(environ, start_response))

        return gated


class _Pickler(pickle.Pickler):
    """Locks are not state: they come back new."""

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, type(threading.RLock())):
            return threading.RLock, ()
        if isinstance(obj, _thread.LockType):
            return threading.Lock, ()
        return NotImplemented


def _backends() -> dict[str, Any]:
    from moto.backends import get_backend  # noqa: PLC0415  # moto is only needed in local mode

    return {name: get_backend(name) for name in SERVICES}  # type: ignore[call-overload]  # names moto knows


def _check_private(path: Path) -> None:
    """Refuse what another user owns or may write: loading it would run their code."""
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateError(f"{path} is not private to this user (owner or group/other write): not loaded")


class StateKeeper:
    """Snapshots of the embedded AWS in a directory, taken on demand by a background thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.gate = Gate()
        self.stack: dict[str, Any] = {}
        self._cond = threading.Condition()
        self._begun = 0
        self._wanted = 0
        self._durable = 0
        self._failure: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="citriage-state", daemon=True)

    def load(self) -> dict[str, Any] | None:
        """Put the saved state into moto (before the endpoint starts); return the saved stack,
        or None when the directory holds no state yet (it is created, private)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(self.directory)
        path = self.directory / SNAPSHOT
        if not path.exists():
            return None
        _check_private(path)
        with path.open("rb") as source:
            saved = pickle.load(source)  # noqa: S301  # a private file this program wrote (checked above)
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            raise StateError(
                f"{path} was written by another version of citriage; move it away to start afresh"
            )
        live = _backends()
        for name, backend in saved["backends"].items():
            live[name].clear()
            live[name].update(backend)
        self.stack = dict(saved["stack"])
        return self.stack

    def start(self) -> None:
        """Start taking snapshots on demand."""
        self._thread.start()

    def commit(self, timeout: float = 60.0) -> None:
        """Return once everything done before this call is on disk."""
        with self._cond:
            target = self._begun + 1
            self._wanted = max(self._wanted, target)
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._durable >= target or self._failure is not None, timeout):
                raise StateError(f"the state could not be written to {self.directory} within {timeout:.0f} s")
            if self._failure is not None:
                raise StateError(f"the state could not be written to {self.directory}: {self._failure}")

    def stop(self) -> None:
        """Take a last snapshot, then stop."""
        if self._thread.is_alive():
            self.commit()
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wanted > self._begun or self._stopping)
                if self._stopping:
                    return
                self._begun += 1
                number = self._begun
            try:
                self._write(self._snapshot())
            except Exception as exc:  # said to every waiting commit, which fails its request
                with self._cond:
                    self._failure = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._durable = number
                self._cond.notify_all()

    def _snapshot(self) -> bytes:
        buffer = io.BytesIO()
        with self.gate.alone():
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
                {"format": _FORMAT, "stack": self.stack, "backends": _backends()}
            )
        return buffer.getvalue()

    def _write(self, data: bytes) -> None:
        path = self.directory / SNAPSHOT
        temporary = path.with_name(f".{SNAPSHOT}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def release_in_flight() -> int:
    """Make visible at once the messages a killed process had received and not finished;
    returns how many. (Through the SQS API: moto's objects only say which they are.)"""
    from citriage.adapters.aws.clients import AwsClients  # noqa: PLC0415

    sqs = AwsClients().sqs
    released = 0
    for account in _backends()["sqs"].values():
        for backend in account.values():
            for queue in list(backend.queues.values()):
                url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
                for message in list(queue._messages):  # which are in flight: moto says only here
                    if not message.visible and message.receipt_handle:
                        sqs.change_message_visibility(
                            QueueUrl=url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0
                        )
                        released += 1
    return released
