"""Notify: who gets mail, exactly once; and what the mail says, safely."""

import pytest
from citriage.models import (
    Classification,
    Evidence,
    Failure,
    InfraFinding,
    KnownIssueRef,
    RunAnalyzed,
    RunEvent,
    RunReport,
    Subscription,
    TestCounts,
    Verdict,
)
from citriage.notify.render import MailRenderer, to_mime
from citriage.notify.service import NotifyService

from tests.unit.fakes import FakeDedupe, FakeList, FakeReports, FakeTransport


def report(verdict=Verdict.FAILED_NEW, test_id="tempest.api.volume.test_v.V.test_attach") -> RunReport:
    return RunReport(
        run=RunEvent(
            source="zuul",
            job="tempest-full",
            build_id="b1",
            result="FAILURE",
            log_url="https://logs.example.org/b1/",
            project="openstack/nova",
            change="912345",
            patchset="3",
            change_url="https://review.opendev.org/c/openstack/nova/+/912345",
        ),
        verdict=verdict,
        tests=TestCounts(total=50, passed=45, failed=3, skipped=2),
        failures=[
            Failure(
                test_id=test_id,
                classification=Classification.KNOWN,
                known_issue=KnownIssueRef(
                    id="LP-1929710",
                    bug_url="https://bugs.launchpad.net/cinder/+bug/1929710",
                    title="Volume attach times out",
                ),
                evidence=[
                    Evidence(
                        kind="signature",
                        matched_by="LP-1929710",
                        file="traceback",
                        line=3,
                        excerpt="failed to reach in-use status",
                    )
                ],
                details="Traceback\nfailed to reach in-use status (current attaching)",
            ),
            Failure(
                test_id="tempest.api.network.test_ports.P.test_<script>alert(1)</script>",
                classification=Classification.NEW,
                evidence=[Evidence(kind="unexplained", file="traceback", excerpt="AssertionError: 2 != 3")],
                details="AssertionError: 2 != 3 <b>bold</b>",
            ),
        ],
        infra=[
            InfraFinding(
                rule="dns-temporary-failure",
                category="network",
                file="job-output.txt",
                line=9,
                excerpt="Temporary failure in name resolution",
            )
        ],
    )


SUBS = [
    Subscription(email="nova@example.org", jobs=["tempest-*"]),
    Subscription(email="storage@example.org", tests=["tempest.api.volume.*"]),
    Subscription(email="admins@example.org", jobs=["*"], verdicts=[Verdict.INFRA]),
    Subscription(email="other@example.org", jobs=["grenade-*"]),
]


def notifier(reports, transport, dedupe=None):
    return NotifyService(reports, FakeList(SUBS), dedupe or FakeDedupe(), [transport], "citriage@example.org")


def event_for(r: RunReport) -> RunAnalyzed:
    return RunAnalyzed.from_report(r)


def test_mails_the_job_and_test_subscribers_once_each():
    reports, transport, dedupe = FakeReports(), FakeTransport(), FakeDedupe()
    r = report()
    reports.put_report(r)
    outcome = notifier(reports, transport, dedupe).handle(event_for(r))
    assert sorted(d.recipient for d in outcome.sent) == ["nova@example.org", "storage@example.org"]
    # When the same event is delivered again, nothing new is sent
    again = notifier(reports, transport, dedupe).handle(event_for(r))
    assert again.sent == [] and sorted(again.already_sent) == ["nova@example.org", "storage@example.org"]
    assert len(transport.sent) == 2


def test_infra_verdict_goes_to_admins_only():
    reports, transport = FakeReports(), FakeTransport()
    r = report(Verdict.INFRA)
    reports.put_report(r)
    outcome = notifier(reports, transport).handle(event_for(r))
    assert [d.recipient for d in outcome.sent] == ["admins@example.org"]


def test_failed_send_is_retried_on_redelivery_not_lost():
    reports, dedupe = FakeReports(), FakeDedupe()
    r = report()
    reports.put_report(r)
    with pytest.raises(ConnectionError):
        notifier(reports, FakeTransport(fail_for={"storage@example.org"}), dedupe).handle(event_for(r))
    transport = FakeTransport()
    outcome = notifier(reports, transport, dedupe).handle(event_for(r))
    assert [d.recipient for d in outcome.sent] == ["storage@example.org"]


def test_mail_content_html_and_text():
    mail = MailRenderer().render(report(), "citriage@example.org", ["nova@example.org"])
    assert mail.subject.startswith(
        "[citriage] FAILED: new failure: tempest-full on openstack/nova change 912345,3"
    )
    for part in (mail.html, mail.text):
        assert "LP-1929710" in part
        assert "https://bugs.launchpad.net/cinder/+bug/1929710" in part
        assert "Volume attach times out" in part
        assert "https://logs.example.org/b1/" in part
        assert "50 run: 45 passed, 3 failed, 2 skipped" in part
        assert "Temporary failure in name resolution" in part
        assert "None" not in part
    # Untrusted text from logs is escaped in HTML
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<b>bold</b>" not in mail.html
    assert mail.html.index("New failures") < mail.html.index("Known issues")
    assert "<style" not in mail.html and "<script" not in mail.html


def test_unknown_fields_are_said_to_be_unknown():
    r = report()
    r.run.pipeline = None
    r.run.branch = None
    mail = MailRenderer().render(r, "c@example.org", ["x@example.org"])
    assert "Pipeline:  unknown" in mail.text


def test_template_naming_a_missing_field_fails_loudly():
    import jinja2

    renderer = MailRenderer(jinja2.DictLoader({"mail.html.j2": "{{ no_such_field }}", "mail.txt.j2": "x"}))
    with pytest.raises(jinja2.UndefinedError):
        renderer.render(report(), "c@example.org", ["x@example.org"])


def test_mime_has_text_and_html_parts():
    mail = MailRenderer().render(report(), "citriage@example.org", ["nova@example.org"])
    raw = to_mime(mail, "nova@example.org").decode()
    assert "multipart/alternative" in raw and "text/plain" in raw and "text/html" in raw
    assert "To: nova@example.org" in raw
