"""A known issue seen in the logs that explains no failure is reported as context, not a cause."""

from datetime import date

from citriage.analyze.logs.fetch import LocalLogTree
from citriage.analyze.logs.streams import FetchBudget
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.pipeline import analyze_run
from citriage.known_issues.signatures import SignatureSet
from citriage.models import Classification, KnownIssue, RunEvent, Verdict
from citriage.notify.render import MailRenderer

JUNIT = """<testsuite name="unit"><testcase classname="t.A" name="test_sum">
<failure message="assert 2 == 3">def test_sum():
&gt;       assert add(1, 1) == 3
E       assert 2 == 3

t/test_a.py:4: AssertionError</failure></testcase></testsuite>"""
CONSOLE = "\n".join(
    ["2026-12-01 10:00:00.000 | controller | starting"] * 4511
    + [
        "2026-12-01 10:05:00.000 | controller | oslo.messaging: "
        "Timed out waiting for a reply to message ID 7f3a"
    ]
    + ["2026-12-01 10:06:00.000 | controller | done"]
)
RPC = KnownIssue(
    id="LP-1929710",
    title="RPC timeouts",
    bug_url="https://bugs.launchpad.net/bugs/1929710",
    pattern=r"Timed out waiting for a reply to message ID",
)


def test_a_console_hit_that_explains_no_failure_is_a_log_hit_and_in_the_mail(tmp_path):
    # Given a run whose one failure is an assertion, and a console line a signature describes
    (tmp_path / "junit.xml").write_text(JUNIT)
    (tmp_path / "job-output.txt").write_text(CONSOLE)
    run = RunEvent(source="zuul", job="unit", build_id="b1", result="FAILURE", log_url=tmp_path.as_uri())
    tree = LocalLogTree(tmp_path, FetchBudget(1 << 26, 1 << 28))
    # When it is analysed
    report = analyze_run(
        run, tree, SignatureSet([RPC], date(2026, 12, 1)), InfraRuleSet(load_builtin_rules())
    )
    # Then the assertion stays new (the RPC timeout does not explain it) and the hit is context
    assert report.verdict is Verdict.FAILED_NEW
    [failure] = report.failures
    assert failure.classification is Classification.NEW and failure.known_issue is None
    assert failure.message == "assert 2 == 3"
    [hit] = report.log_hits
    assert (hit.issue.id, hit.file, hit.line) == ("LP-1929710", "job-output.txt", 4512)
    # And the mail shows it apart from the failures, with the exception line of the failure
    message = MailRenderer().render(report, sender="citriage@example.org", recipients=["dev@example.org"])
    assert "Also seen in the logs" in message.html and "LP-1929710" in message.html
    assert "What went wrong: assert 2 == 3" in message.text
    assert "ALSO SEEN IN THE LOGS (context, not a cause)" in message.text
