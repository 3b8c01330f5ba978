"""The upload intake: who may upload, what a manifest may say, and a run queued once its archive is in."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from citriage.errors import BadRequest, Forbidden, IntakeInProgress, NotFound, PayloadTooLarge, Unauthorized
from citriage.intake.sources.auth import sign_timestamped
from citriage.intake.uploads import UploadService
from citriage.models import RunReport, TestCounts, Verdict
from citriage.models.query import ApiToken, TokenScope

from tests.unit.fakes import FakeDedupe, FakeKeys, FakeQueue, FakeReports, FakeUploads

KEY = "generic-key"


class Tokens:
    """Two tokens: one that may submit, one that may only read."""

    def verify(self, token: str) -> ApiToken | None:
        scope = {"citr_submit": TokenScope.SUBMIT, "citr_read": TokenScope.READ}.get(token)
        if scope is None:
            return None
        return ApiToken(token_id=token[5:], name=token, scope=scope, created_at=datetime.now(UTC))


def service(max_bytes: int = 1_000_000):
    uploads, queue, reports = FakeUploads(), FakeQueue(), FakeReports()
    svc = UploadService(
        FakeKeys({"generic": KEY}), Tokens(), uploads, FakeDedupe(), queue, reports, max_bytes
    )
    return svc, uploads, queue, reports


def signed(body: bytes) -> dict[str, str]:
    return {"X-Citriage-Signature": sign_timestamped(body, KEY)}


MANIFEST = {"job": "tempest-full-py3", "build_id": "b1", "result": "FAILURE", "size": 1234, "project": "nova"}


def test_a_signed_manifest_gets_a_ticket_and_the_run_is_queued_once_the_archive_is_in():
    svc, uploads, queue, _ = service()
    body = json.dumps(MANIFEST | {"links": {"build": "https://ci.example.org/b1"}}).encode()
    ticket = svc.ticket(signed(body), body)
    assert ticket.run_id == "upload:b1" and ticket.upload_url and ticket.headers["Content-Length"] == "1234"
    assert uploads.presigned == [(ticket.upload_id, 1234)]
    run = uploads.get_run(ticket.upload_id)
    assert (run.source, run.job, run.project, run.web_url) == (
        "upload",
        "tempest-full-py3",
        "nova",
        "https://ci.example.org/b1",
    )
    assert run.log_url == uploads.location(ticket.upload_id)
    # Completing before the archive is there is refused (409), then queues once
    with pytest.raises(IntakeInProgress):
        svc.complete(signed(b""), ticket.upload_id, b"")
    uploads.put_archive(ticket.upload_id, b"x" * 1234)
    first = svc.complete(signed(b""), ticket.upload_id, b"")
    again = svc.complete(signed(b""), ticket.upload_id, b"")
    assert first.accepted == ["upload:b1"] and again.duplicates == ["upload:b1"] and len(queue.sent) == 1
    assert svc.status(signed(b""), ticket.upload_id).state == "queued"


def test_an_analysed_run_gets_no_new_ticket_and_its_status_has_the_verdict():
    svc, uploads, _, reports = service()
    body = json.dumps(MANIFEST).encode()
    ticket = svc.ticket(signed(body), body)
    reports.put_report(
        RunReport(run=uploads.get_run(ticket.upload_id), verdict=Verdict.FAILED_NEW, tests=TestCounts())
    )
    status = svc.status(signed(b""), ticket.upload_id)
    assert (status.state, status.verdict, status.logs_read) == ("analysed", Verdict.FAILED_NEW, True)
    again = svc.ticket(signed(body), body)
    assert again.duplicate and again.upload_url is None and len(uploads.presigned) == 1


def test_who_may_upload():
    svc, *_ = service()
    body = json.dumps(MANIFEST).encode()
    assert svc.ticket({"Authorization": "Bearer citr_submit"}, body).run_id == "upload:b1"
    with pytest.raises(Forbidden):
        svc.ticket({"Authorization": "Bearer citr_read"}, body)
    with pytest.raises(Unauthorized):
        svc.ticket({"Authorization": "Bearer citr_unknown"}, body)
    with pytest.raises(Unauthorized):
        svc.ticket({"X-Citriage-Signature": sign_timestamped(body, "another-key")}, body)
    with pytest.raises(Unauthorized):
        svc.ticket({}, body)
    # A signature is over the body: a manifest changed after signing is refused
    with pytest.raises(Unauthorized):
        svc.ticket(signed(body), body.replace(b"b1", b"b2"))


def test_what_a_manifest_may_say():
    svc, *_ = service(max_bytes=1000)
    for bad, error in (
        (MANIFEST | {"size": 1001}, PayloadTooLarge),
        (MANIFEST | {"extra": 1}, BadRequest),
        (MANIFEST | {"job": "a\r\nBcc: x@example.org"}, BadRequest),
        ({k: v for k, v in MANIFEST.items() if k != "size"}, BadRequest),
    ):
        body = json.dumps(bad).encode()
        with pytest.raises(error):
            svc.ticket(signed(body), body)
    with pytest.raises(PayloadTooLarge):
        svc.ticket(signed(b"x"), b"{" + b" " * 70_000 + b"}")
    with pytest.raises(NotFound):
        svc.status(signed(b""), "../../etc/passwd")
    with pytest.raises(NotFound):
        svc.complete(signed(b""), "0" * 32, b"")
