"""Mail templates: one per job kind, chosen by job glob, overridable by a site, never blank."""

import re
from datetime import timedelta
from importlib import resources

import jinja2
import pytest
from citriage.errors import CitriageError
from citriage.models import Classification, FailureGroup, KnownIssueRef, Subscription, Verdict
from citriage.notify.audience import NotifyPolicy, audience
from citriage.notify.digest import build_digest
from citriage.notify.history import RunRecord, judge_issue, judge_test
from citriage.notify.render import MailRenderer, site_loader
from citriage.notify.view import MailContext, MailView, build_view

from tests.unit.mail_fakes import DNS_TEST, PORT_TEST, T0, VOLUME_TEST, failure, make_report

KINDS = ["tempest", "junit", "openqa", "infra"]


def full_context(report, previous_failures=()):
    """A context with every optional part filled: history, previous run, own tests."""
    earlier = make_report(list(previous_failures), build="b0", at=T0 - timedelta(hours=1))
    records = [RunRecord.from_report(report), RunRecord.from_report(earlier)]
    return MailContext(
        reason="you subscribed to tests tempest.api.volume.*",
        yours=[VOLUME_TEST],
        tests_history={
            f.test_id: judge_test(f.test_id, records, 20)
            for f in report.failures
            if f.test_id in records[0].failed and not records[0].failed_truncated
        },
        issues_history={"LP-1929710": judge_issue("LP-1929710", records, 20)},
        history_runs=2,
        previous=records[1],
        fixed_tests=[PORT_TEST],
    )


def reports():
    mixed = [
        failure(PORT_TEST),
        failure(VOLUME_TEST, Classification.KNOWN),
        failure(DNS_TEST, Classification.INFRA),
    ]
    yield make_report(mixed)
    yield make_report(mixed).model_copy(
        update={"unlisted": UNLISTED, "omitted_failures": {"new": 1200, "known": 40}}
    )
    yield make_report([failure(DNS_TEST, Classification.INFRA)])
    yield make_report([], verdict=Verdict.NO_RESULTS, total=0)
    yield make_report([])


UNLISTED = [
    FailureGroup(
        classification=Classification.NEW, count=1200, message="E: timeout after 3s", examples=["t.a", "t.b"]
    ),
    FailureGroup(
        classification=Classification.KNOWN,
        count=40,
        known_issue=KnownIssueRef(
            id="LP-1929710", bug_url="https://bugs.example.org/1929710", title="attach"
        ),
        examples=["t.c"],
    ),
]


def test_failures_past_the_listed_ones_are_in_the_mail_by_group():
    # Given a run with more failures than a report lists, the rest grouped
    report = make_report([failure(PORT_TEST)]).model_copy(update={"unlisted": UNLISTED})
    view = build_view(report)
    mail = MailRenderer().render_view("junit", view, view.subject, "c@example.org", ["x@example.org"], "r")
    # Then both parts say how many more, by group, with the known issue linked and examples
    assert "AND 1240 MORE FAILURES, NOT LISTED ONE BY ONE" in mail.text
    assert "* 1200 new: E: timeout after 3s\n    e.g. t.a, t.b" in mail.text
    assert "* 40 known (LP-1929710 https://bugs.example.org/1929710)" in mail.text
    assert "And 1240 more failures, not listed one by one" in mail.html
    assert 'href="https://bugs.example.org/1929710"' in mail.html


def assert_never_blank(text: str) -> None:
    assert "None" not in text
    # A StrictUndefined slip or an empty field shows as an empty value after a label
    assert not re.search(r"(Pipeline|Project|Change|Date|Versions|CI result):\s*\n", text)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("kind_of_context", ["minimal", "full", "fixed"])
def test_every_packaged_template_renders_every_verdict(kind, kind_of_context):
    # Given each job kind's template and runs of every verdict, with and without history
    renderer = MailRenderer()
    for report in reports():
        context = None
        if kind_of_context != "minimal":
            context = full_context(report, [failure(PORT_TEST)]).model_copy(
                update={"kind": "run" if kind_of_context == "full" else "fixed"}
            )
        view = build_view(report, context)
        # When rendered with StrictUndefined
        mail = renderer.render_view(
            kind, view, view.subject, "c@example.org", ["x@example.org"], report.run_id
        )
        # Then nothing is blank or None, and the HTML has no script, style or external asset
        assert_never_blank(mail.text)
        assert_never_blank(mail.html)
        for forbidden in ("<script", "<style", "<img", "<link", " src="):
            assert forbidden not in mail.html
        assert report.run.job in mail.text and report.run.job in mail.html


def test_every_field_of_the_view_is_used_by_the_layout():
    # A field the view has but no template shows is a field the mail silently drops
    source = "".join(
        (resources.files("citriage.notify") / "templates" / name).read_text("utf-8")
        for name in ("_layout.html.j2", "_layout.txt.j2")
    )
    unused = [name for name in MailView.model_fields if not re.search(rf"\b{name}\b", source)]
    assert unused == []


def test_template_is_chosen_by_job_glob_and_verdict():
    renderer = MailRenderer()
    assert renderer.template_for(make_report([failure(PORT_TEST)], job="tempest-full")) == "tempest"
    assert renderer.template_for(make_report([failure(PORT_TEST)], job="unit-tests-java")) == "junit"
    assert renderer.template_for(make_report([failure(PORT_TEST)], job="sle-15-openqa-textmode")) == "openqa"
    infra = make_report([failure(DNS_TEST, Classification.INFRA)], job="tempest-full")
    assert renderer.template_for(infra) == "infra"


def test_kind_templates_differ_where_they_should():
    report = make_report([failure(PORT_TEST)], job="tempest-full")
    tempest = MailRenderer().render(report, "c@example.org", ["x@example.org"])
    assert "Rerun: tempest run --regex '^tempest.api.network.test_ports.PortsTestJSON.test_create_port'" in (
        tempest.text
    )
    report.run.job = "openqa-sle"
    report.run.web_url = "https://openqa.example.org/tests/42"
    openqa = MailRenderer().render(report, "c@example.org", ["x@example.org"])
    assert "openQA job (screenshots, needles)" in openqa.html and "Rerun:" not in openqa.text


def test_site_directory_overrides_templates_and_rules(tmp_path):
    # Given a site directory with its own rule and template for "nightly-*" jobs
    (tmp_path / "templates.yaml").write_text("- template: nightly\n  jobs: ['nightly-*']\n")
    (tmp_path / "nightly.html.j2").write_text("<p>Nightly {{ job }}: {{ verdict_label }}</p>")
    (tmp_path / "nightly.txt.j2").write_text("Nightly {{ job }}: {{ verdict_label }}")
    renderer = MailRenderer(site=site_loader(str(tmp_path)))
    # When a nightly job and a tempest job are rendered
    nightly = renderer.render(make_report([failure(PORT_TEST)], job="nightly-build"), "c@e.org", ["x@e.org"])
    tempest = renderer.render(make_report([failure(PORT_TEST)], job="tempest-full"), "c@e.org", ["x@e.org"])
    # Then the site's template renders its jobs, and the packaged ones the rest
    assert nightly.text == "Nightly nightly-build: FAILED: new failure"
    assert "Rerun: tempest run" in tempest.text


def test_site_template_with_a_missing_field_fails_loudly(tmp_path):
    (tmp_path / "tempest.txt.j2").write_text("{{ job }} {{ owner }}")
    renderer = MailRenderer(site=site_loader(str(tmp_path)))
    with pytest.raises(jinja2.UndefinedError):
        renderer.render(make_report([failure(PORT_TEST)]), "c@e.org", ["x@e.org"])


def test_missing_site_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CitriageError, match="does not exist"):
        site_loader(str(tmp_path / "nope"))
    with pytest.raises(CitriageError, match="s3://"):
        site_loader(s3_uri="https://bucket/prefix")


def test_audience_context_renders_for_each_recipient():
    # The contexts the audience builds render in full (the reason is the recipient's own)
    report = make_report([failure(VOLUME_TEST, Classification.KNOWN)])
    subs = [Subscription(email="s@example.org", tests=["tempest.api.volume.*"])]
    (recipient,) = audience(report, subs, NotifyPolicy(), previous=None)
    mail = MailRenderer().render(report, "c@example.org", [recipient.email], recipient.context)
    assert (
        "You get this mail because you subscribed to tests tempest.api.volume.* and 1 of them failed"
        in mail.text
    )


def test_digest_templates_render_strictly():
    records = [RunRecord.from_report(r) for r in reports()]
    view = build_digest(Subscription(email="d@example.org", jobs=["*"]), records, "daily", T0, T0)
    mail = MailRenderer().render_view(
        "digest", view, view.subject, "c@example.org", ["d@example.org"], "digest"
    )
    assert_never_blank(mail.text)
    assert "<script" not in mail.html and "<style" not in mail.html


def test_templates_check_command(tmp_path, capsys):
    from citriage.cli.main import main

    # The packaged templates pass
    assert main(["templates", "check"]) == 0
    assert (
        "5 templates checked (infra, junit, openqa, tempest, digest): 0 problem(s)" in capsys.readouterr().out
    )
    # A site template naming a field the view lacks, or loading an image, is reported
    (tmp_path / "tempest.txt.j2").write_text("{{ job }} {{ owner }}")
    (tmp_path / "nightly.html.j2").write_text('<img src="https://example.org/logo.png">{{ job }}')
    (tmp_path / "nightly.txt.j2").write_text("{{ job }}")
    assert main(["templates", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    # Each problem once, with the template and line it is at, and how many cases showed it
    [undefined] = [line for line in out.splitlines() if "'owner' is undefined" in line]
    assert undefined.startswith(f"{tmp_path / 'tempest.txt.j2'}:1: UndefinedError: 'owner' is undefined (in ")
    [asset] = [line for line in out.splitlines() if "external asset" in line]
    assert asset.startswith("nightly: the HTML has a script, style sheet or external asset (in ")


def test_templates_check_names_a_syntax_error_once_and_an_override_of_a_missing_block(tmp_path, capsys):
    from citriage.cli.main import main

    # Given a site override with a syntax error, and one overriding a block the layout lacks
    (tmp_path / "tempest.html.j2").write_text(
        '{% extends "_layout.html.j2" %}\n{% block summary %}\n{{ job }\n{% endblock %}'
    )
    (tmp_path / "junit.txt.j2").write_text(
        '{% extends "_layout.txt.j2" %}\n\n{% block no_such_block %}x{% endblock %}'
    )
    assert main(["templates", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    # Then the syntax error is one line naming file and line, not one per case
    syntax = [line for line in out.splitlines() if "TemplateSyntaxError" in line]
    assert len(syntax) == 1 and "tempest.html.j2:3: TemplateSyntaxError" in syntax[0]
    # And the unknown block is flagged where it is
    assert f"{tmp_path / 'junit.txt.j2'}:3: block 'no_such_block' is not defined by _layout.txt.j2" in out
