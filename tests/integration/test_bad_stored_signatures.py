"""A signature item edited by hand in the table must not fail every analysis."""

import boto3
import pytest
from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.known_issues import KnownIssueStore
from citriage.config import AnalyzeSettings, FetchSettings, LayoutSettings
from citriage.errors import InvalidSignature
from citriage.known_issues.yaml_file import load_known_issues_yaml
from citriage.models import RunEvent
from citriage.wiring import analyze_service

from tests.conftest import EVENTS

pytestmark = pytest.mark.integration


def test_malformed_and_invalid_items_are_skipped_with_notes_and_the_rest_still_match(stack, log_server):
    dynamodb = boto3.resource("dynamodb")
    table = dynamodb.Table(stack.env["KNOWN_ISSUES_TABLE"])
    known = KnownIssueStore(table)
    for issue in load_known_issues_yaml((EVENTS / "known-issues.yaml").read_text()):
        known.put(issue)
    # Given two items written past the CLI's checks: one missing its title, one not valid RE2
    table.put_item(Item={"id": "BROKEN-1", "bug_url": "https://b/1", "pattern": "x"})
    table.put_item(Item={"id": "BROKEN-2", "title": "t", "bug_url": "https://b/2", "pattern": r"(a)\1"})
    service = analyze_service(
        AnalyzeSettings.from_env(stack.env),
        FetchSettings(log_hosts=[log_server], allow_private_addresses=True),
        LayoutSettings(),
        AwsClients(),
    )
    run = RunEvent(
        source="zuul",
        job="tempest-full-py3",
        build_id="b1",
        result="FAILURE",
        log_url=f"{log_server}/tempest-mixed/",
    )
    # When a run is analysed
    report = service.handle(run)
    # Then the good signatures still explain their failure, and the notes name both bad items
    assert report.verdict.value == "failed_new"
    assert {f.known_issue.id for f in report.failures if f.known_issue} == {"LP-1929710"}
    assert any("BROKEN-1" in note and "malformed" in note for note in report.notes)
    assert any("BROKEN-2" in note and "not valid RE2" in note for note in report.notes)
    # And the CLI's strict reading still refuses the table, naming the bad item
    with pytest.raises(InvalidSignature, match="BROKEN-1"):
        known.list()
