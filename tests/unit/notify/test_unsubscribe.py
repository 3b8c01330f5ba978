"""One-click unsubscribe: signed per address, checked in constant time, idempotent; and the
headers every mail carries, a mailto: form when there is no API to click."""

import email
import email.policy

import pytest
from citriage.errors import BadRequest, Unauthorized
from citriage.models import Subscription
from citriage.notify.render import MailRenderer, to_mime
from citriage.notify.unsubscribe import NO_LINKS, UnsubscribeLinks, UnsubscribeService, unsubscribe_token

from tests.unit.fakes import FakeKeys
from tests.unit.mail_fakes import make_report


class FakeSubscriptions:
    def __init__(self, *emails: str) -> None:
        self.items = {e: Subscription(email=e, jobs=["*"]) for e in emails}

    def get(self, email: str):
        return self.items.get(email)

    def delete(self, email: str) -> None:
        self.items.pop(email, None)


KEYS = FakeKeys({"unsubscribe": "k3y"})


def test_a_link_is_signed_for_its_address_and_removes_only_it():
    subscriptions = FakeSubscriptions("a@example.org", "b@example.org")
    service = UnsubscribeService(subscriptions, KEYS)
    link = UnsubscribeLinks("https://api.example.org/", KEYS).url_for("a@example.org")
    token = unsubscribe_token("k3y", "a@example.org")
    assert link == f"https://api.example.org/unsubscribe?e=a%40example.org&t={token}"
    # A's token cannot unsubscribe B
    with pytest.raises(Unauthorized):
        service.unsubscribe("b@example.org", unsubscribe_token("k3y", "a@example.org"))
    with pytest.raises(BadRequest):
        service.unsubscribe("a@example.org", None)
    assert service.unsubscribe("a@example.org", unsubscribe_token("k3y", "a@example.org")).removed
    assert sorted(subscriptions.items) == ["b@example.org"]
    # A second click removes nothing and says so
    assert not service.unsubscribe("a@example.org", unsubscribe_token("k3y", "a@example.org")).removed


def test_every_mail_has_list_and_auto_submitted_headers_and_a_mailto_form_without_an_api():
    report = make_report([], build="b9", job="nightly")
    message = MailRenderer().render(report, "citriage@ci.example.org", ["dev@example.org"])
    assert NO_LINKS.url_for("dev@example.org") is None
    raw = email.message_from_bytes(to_mime(message, "dev@example.org"), policy=email.policy.default)
    assert raw["List-Unsubscribe"] == "<mailto:citriage@ci.example.org?subject=unsubscribe>"
    assert raw["List-Unsubscribe-Post"] is None  # one-click needs an https link to POST to
    assert raw["Auto-Submitted"] == "auto-generated"
    assert raw["List-Id"].strip() == "nightly <nightly.citriage.ci.example.org>"
    assert raw["Message-ID"].endswith("@ci.example.org>")


def test_runs_of_one_job_and_change_share_a_thread_and_other_changes_do_not():
    def thread_of(build: str, change: str) -> str:
        report = make_report([], build=build, job="nightly")
        report.run.change = change
        message = MailRenderer().render(report, "c@example.org", ["dev@example.org"])
        return email.message_from_bytes(to_mime(message, "dev@example.org"))["References"]

    assert thread_of("b1", "100") == thread_of("b2", "100") != thread_of("b3", "101")
