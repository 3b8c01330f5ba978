"""CI API credentials go only to hosts the tokens secret names for them, whatever a webhook says."""

from __future__ import annotations

import pytest
from citriage.analyze.ci_api.credentials import credential_for
from citriage.analyze.locate import open_run_tree
from citriage.analyze.logs.fetch import HttpLogTree
from citriage.analyze.logs.streams import FetchBudget
from citriage.config import FetchSettings
from citriage.models import RunEvent

from tests.unit.fakes import FakeTokens

JENKINS = {"jenkins.example.org": "user:token", "ci.example.org:8443": "other:token"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://jenkins.example.org/job/a/1/", "user:token"),
        ("https://JENKINS.Example.org:8080/job/a/1/", "user:token"),  # a key without a port: any port
        ("https://ci.example.org:8443/job/a/1/", "other:token"),
        ("https://ci.example.org/job/a/1/", None),  # a key with a port: that port only
        ("https://evil.blob.core.windows.net/job/a/1/", None),
        ("https://jenkins.example.org.evil.net/job/a/1/", None),
        ("https://user@evil.net/jenkins.example.org/", None),
        ("not a url", None),
    ],
)
def test_a_credential_goes_only_to_the_host_its_key_names(url, expected):
    # Given a Jenkins entry naming two hosts (one with a port)
    # When the credential for a URL is looked up
    # Then only a URL on a named host (and port) gets one
    assert credential_for("jenkins", JENKINS, url) == expected


def test_a_plain_string_is_bound_only_where_the_api_host_is_fixed():
    # Given plain-string entries (no host named)
    # When credentials are looked up
    # Then GitHub's is bound to api.github.com only, and Jenkins' and GitLab's go nowhere
    assert credential_for("github", "ghs_x", "https://api.github.com/repos/o/r/actions/runs/1") == "ghs_x"
    assert (
        credential_for("github", "ghs_x", "https://ghe.example.org/api/v3/repos/o/r/actions/runs/1") is None
    )
    assert credential_for("jenkins", "user:token", "https://jenkins.example.org/job/a/1/") is None
    assert credential_for("gitlab", "glpat-x", "https://gitlab.com/api/v4/projects/7/pipelines/1") is None


def test_wildcard_keys_and_odd_values_name_no_host():
    # Given entries a site might get wrong: a wildcard key, a non-string credential, nothing
    url = "https://a.example.org/job/a/1/"
    # When looked up / Then none of them yields a credential
    assert credential_for("jenkins", {"*.example.org": "user:token"}, url) is None
    assert credential_for("jenkins", {"a.example.org": 42}, url) is None
    assert credential_for("jenkins", {"a.example.org": ""}, url) is None
    assert credential_for("jenkins", None, url) is None


def _jenkins_run(log_url: str) -> RunEvent:
    return RunEvent(source="jenkins", job="a", build_id="1", result="FAILURE", log_url=log_url)


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    """Opening a tree checks the host's addresses: every test host is one public address."""
    monkeypatch.setattr("citriage.analyze.logs.policy._resolve", lambda host, port: ["20.60.1.1"])


def test_open_run_tree_withholds_the_jenkins_credential_from_a_webhook_named_host():
    # Given a Jenkins credential for jenkins.example.org, and a run whose URL (from a webhook)
    # names another allowed host
    settings = FetchSettings(log_hosts=["jenkins.example.org", "*.blob.core.windows.net"])
    tokens = FakeTokens({"jenkins": {"jenkins.example.org": "user:token"}})
    budget = FetchBudget(1024, 4096)
    # When the trees are opened
    forged = open_run_tree(_jenkins_run("https://x.blob.core.windows.net/job/a/1/"), settings, budget, tokens)
    genuine = open_run_tree(_jenkins_run("https://jenkins.example.org/job/a/1/"), settings, budget, tokens)
    # Then only the configured host's tree carries the Authorization header
    assert isinstance(forged, HttpLogTree) and isinstance(genuine, HttpLogTree)
    assert "Authorization" not in forged._headers
    assert genuine._headers["Authorization"] == "Basic dXNlcjp0b2tlbg=="
    # And the report is told the credential was withheld for that host
    assert any("x.blob.core.windows.net" in n and "none was sent" in n for n in budget.notes)


def test_open_run_tree_says_nothing_when_a_source_has_no_credentials():
    # Given no Jenkins entry in the tokens secret
    budget = FetchBudget(1024, 4096)
    settings = FetchSettings(log_hosts=["jenkins.example.org"])
    # When a run's tree is opened
    tree = open_run_tree(
        _jenkins_run("https://jenkins.example.org/job/a/1/"), settings, budget, FakeTokens({})
    )
    # Then it is anonymous, without a note
    assert isinstance(tree, HttpLogTree) and "Authorization" not in tree._headers
    assert budget.notes == []
