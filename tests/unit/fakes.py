"""In-memory fakes of the ports the services take (no AWS, no network)."""

from __future__ import annotations

from typing import Any

from citriage.models import (
    KnownIssue,
    MailMessage,
    RunAnalyzed,
    RunEvent,
    RunReport,
    Subscription,
    SweepCursor,
)


class FakeKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    def key_for(self, source: str) -> str | None:
        return self.keys.get(source)


class FakeDedupe:
    """Claims as DedupeStore keeps them: final, or pending under a lease until completed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.claims: dict[str, float | None] = {}  # key -> lease end (None: final)

    @property
    def keys(self) -> set[str]:
        return set(self.claims)

    def claim(self, key: str, lease_seconds: int | None = None) -> bool:
        if key in self.claims:
            lease_end = self.claims[key]
            if lease_end is None or lease_end >= self.now:
                return False
        self.claims[key] = None if lease_seconds is None else self.now + lease_seconds
        return True

    def complete(self, key: str) -> None:
        self.claims[key] = None

    def is_pending(self, key: str) -> bool:
        return self.claims.get(key) is not None

    def release(self, key: str) -> None:
        self.claims.pop(key, None)


class FakeQueue:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[RunEvent] = []
        self.fail = fail

    def send(self, run: RunEvent) -> None:
        if self.fail:
            raise ConnectionError("queue down")
        self.sent.append(run)


class FakeReports:
    def __init__(self) -> None:
        self.reports: dict[str, RunReport] = {}

    def get_report(self, run_id: str) -> RunReport | None:
        return self.reports.get(run_id)

    def put_report(self, report: RunReport) -> None:
        self.reports[report.run_id] = report


class FakeList:
    def __init__(self, items: list[Subscription] | list[KnownIssue]) -> None:
        self.items = items

    def list(self, problems=None):  # type: ignore[no-untyped-def]
        return list(self.items)

    def version(self) -> str | None:
        """Changes whenever the items do (None while there are none), like the table's item."""
        return repr(self.items) if self.items else None


class FakeTransport:
    def __init__(self, fail_for: set[str] | None = None) -> None:
        self.sent: list[tuple[str, MailMessage]] = []
        self.fail_for = fail_for or set()

    def send(self, message: MailMessage, recipient: str) -> str:
        if recipient in self.fail_for:
            raise ConnectionError("throttled")
        self.sent.append((recipient, message))
        return f"id-{len(self.sent)}"


class FakeTokens:
    """The CI API tokens secret: each source's raw entry (host -> credential, or a string)."""

    def __init__(self, entries: dict[str, object]) -> None:
        self.entries = entries

    def entry_for(self, source: str) -> object:
        return self.entries.get(source)


class FakeCursors:
    """Sweep cursors as CursorStore keeps them: one per job, replaced on each put."""

    def __init__(self) -> None:
        self.items: dict[str, SweepCursor] = {}

    def get(self, job_key: str) -> SweepCursor:
        return self.items.get(job_key, SweepCursor()).model_copy()

    def put(self, job_key: str, cursor: SweepCursor) -> None:
        self.items[job_key] = cursor.model_copy()


class FakePublisher:
    """The bus: keeps each RunAnalyzed event it was given."""

    def __init__(self) -> None:
        self.events: list[RunAnalyzed] = []
        self.incident_events: list[tuple[str, str]] = []
        self.released: list = []
        self.buildsets: list = []

    def run_analyzed(self, report: RunReport) -> None:
        self.events.append(RunAnalyzed.from_report(report))

    def incident_changed(self, incident, change) -> None:
        self.incident_events.append((change.value, incident.id))

    def run_released(self, released) -> None:
        self.released.append(released)

    def buildset_analyzed(self, event) -> None:
        self.buildsets.append(event)


class FakeBuildsets:
    """The buildsets table in memory (the Buildsets port)."""

    def __init__(self) -> None:
        self.heads: dict[str, Any] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.open: set[tuple[Any, str]] = set()

    def record(self, key, member, now, deadline):
        from citriage.models.buildset import Buildset

        if key.id not in self.heads:
            self.heads[key.id] = Buildset(**key.model_dump(), started_at=now, deadline=deadline)
        head = self.heads[key.id]
        if head.published is None:
            self.open.add((head.deadline, key.id))
        self.members.setdefault(key.id, {})[member.run_id] = member
        return self.get(key.id)

    def get(self, buildset_id):
        head = self.heads.get(buildset_id)
        if head is None:
            return None
        members = [self.members[buildset_id][r] for r in sorted(self.members.get(buildset_id, {}))]
        return head.model_copy(update={"members": members})

    def claim(self, event) -> bool:
        head = self.heads.get(event.id)
        if head is None or head.published is not None:
            return False
        self.heads[event.id] = head.model_copy(update={"published": event})
        return True

    def unclaim(self, buildset_id) -> None:
        self.heads[buildset_id] = self.heads[buildset_id].model_copy(update={"published": None})

    def settle(self, buildset) -> None:
        self.open.discard((buildset.deadline, buildset.id))

    def overdue(self, now, limit=100):
        due = sorted(item for item in self.open if item[0] <= now)[:limit]
        return [self.get(buildset_id) for _, buildset_id in due]


class FakeUploads:
    """The uploads bucket in memory (the Uploads port): `put_archive` plays the job's PUT."""

    def __init__(self) -> None:
        self.runs: dict[str, Any] = {}
        self.archives: dict[str, bytes] = {}
        self.presigned: list[tuple[str, int]] = []

    def location(self, upload_id: str) -> str:
        return f"s3://citriage-uploads/uploads/{upload_id}/archive.tar.gz"

    def presign_archive(self, upload_id: str, size: int, expires_in: int) -> tuple[str, dict[str, str]]:
        self.presigned.append((upload_id, size))
        headers = {"Content-Type": "application/gzip", "Content-Length": str(size)}
        return f"https://s3.example.org/uploads/{upload_id}/archive.tar.gz?signed", headers

    def put_run(self, upload_id: str, run) -> None:
        self.runs[upload_id] = run

    def get_run(self, upload_id: str):
        return self.runs.get(upload_id)

    def put_archive(self, upload_id: str, data: bytes) -> None:
        self.archives[upload_id] = data

    def archive_size(self, upload_id: str) -> int | None:
        data = self.archives.get(upload_id)
        return None if data is None else len(data)

    def open_archive(self, upload_id: str, max_bytes: int):
        import io

        from citriage.errors import FetchFailed

        data = self.archives.get(upload_id)
        if data is None or len(data) > max_bytes:
            raise FetchFailed(f"{self.location(upload_id)}: missing or over {max_bytes} bytes")
        return io.BytesIO(data)
