"""Notify: who gets which mail, exactly once; and what the mail says, safely."""

import logging
from datetime import timedelta

import jinja2
import pytest
from citriage.models import Classification, Evidence, RunAnalyzed, RunReport, Subscription, Verdict
from citriage.notify.audience import NotifyPolicy
from citriage.notify.render import MailRenderer, to_mime
from citriage.notify.service import NotifyService
from citriage.notify.view import MAX_MAIL_COMPONENTS, MailContext, build_view

from tests.unit.fakes import FakeDedupe, FakeList, FakeReports, FakeTransport
from tests.unit.mail_fakes import (
    DNS_TEST,
    PORT_TEST,
    T0,
    VOLUME_TEST,
    FakeHistory,
    FakeSuppressions,
    failure,
    make_report,
)

JOB_SUB = Subscription(email="nova@example.org", jobs=["tempest-*"])
TEST_SUB = Subscription(email="storage@example.org", tests=["tempest.api.volume.*"])
ADMIN_SUB = Subscription(email="infra-team@example.org", jobs=["*"], verdicts=["infra"])
OTHER_SUB = Subscription(email="other@example.org", jobs=["grenade-*"])
DIGEST_SUB = Subscription(email="digest@example.org", jobs=["tempest-*"], delivery="daily")
SUBS = [JOB_SUB, TEST_SUB, ADMIN_SUB, OTHER_SUB, DIGEST_SUB]
POLICY = NotifyPolicy(ci_admins=["ci-admins@example.org"])


def mixed_report(build: str = "b1") -> RunReport:
    """One new, one known (a volume test) and one infra failure: verdict failed_new."""
    return make_report(
        [
            failure(PORT_TEST),
            failure(VOLUME_TEST, Classification.KNOWN),
            failure(DNS_TEST, Classification.INFRA),
        ],
        build=build,
    )


def notifier(reports, transport, dedupe=None, subs=SUBS, **kwargs) -> NotifyService:
    kwargs.setdefault("policy", POLICY)
    return NotifyService(
        reports, FakeList(subs), dedupe or FakeDedupe(), [transport], "citriage@example.org", **kwargs
    )


def notify(report: RunReport, transport=None, **kwargs):
    reports = FakeReports()
    reports.put_report(report)
    transport = transport or FakeTransport()
    outcome = notifier(reports, transport, **kwargs).handle(RunAnalyzed.from_report(report))
    return outcome, dict(transport.sent)


def test_job_and_test_subscribers_get_different_mails_about_the_same_run():
    # Given a run where a volume test failed (known issue) next to a new and an infra failure
    report = mixed_report()
    # When it is notified
    outcome, mails = notify(report)
    # Then the job subscriber and the volume-test subscriber get a mail each, nobody else
    assert sorted(mails) == ["nova@example.org", "storage@example.org"]
    job_mail, test_mail = mails["nova@example.org"], mails["storage@example.org"]
    # The test subscriber's mail leads with its own test, and says so in the subject; its headline
    # is its own verdict: its test failed on a known bug, so not "new failure" as the run's is
    assert "1 of your tests" in test_mail.subject and "your tests" not in job_mail.subject
    assert test_mail.subject.startswith("Failed (known): 1 of your tests in tempest-full")
    assert job_mail.subject.startswith("FAILED (new): tempest-full")
    assert (
        "Failed: your tests hit known issues" in test_mail.html
        and "new failure" not in test_mail.text.splitlines()[0]
    )
    assert test_mail.text.index("YOUR TESTS (1)") < test_mail.text.index(VOLUME_TEST)
    assert test_mail.text.index(VOLUME_TEST) < test_mail.text.index(PORT_TEST)
    assert test_mail.html.index("Your tests (1)") < test_mail.html.index("New failures")
    # The job subscriber's mail has no "your tests" section: new failures come first
    assert "YOUR TESTS" not in job_mail.text and "Your tests" not in job_mail.html
    assert job_mail.text.index(PORT_TEST) < job_mail.text.index(VOLUME_TEST)
    # Each says why it was sent
    assert "you subscribed to tests tempest.api.volume.*" in test_mail.text
    assert "you subscribed to failed_new runs of jobs tempest-*" in job_mail.text
    assert [d.kind for d in outcome.sent] == ["run", "run"]


def test_test_subscriber_gets_nothing_when_its_tests_pass():
    # Given a failed run in which no volume test failed
    report = make_report([failure(PORT_TEST)])
    # When notified
    _, mails = notify(report)
    # Then only the job subscriber hears of it
    assert sorted(mails) == ["nova@example.org"]


def test_infra_only_run_goes_to_infra_subscribers_and_to_the_admins_digest_or_at_once():
    # Given a run that failed only because of the infrastructure, a volume test among its victims
    report = make_report(
        [failure(VOLUME_TEST, Classification.INFRA), failure(DNS_TEST, Classification.INFRA)]
    )
    assert report.verdict is Verdict.INFRA
    # When notified: the infra subscribers get it, the code owners do not, and the CI admins
    # only in their daily digest (an outage reaches them as one incident alert)
    _, mails = notify(report)
    assert sorted(mails) == ["infra-team@example.org"]
    # And a site that wants a mail per infra run for its admins gets one
    immediate = NotifyPolicy(ci_admins=["ci-admins@example.org"], admin_infra_delivery="immediate")
    _, mails = notify(report, policy=immediate)
    assert sorted(mails) == ["ci-admins@example.org", "infra-team@example.org"]
    admin_mail = mails["ci-admins@example.org"]
    assert admin_mail.subject.startswith("Infra failure: tempest-full")
    assert "you are a CI admin" in admin_mail.text
    assert "WHAT BROKE (1)" in admin_mail.text and "Temporary failure in name resolution" in admin_mail.text


def test_no_results_run_goes_to_admins_only():
    report = make_report([], verdict=Verdict.NO_RESULTS, total=0)
    _, mails = notify(report)
    assert sorted(mails) == ["ci-admins@example.org"]
    assert "No test results could be read" in mails["ci-admins@example.org"].text


def test_redelivery_sends_nothing_new():
    # Given a run already notified
    reports, transport, dedupe = FakeReports(), FakeTransport(), FakeDedupe()
    report = mixed_report()
    reports.put_report(report)
    first = notifier(reports, transport, dedupe).handle(RunAnalyzed.from_report(report))
    assert len(first.sent) == 2
    # When the same event is delivered again
    again = notifier(reports, transport, dedupe).handle(RunAnalyzed.from_report(report))
    # Then nothing new is sent
    assert again.sent == [] and sorted(again.already_sent) == ["nova@example.org", "storage@example.org"]
    assert len(transport.sent) == 2


def test_failed_send_is_retried_on_redelivery_not_lost():
    reports, dedupe = FakeReports(), FakeDedupe()
    report = mixed_report()
    reports.put_report(report)
    with pytest.raises(ConnectionError):
        notifier(reports, FakeTransport(fail_for={"storage@example.org"}), dedupe).handle(
            RunAnalyzed.from_report(report)
        )
    transport = FakeTransport()
    outcome = notifier(reports, transport, dedupe).handle(RunAnalyzed.from_report(report))
    assert [d.recipient for d in outcome.sent] == ["storage@example.org"]


def test_suppressed_address_is_skipped_and_logged(caplog):
    # Given the test subscriber's address hard-bounced earlier
    suppressions = FakeSuppressions({"storage@example.org"})
    # When a run it would hear about is notified
    with caplog.at_level(logging.WARNING, logger="citriage.notify.service"):
        outcome, mails = notify(mixed_report(), suppressions=suppressions)
    # Then it gets nothing, the others get their mail, and a log line says why
    assert sorted(mails) == ["nova@example.org"]
    assert outcome.suppressed == ["storage@example.org"]
    assert "suppressed address skipped: storage@example.org" in caplog.text


def fixed_setup(previous_failures, fixed_mails=True):
    history = FakeHistory()
    history.record(make_report(previous_failures, build="b1", at=T0))
    passed = make_report([], build="b2", at=T0 + timedelta(hours=1))
    history.record(passed)
    subs = [
        Subscription(email="fix-job@example.org", jobs=["tempest-*"], verdicts=["failed_new", "fixed"]),
        Subscription(email="fix-test@example.org", tests=["tempest.api.volume.*"], verdicts=["fixed"]),
        JOB_SUB,
    ]
    return notify(
        passed, subs=subs, history=history, policy=NotifyPolicy(ci_admins=[], fixed_mails=fixed_mails)
    )


def test_passed_after_failure_sends_fixed_mail_to_who_asked():
    # Given a failed run of the job (a volume test among the failures), then a passed one
    outcome, mails = fixed_setup([failure(PORT_TEST), failure(VOLUME_TEST, Classification.KNOWN)])
    # Then the subscribers who asked for `fixed` hear that it passes again; the others do not
    assert sorted(mails) == ["fix-job@example.org", "fix-test@example.org"]
    job_mail, test_mail = mails["fix-job@example.org"], mails["fix-test@example.org"]
    assert job_mail.subject.startswith("Fixed: tempest-full")
    assert "https://logs.example.org/b1/" in job_mail.text  # the failing run before, linked
    assert PORT_TEST in job_mail.text and VOLUME_TEST in job_mail.text
    # The test subscriber's fixed mail lists only its own tests
    assert VOLUME_TEST in test_mail.text and PORT_TEST not in test_mail.text
    assert {d.kind for d in outcome.sent} == {"fixed"}


def test_fixed_mail_only_for_the_tests_that_had_failed_and_when_enabled():
    # A failure the test subscriber does not care about: no fixed mail for it
    _, mails = fixed_setup([failure(PORT_TEST)])
    assert sorted(mails) == ["fix-job@example.org"]
    # Switched off by the site: nobody
    _, mails = fixed_setup([failure(PORT_TEST)], fixed_mails=False)
    assert mails == {}


def test_digest_subscribers_get_no_immediate_mail():
    _, mails = notify(mixed_report())
    assert "digest@example.org" not in mails


def test_mail_content_html_and_text():
    # Given a report with untrusted text from logs in a test id and a traceback
    report = mixed_report()
    report.failures[0].test_id = "tempest.api.network.test_ports.P.test_<script>alert(1)</script>"
    report.failures[0].details = "AssertionError: 2 != 3 <b>bold</b>"
    mail = MailRenderer().render(report, "citriage@example.org", ["nova@example.org"])
    # The subject: the verdict first, within 78 characters
    assert mail.subject == "FAILED (new): tempest-full | nova 912345,3 | 1 new, 1 known"
    for part in (mail.html, mail.text):
        assert "LP-1929710" in part
        assert "https://bugs.launchpad.net/cinder/+bug/1929710" in part
        assert "Volume attach times out" in part
        assert "https://logs.example.org/b1/" in part
        assert "https://logs.example.org/b1/job-output.txt#9" in part  # evidence linked to its log line
        assert "https://review.opendev.org/c/openstack/nova/+/912345" in part
        assert "50 run: 47 passed, 3 failed" in part
        assert "Temporary failure in name resolution" in part
        assert "duration 50m 00s" in part and "2026-11-01 08:00 UTC" in part
        assert "None" not in part
    # Untrusted text is escaped in HTML, and the HTML loads nothing and runs nothing
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<b>bold</b>" not in mail.html
    for forbidden in ("<style", "<script", "<img", "<link", " src=", "url("):
        assert forbidden not in mail.html
    assert mail.html.index("New failures") < mail.html.index("Known issues")


def test_rows_whose_value_is_unknown_are_hidden():
    # Given a run whose CI told no pipeline, branch, project, change, start time or versions
    report = mixed_report()
    report.run.pipeline = None
    report.run.branch = None
    report.run.project = None
    report.run.change = None
    report.run.start_time = None
    report.components = {}
    mail = MailRenderer().render(report, "c@example.org", ["x@example.org"])
    # Then those rows are not shown at all, in either part
    header = mail.text.split("\n\n", 1)[0] + mail.text.split("Tests:", 1)[0]
    for row in ("Pipeline:", "Project:", "Change:", "Versions:", "duration"):
        assert row not in header and row not in mail.html.split("<h2", 1)[0]
    assert "unknown" not in mail.text.split("Tests:", 1)[0]
    assert "unknown" not in mail.html.split("<h2", 1)[0].replace("unknown)", "")


def test_subjects_fit_78_characters_dropping_counts_then_the_project():
    report = mixed_report()
    report.run.job = "tripleo-ci-centos-9-scenario007-multinode-oooq-container-standalone"
    subject = MailRenderer().render(report, "c@example.org", ["x@example.org"]).subject
    assert len(subject) <= 78 and subject.startswith("FAILED (new): tripleo-ci-centos-9-scenario007")


def test_template_naming_a_missing_field_fails_loudly():
    loader = jinja2.DictLoader({"tempest.html.j2": "{{ no_such_field }}", "tempest.txt.j2": "x"})
    with pytest.raises(jinja2.UndefinedError):
        MailRenderer(site=loader).render(mixed_report(), "c@example.org", ["x@example.org"])


def test_mime_has_text_and_html_parts():
    mail = MailRenderer().render(mixed_report(), "citriage@example.org", ["nova@example.org"])
    raw = to_mime(mail, "nova@example.org").decode()
    assert "multipart/alternative" in raw and "text/plain" in raw and "text/html" in raw
    assert "To: nova@example.org" in raw


def test_mail_shows_the_recipients_components_capped():
    # Given a run that reported 1,000 package versions and two project commits
    r = mixed_report()
    r.components = {f"pkg-{i:04d}": "1.0" for i in range(1000)}
    r.components |= {
        "opendev.org/openstack/nova": "master 0123abcd",
        "opendev.org/openstack/tempest": "master 4567",
    }
    # When the recipient asked for the openstack projects only
    mine = build_view(r, MailContext(component_globs=["opendev.org/openstack/*"]))
    # Then the mail shows just those, nothing left out
    assert [c.name for c in mine.components] == [
        "opendev.org/openstack/nova",
        "opendev.org/openstack/tempest",
    ]
    assert mine.components_more == 0
    # And without a choice, the mail shows a capped list and says how many more the report holds
    everyone = build_view(r)
    assert len(everyone.components) == MAX_MAIL_COMPONENTS
    assert everyone.components_more == 1002 - MAX_MAIL_COMPONENTS
    text = MailRenderer().render(r, "c@example.org", ["x@example.org"]).text
    assert f"and {1002 - MAX_MAIL_COMPONENTS} more in the JSON report" in text


def test_subscription_component_globs_reach_the_mail():
    # Given a subscriber who cares only about nova's version
    r = mixed_report()
    r.components = {"opendev.org/openstack/nova": "master 0123abcd", "python3-six": "1.16.0-4"}
    sub = Subscription(email="nova@example.org", jobs=["tempest-*"], components=["*/nova"])
    # When the run is notified
    _, mails = notify(r, subs=[sub])
    # Then the mail lists nova and not the package
    assert "opendev.org/openstack/nova master 0123abcd" in mails["nova@example.org"].text
    assert "python3-six" not in mails["nova@example.org"].text


def test_component_globs_round_trip_through_the_simple_import_shape():
    from citriage.notify.audience import dump_subscriptions_yaml, load_subscriptions_yaml

    text = "storage@example.org:\n  tests: ['tempest.api.volume.*']\n  components: ['*/cinder']\n"
    (sub,) = load_subscriptions_yaml(text)
    assert sub.components == ["*/cinder"]
    assert load_subscriptions_yaml(dump_subscriptions_yaml([sub])) == [sub]


class KilledMidSend(BaseException):
    """What a Lambda timeout looks like from inside: no `except Exception` runs."""


def test_worker_killed_mid_send_is_retried_once_its_lease_runs_out():
    from citriage.notify.service import MAIL_LEASE_SECONDS

    reports, dedupe = FakeReports(), FakeDedupe()
    report = mixed_report()
    reports.put_report(report)
    event = RunAnalyzed.from_report(report)

    class DyingTransport(FakeTransport):
        def send(self, message, recipient):
            raise KilledMidSend

    # Given a notify worker killed while sending the first mail
    with pytest.raises(KilledMidSend):
        notifier(reports, DyingTransport(), dedupe, subs=[JOB_SUB]).handle(event)
    # When the message comes back while the claim's lease still runs, nothing is sent twice
    transport = FakeTransport()
    early = notifier(reports, transport, dedupe, subs=[JOB_SUB]).handle(event)
    assert early.already_sent == ["nova@example.org"] and transport.sent == []
    # When it comes back after the lease ran out, the mail goes out, and only once
    dedupe.now += MAIL_LEASE_SECONDS + 1
    late = notifier(reports, transport, dedupe, subs=[JOB_SUB]).handle(event)
    assert [d.recipient for d in late.sent] == ["nova@example.org"]
    dedupe.now += 10 * MAIL_LEASE_SECONDS
    again = notifier(reports, transport, dedupe, subs=[JOB_SUB]).handle(event)
    assert again.sent == [] and len(transport.sent) == 1


def test_known_issue_status_looked_up_earlier_reaches_the_mail():
    from citriage.models import KnownIssue

    # Given a signature whose bug status was cached by `known-issues import --lookup-bugs`
    issue = KnownIssue(
        id="LP-1929710",
        title="Volume attach times out",
        bug_url="https://bugs.launchpad.net/cinder/+bug/1929710",
        pattern="in-use",
        bug_status="Triaged",
    )
    r = mixed_report()
    for f in r.failures:
        if f.known_issue:
            f.known_issue = issue.ref()
    # When the mail is rendered, the status is shown; an issue never looked up shows no status
    assert "(status Triaged;" in MailRenderer().render(r, "c@example.org", ["x@example.org"]).text
    never = MailRenderer().render(mixed_report(), "c@example.org", ["x@example.org"]).text
    assert "Volume attach times out" in never and "status unknown" not in never


def test_the_matched_line_is_highlighted_and_links_never_point_at_a_binary_stream():
    # Given a known failure matched on its traceback, in a run read from a subunit stream
    report = mixed_report()
    report.results_file = "testrepository.subunit"
    known = next(f for f in report.failures if f.known_issue)
    known.details = (
        'Traceback (most recent call last):\n  File "t.py", line 3\n'
        "VolumeError: failed to reach in-use status"
    )
    known.evidence = [
        Evidence(
            kind="signature", matched_by="LP-1929710", file="traceback", line=3, excerpt="VolumeError: failed"
        )
    ]
    mail = MailRenderer().render(report, "c@example.org", ["x@example.org"])
    # Then the matched line is marked, in both parts
    assert (
        '<mark style="background:#fff8c5;font-weight:bold;">VolumeError: failed to reach in-use status</mark>'
        in mail.html
    )
    assert "  > VolumeError: failed to reach in-use status" in mail.text
    # And its "where" link goes to the run's logs, not to the binary .subunit
    assert "testrepository.subunit" not in mail.html.split("where:", 1)[1].split("</a>", 1)[0]
    # And nothing breaks identifiers mid-word on a phone
    assert "word-break:break-all" not in mail.html


def test_an_outage_run_is_held_and_the_outage_is_alerted_once_per_change():
    from datetime import UTC, datetime

    from citriage.models.incident import Incident, IncidentChanged, IncidentState

    # Given an infra run that belongs to an open incident
    report = make_report([failure(DNS_TEST, Classification.INFRA)], verdict=Verdict.INFRA, build="held1")
    report.incident = "20261205-090000-network-mirror-abc123"
    # When it is notified: nobody is mailed (the admins hear of the outage from its alert)
    outcome, sent = notify(report)
    assert outcome.held == report.incident and sent == {}
    # And the incident's opening goes to the CI admins and to infra subscribers of its jobs only
    opened_at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    incident = Incident(
        id=report.incident,
        key="network#mirror.example.org",
        category="network",
        service="mirror.example.org",
        opened_at=opened_at,
        last_hit_at=opened_at,
        run_count=3,
        jobs=["tempest-full", "devstack"],
        runs=["zuul:a", "zuul:b", "zuul:c"],
        evidence=["curl: (6) Could not resolve host: mirror.example.org"],
        rules=["dns-could-not-resolve-host"],
    )
    transport, dedupe = FakeTransport(), FakeDedupe()
    service = notifier(FakeReports(), transport, dedupe)
    opened = IncidentChanged(change=IncidentState.OPEN, incident=incident)
    alerted = service.incident_alert(opened)
    assert sorted(d.recipient for d in alerted.sent) == ["ci-admins@example.org", "infra-team@example.org"]
    mail = dict(transport.sent)["ci-admins@example.org"]
    assert mail.subject == "[citriage] incident opened: network mirror.example.org (3 runs, 2 jobs)"
    assert "Could not resolve host: mirror.example.org" in mail.text and "zuul:b" in mail.html
    # And a redelivery of the event mails nobody again; its closing is a second, different mail
    assert service.incident_alert(opened).sent == []
    closed_at = opened_at + timedelta(minutes=42)
    closed = IncidentChanged(
        change=IncidentState.CLOSED,
        incident=incident.model_copy(
            update={"state": IncidentState.CLOSED, "closed_at": closed_at, "closed_by": "clean runs"}
        ),
    )
    again = service.incident_alert(closed)
    assert len(again.sent) == 2
    text = transport.sent[-1][1].text
    assert "It lasted 42m 00s" in text and "closed by clean runs" in text


class HeldRecorder:
    """Where notify keeps the runs an incident holds (only `hold` is used here)."""

    def __init__(self) -> None:
        self.held: dict[str, object] = {}

    def hold(self, held) -> bool:
        if held.run_id in self.held:
            return False
        self.held[held.run_id] = held
        return True


def test_a_held_run_is_kept_for_its_recheck_and_a_released_one_tells_its_job_subscribers_it_never_ran_again():
    from citriage.models.incident import HoldState, RunReleased

    # Given an infra run that an open incident holds
    report = make_report([failure(DNS_TEST, Classification.INFRA)], verdict=Verdict.INFRA, build="held2")
    report.incident = "20261205-090000-network-mirror-abc123"
    reports, transport, dedupe, held = FakeReports(), FakeTransport(), FakeDedupe(), HeldRecorder()
    reports.put_report(report)
    service = notifier(reports, transport, dedupe, holds=held)
    # When it is notified, twice: no mail, and it is kept once to be rechecked
    for _ in range(2):
        assert service.handle(RunAnalyzed.from_report(report)).held == report.incident
    assert transport.sent == []
    [kept] = held.held.values()
    assert (kept.run_id, kept.incident, kept.state, kept.run.job) == (
        report.run_id,
        report.incident,
        HoldState.HELD,
        report.run.job,
    )
    # When it is released (its CI could not be asked for a recheck)
    released = RunReleased(
        run_id=report.run_id,
        incident=report.incident,
        held_at=T0,
        because="its CI could not be asked to run it again: generic runs cannot be rechecked through an API",
    )
    outcome = service.released(released)
    # Then the subscribers of its job hear it never ran again; test subscribers, other jobs'
    # subscribers, digest subscribers, and the CI admins and infra subscribers (who got the
    # incident's alerts) do not
    assert [d.recipient for d in outcome.sent] == ["nova@example.org"]
    mail = dict(transport.sent)["nova@example.org"]
    assert mail.subject.startswith("Infra failure, not rerun: tempest-full")
    assert f"incident {report.incident}" in mail.text
    assert "It never ran again: its CI could not be asked to run it again" in mail.text
    assert "It never ran again</b>: its CI could not be asked" in mail.html
    # And a redelivered release mails nobody again
    assert service.released(released).sent == []
