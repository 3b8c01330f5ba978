"""Each port's in-memory fake and its real adapter on the embedded AWS endpoint, side by side.

Every test in this folder takes one of these fixtures and runs once per implementation, with the
same cases: a fake that drifts from the adapter it stands for fails here, not in production.
Each pair also supplies what a test needs to observe or steer it (the clock, what was sent).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from citriage.adapters.aws.buildsets import BuildsetStore
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.dynamodb import (
    CursorStore,
    DedupeStore,
    HistoryStore,
    RunStore,
    SubscriptionStore,
    SuppressionStore,
)
from citriage.adapters.aws.events import EventPublisher
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.adapters.aws.secrets import SecretKeys
from citriage.adapters.aws.ses import SesTransport
from citriage.adapters.aws.sqs import RunQueue
from citriage.adapters.aws.uploads import UploadStore
from citriage.models import RunAnalyzed, RunEvent

from tests.unit.fakes import (
    FakeBuildsets,
    FakeCursors,
    FakeDedupe,
    FakePublisher,
    FakeQueue,
    FakeReports,
    FakeTokens,
    FakeTransport,
    FakeUploads,
)
from tests.unit.mail_fakes import FakeHistory, FakeSuppressions

IMPLEMENTATIONS = ["fake", "real"]


@pytest.fixture(params=IMPLEMENTATIONS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def aws(kind: str, request: pytest.FixtureRequest) -> AwsClients | None:
    """The embedded endpoint's clients (fresh resources) for `real`; nothing for `fake`."""
    if kind == "fake":
        return None
    request.getfixturevalue("stack")
    return AwsClients()


def env(name: str) -> str:
    import os  # the stack fixture set the functions' environment

    return os.environ[name]


@dataclass
class Clocked:
    """A port whose leases depend on time, and a way to move that time."""

    port: Any
    advance: Callable[[float], None]


@pytest.fixture
def dedupe(kind: str, aws: AwsClients | None) -> Clocked:
    now = [1_000_000.0]
    if aws is None:
        fake = FakeDedupe()
        fake.now = now[0]

        def advance_fake(seconds: float) -> None:
            fake.now += seconds

        return Clocked(fake, advance_fake)

    def advance(seconds: float) -> None:
        now[0] += seconds

    return Clocked(DedupeStore(aws.table(env("DEDUPE_TABLE")), clock=lambda: now[0]), advance)


@dataclass
class Observed:
    """A port, and what has reached the other side of it."""

    port: Any
    arrived: Callable[[], list[Any]]


@pytest.fixture
def queue(aws: AwsClients | None) -> Observed:
    if aws is None:
        fake = FakeQueue()
        return Observed(fake, lambda: list(fake.sent))
    url = env("ANALYZE_QUEUE_URL")

    def received() -> list[RunEvent]:
        messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [RunEvent.model_validate_json(m["Body"]) for m in messages]

    return Observed(RunQueue(aws.sqs, url), received)


@pytest.fixture
def publisher(aws: AwsClients | None) -> Observed:
    if aws is None:
        fake = FakePublisher()
        return Observed(fake, lambda: list(fake.events))
    # The stack's rule routes RunAnalyzed to the notify queue, as template.yaml declares.
    queue_url = aws.sqs.get_queue_url(QueueName="citriage-notify")["QueueUrl"]

    def delivered() -> list[RunAnalyzed]:
        messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [RunAnalyzed.model_validate(json.loads(m["Body"])["detail"]) for m in messages]

    return Observed(EventPublisher(aws.events, env("EVENT_BUS_NAME")), delivered)


@dataclass
class Uploadable:
    """The uploads bucket, and a job's PUT of an archive into it."""

    port: Any
    put: Callable[[str, bytes], None]


@pytest.fixture
def uploads(aws: AwsClients | None) -> Uploadable:
    """The uploads bucket, and how a job's PUT reaches it (over HTTP to the presigned URL, for real)."""
    if aws is None:
        fake = FakeUploads()
        return Uploadable(fake, fake.put_archive)
    import requests  # only the real adapter is reached over HTTP

    store = UploadStore(aws.s3, env("UPLOADS_BUCKET"))

    def put(upload_id: str, data: bytes) -> None:
        url, headers = store.presign_archive(upload_id, len(data), 60)
        requests.put(url, data=data, headers=headers, timeout=30).raise_for_status()

    return Uploadable(store, put)


@pytest.fixture
def buildsets(aws: AwsClients | None) -> Any:
    return FakeBuildsets() if aws is None else BuildsetStore(aws.table(env("BUILDSETS_TABLE")))


@pytest.fixture
def reports(aws: AwsClients | None) -> Any:
    return FakeReports() if aws is None else RunStore(aws.table(env("RUNS_TABLE")))


@pytest.fixture
def history(aws: AwsClients | None) -> Any:
    return FakeHistory() if aws is None else HistoryStore(aws.table(env("RUNS_TABLE")))


@pytest.fixture
def cursors(aws: AwsClients | None) -> Any:
    return FakeCursors() if aws is None else CursorStore(aws.table(env("DEDUPE_TABLE")))


@dataclass
class Seeded:
    """A read port, and how to put items behind it (the CLI's or the SES handler's writes)."""

    port: Any
    add: Callable[[Any], None]


@pytest.fixture
def known_issues(aws: AwsClients | None) -> Seeded:
    if aws is None:
        from tests.unit.fakes import FakeList  # only this fixture needs it

        fake = FakeList([])
        return Seeded(fake, fake.items.append)
    store = KnownIssueStore(aws.table(env("KNOWN_ISSUES_TABLE")))
    return Seeded(store, store.put)


@pytest.fixture
def subscriptions(aws: AwsClients | None) -> Seeded:
    if aws is None:
        from tests.unit.fakes import FakeList  # only this fixture needs it

        fake = FakeList([])
        return Seeded(fake, fake.items.append)
    store = SubscriptionStore(aws.table(env("SUBSCRIPTIONS_TABLE")))
    return Seeded(store, store.put)


@pytest.fixture
def suppressions(aws: AwsClients | None) -> Seeded:
    if aws is None:
        fake = FakeSuppressions(set())
        return Seeded(fake, lambda s: fake.emails.add(s.email.lower()))
    store = SuppressionStore(aws.table(env("SUPPRESSIONS_TABLE")))
    return Seeded(store, store.add)


@pytest.fixture
def secrets(aws: AwsClients | None) -> Seeded:
    """Both secret ports (webhook keys, CI API tokens) read one JSON secret."""
    if aws is None:
        fake = FakeTokens({})

        def add_fake(entry: tuple[str, object]) -> None:
            fake.entries[entry[0]] = entry[1]

        class Both(FakeTokens):
            def key_for(self, source: str) -> str | None:
                value = self.entries.get(source)
                return value if isinstance(value, str) and value else None

        both = Both(fake.entries)
        return Seeded(both, add_fake)
    arn = env("CI_TOKENS_SECRET_ARN")
    values: dict[str, object] = {}

    def add(entry: tuple[str, object]) -> None:
        values[entry[0]] = entry[1]
        aws.secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps(values))

    return Seeded(SecretKeys(arn, max_age=0), add)


@pytest.fixture
def transport(aws: AwsClients | None) -> Observed:
    if aws is None:
        fake = FakeTransport()
        return Observed(fake, lambda: [r for r, _ in fake.sent])
    import boto3  # SES v1's quota is how moto tells what SES sent

    ses = boto3.client("ses")
    return Observed(SesTransport(aws.sesv2), lambda: ["sent"] * int(ses.get_send_quota()["SentLast24Hours"]))
