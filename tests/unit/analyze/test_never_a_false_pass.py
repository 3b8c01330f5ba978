"""An unreadable run is never a pass, whatever its source: no_results, and the reason why."""

import pytest
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.service import Analyzer
from citriage.config import FetchSettings, LayoutSettings
from citriage.models import RunEvent, Verdict

from tests.unit.fakes import FakeList

# Each source's run as its webhook normalises it, the CI saying it passed, on a host that is not
# a configured log host (the analyzer allows logs.example.org only).
RUNS = {
    "zuul": RunEvent(
        source="zuul", job="j", build_id="u1", result="SUCCESS", log_url="https://elsewhere.example/u1/"
    ),
    "jenkins": RunEvent(
        source="jenkins",
        job="j",
        build_id="jenkins.example.org/job/j/7",
        result="SUCCESS",
        log_url="https://jenkins.example.org/job/j/7/",
    ),
    "github": RunEvent(
        source="github",
        job="o/r/CI",
        build_id="7-1",
        result="success",
        log_url="https://api.github.com/repos/o/r/actions/runs/7",
    ),
    "gitlab": RunEvent(
        source="gitlab",
        job="g/p",
        build_id="gitlab.example.org/g/p/9",
        result="success",
        log_url="https://gitlab.example.org/api/v4/projects/4/pipelines/9",
        web_url="https://gitlab.example.org/g/p/-/pipelines/9",
    ),
    "openqa": RunEvent(
        source="openqa",
        job="sle-15-x",
        build_id="openqa.example.org/42",
        result="passed",
        log_url="https://openqa.example.org/tests/42",
    ),
    "generic": RunEvent(
        source="generic", job="j", build_id="b1", result="SUCCESS", log_url="https://ci.example.org/b1/"
    ),
}


@pytest.mark.parametrize("source", sorted(RUNS))
def test_a_refused_run_is_no_results_with_the_reason(source):
    analyzer = Analyzer(
        FakeList([]),
        InfraRuleSet(load_builtin_rules()),
        FetchSettings(log_hosts=["logs.example.org"]),
        LayoutSettings(),
        None,
    )
    report = analyzer.analyze(RUNS[source])
    assert report.verdict is Verdict.NO_RESULTS, (report.verdict, report.notes)
    assert any("not a configured log host" in note for note in report.notes), report.notes
    assert "could not be read" in report.verdict_reason
