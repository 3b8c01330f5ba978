"""A batch of the slowest runs never outlasts the analyze function: the first run is judged on
what it could read before its deadline, the rest go back to SQS, all before the timeout."""

from __future__ import annotations

import inspect
import time

import boto3
import pytest
import requests
from citriage.adapters.aws.dynamodb import RunStore
from citriage.local.embedded import LambdaContext, load_handler, sqs_event
from citriage.models import RunEvent

from tests.conftest import SENDER
from tests.hostile.servers import drip_body, hostile_server

pytestmark = pytest.mark.integration
# The function's timeout here, and the time it keeps back to store a report, scaled down from
# the template's 120 s and the handler's 15 s so that the test takes seconds.
TIMEOUT = 12.0
STORE = 2.0
MIN_RUN = 4.0


def test_a_batch_of_runs_on_a_dripping_server_ends_before_the_function_timeout(embedded_aws, tmp_path):
    with hostile_server(drip_body) as url:
        # Fresh resources, whatever ran on the session's endpoint before (as the stack fixture does).
        requests.post(f"{embedded_aws.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        stack = embedded_aws.provision(SENDER, [url], tmp_path / "out")
        handler = load_handler("analyze")
        # The handler module's own globals (under Powertools' decorators).
        inspect.unwrap(handler).__globals__.update(STORE_SECONDS=STORE, MIN_RUN_SECONDS=MIN_RUN)
        # Given a batch of three runs whose log server sends a byte a second
        runs = [
            RunEvent(source="zuul", job="slow", build_id=f"s{n}", result="FAILURE", log_url=f"{url}/s{n}/")
            for n in range(3)
        ]
        messages = [
            {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": run.model_dump_json()}
            for n, run in enumerate(runs)
        ]
        context = LambdaContext("AnalyzeFunction")
        ends = time.monotonic() + TIMEOUT
        context.get_remaining_time_in_millis = lambda: int((ends - time.monotonic()) * 1000)  # type: ignore[method-assign]
        # When the function takes the batch
        started = time.monotonic()
        result = handler(sqs_event(messages, stack.analyze_queue_url), context)
        elapsed = time.monotonic() - started
    # Then it returned before its timeout, with the runs it had no time for failed back to SQS
    assert elapsed < TIMEOUT
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["m1", "m2"]
    # And the first run has a stored report that says its time ran out
    report = RunStore(boto3.resource("dynamodb").Table(stack.env["RUNS_TABLE"])).get_report("zuul:s0")
    assert report is not None
    assert report.verdict.value == "no_results"
    assert any("deadline" in note or "time was up" in note for note in report.notes), report.notes


def test_every_queue_outlasts_six_invocations_of_its_function():
    # SQS redelivers a message whose batch is still being worked on if its visibility timeout is
    # shorter than the function's: AWS asks for six times the timeout.
    from citriage.adapters.aws.provision import read_template

    from tests.conftest import REPO

    template = read_template(REPO / "template.yaml")
    resources = template["Resources"]
    default = template["Globals"]["Function"]["Timeout"]
    checked = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            visibility = resources[queue]["Properties"]["VisibilityTimeout"]
            timeout = resource["Properties"].get("Timeout", default)
            assert visibility >= 6 * timeout, (name, queue, visibility, timeout)
            checked.append(queue)
    assert sorted(checked) == [
        "AnalyzeQueue",
        "FeedbackQueue",
        "IncidentsQueue",
        "NotifyQueue",
        "ReleaseGateQueue",
    ]
