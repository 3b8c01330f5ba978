"""events/invoke/: every sample event (what `sam local invoke -e` takes) runs through its real
handler against the embedded AWS endpoint, and the files match their generator."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests
from citriage.local.embedded import LambdaContext, load_handler

from tests.conftest import EVENTS, REPO, SENDER
from tests.fake_ci import Route, fake_ci

pytestmark = pytest.mark.integration
INVOKE = EVENTS / "invoke"


def generator():
    path = REPO / "tests" / "fixtures" / "make_invoke_events.py"
    spec = importlib.util.spec_from_file_location("make_invoke_events", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> dict:
    return json.loads((INVOKE / name).read_text())


@pytest.fixture
def keyed_stack(embedded_aws, tmp_path):
    reset = f"{embedded_aws.endpoint}/moto-api/reset"
    requests.post(reset, timeout=10).raise_for_status()
    yield embedded_aws.provision(
        SENDER,
        ["http://host.docker.internal:8081"],
        tmp_path / "out",
        load("webhook-keys.json"),
        unsubscribe_key=generator().UNSUBSCRIBE_KEY,
    )
    # moto's state is per process: leave none for modules that start their own endpoint.
    requests.post(reset, timeout=10).raise_for_status()


def test_the_files_are_what_the_generator_writes():
    expected = generator().all_events()
    assert sorted(p.name for p in INVOKE.glob("*.json")) == sorted(expected)
    for name, content in expected.items():
        assert load(name) == json.loads(json.dumps(content)), name


@pytest.mark.parametrize("source", ["zuul", "jenkins", "github", "gitlab", "openqa", "gerrit", "generic"])
def test_each_webhook_event_is_accepted_by_the_webhook_function(source, keyed_stack):
    # Given the sample API Gateway event of the source, signed with the sample keys
    event = load(f"webhook-{source}.json")
    # When the webhook function is invoked with it
    response = load_handler("webhook")(event, LambdaContext("WebhookFunction"))
    # Then its runs are accepted: one, or the two failed jobs of Zuul's Gerrit comment
    assert response["statusCode"] == 202, response
    assert len(json.loads(response["body"])["accepted"]) == (2 if source == "gerrit" else 1)


def test_the_feedback_round_finds_no_buildset_past_its_deadline_on_a_fresh_stack(keyed_stack):
    outcome = load_handler("feedback")(load("feedback-scheduled.json"), LambdaContext("FeedbackFunction"))
    assert outcome == {"published": [], "incomplete": []}


def test_analyze_then_notify_events_succeed(keyed_stack):
    # Given the sample analyze event (its logs are on the docker host, unreachable here)
    analyzed = load_handler("analyze")(load("analyze-sqs.json"), LambdaContext("AnalyzeFunction"))
    # Then the run is analysed and stored anyway (with a note), so the notify event finds it
    assert analyzed == {"batchItemFailures": []}
    notified = load_handler("notify")(load("notify-sqs.json"), LambdaContext("NotifyFunction"))
    assert notified == {"batchItemFailures": []}


def test_query_and_authorizer_events_are_answered(keyed_stack):
    import hashlib

    import boto3

    # Given the sample token stored as `citriage tokens create` stores one (its SHA-256 only)
    token = generator().SAMPLE_TOKEN
    table = boto3.resource("dynamodb").Table(keyed_stack.env["TOKENS_TABLE"])
    authorizer = load_handler("authorizer")
    assert authorizer(load("authorizer-request.json"), LambdaContext("AuthorizerFunction")) == {
        "isAuthorized": False
    }
    table.put_item(
        Item={
            "token_id": "sampleaaaa",
            "name": "sample",
            "scope": "read",
            "created_at": "2026-12-01T00:00:00Z",
            "hash": hashlib.sha256(token.encode()).hexdigest(),
        }
    )
    # Then the authorizer accepts it with its scope, and the query function answers GET /runs
    assert authorizer(load("authorizer-request.json"), LambdaContext("AuthorizerFunction")) == {
        "isAuthorized": True,
        "context": {"scope": "read", "token_id": "sampleaaaa"},
    }
    response = load_handler("query")(load("query-runs.json"), LambdaContext("QueryFunction"))
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"items": [], "cursor": None}
    # And neither function writes the token (or its secret part) to its log, though both log: run
    # as Lambda runs them, in a process of their own at the template's INFO level
    script = (
        "import json; from citriage.local.embedded import LambdaContext, load_handler\n"
        f"events = {str(INVOKE)!r}\n"
        "for name, fn in (('authorizer-request.json', 'authorizer'), ('query-runs.json', 'query')):\n"
        "    load_handler(fn)(json.load(open(events + '/' + name)), LambdaContext(fn))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")} | {"LOG_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert "sampleaaaa" in done.stdout
    assert token.split("_")[-1] not in done.stdout + done.stderr


def test_the_incident_round_closes_a_quiet_incident_announces_it_and_releases_its_held_run(keyed_stack):
    import boto3
    from citriage.adapters.aws.holds import HeldRunStore
    from citriage.adapters.aws.incidents import IncidentStore
    from citriage.incidents.tracker import IncidentTracker
    from citriage.models import InfraFinding, RunEvent, RunReport, TestCounts, Verdict
    from citriage.models.incident import HeldRun, IncidentPolicy, IncidentState

    # Given an incident whose last hit was two hours ago (the grid has been silent since)
    store = IncidentStore(
        boto3.resource("dynamodb").Table(keyed_stack.env["INCIDENTS_TABLE"]), boto3.client("dynamodb")
    )
    ended = datetime.now(UTC) - timedelta(hours=2)
    tracker = IncidentTracker(store, IncidentPolicy(), clock=lambda: ended)
    for n, job in enumerate(["a", "b", "a"]):
        report = RunReport(
            run=RunEvent(source="zuul", job=job, build_id=f"q{n}", log_url="https://l/", end_time=ended),
            verdict=Verdict.INFRA,
            tests=TestCounts(),
            infra=[
                InfraFinding(rule="dns-could-not-resolve-host", category="network", service="m.example.org")
            ],
        )
        observed = tracker.observe(report)
    incident_id = observed.incident
    assert incident_id and store.get(incident_id).state is IncidentState.OPEN
    # And a run it held, of a source no API can rerun
    held = RunEvent(source="generic", job="nightly", build_id="n1", log_url="https://l/n1/")
    HeldRunStore(boto3.resource("dynamodb").Table(keyed_stack.env["INCIDENTS_TABLE"])).hold(
        HeldRun(run_id=held.run_id, incident=incident_id, run=held, held_at=ended)
    )
    # When the scheduled round runs
    answer = load_handler("incidents")(load("incidents-scheduled.json"), LambdaContext("IncidentsFunction"))
    # Then it closed the incident as quiet, published its opening and its closing, and
    # released the held run (nothing can rerun it)
    assert answer == {
        "closed": [incident_id],
        "announced": 2,
        "rechecked": [],
        "released": ["generic:n1"],
        "retrying": [],
    }
    closed = store.get(incident_id)
    assert (closed.state, closed.closed_by, sorted(closed.announced)) == (
        IncidentState.CLOSED,
        "quiet",
        ["closed", "open"],
    )
    # And a second round has nothing to do
    assert load_handler("incidents")(
        load("incidents-scheduled.json"), LambdaContext("IncidentsFunction")
    ) == {"closed": [], "announced": 0, "rechecked": [], "released": [], "retrying": []}


def emf_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_an_analysed_run_is_counted_once_with_its_verdict_as_a_dimension(keyed_stack, capsys, monkeypatch):
    # Given metrics enabled, as in AWS
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # When the sample analyze event is handled
    load_handler("analyze")(load("analyze-sqs.json"), LambdaContext("AnalyzeFunction"))
    # Then one EMF record counts the run, its verdict a dimension of that record alone
    [record] = [r for r in emf_lines(capsys.readouterr().out) if "RunsAnalyzed" in r]
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in directive["Metrics"]] == ["RunsAnalyzed"] and record["RunsAnalyzed"] == [1.0]
    assert "Verdict" in directive["Dimensions"][0] and record["Verdict"]


def test_no_metric_is_printed_when_metrics_are_disabled(keyed_stack, capsys, monkeypatch):
    # Given metrics disabled, as local mode (demo, serve) runs
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # When a run is analysed and a webhook refused
    load_handler("analyze")(load("analyze-sqs.json"), LambdaContext("AnalyzeFunction"))
    unsigned = dict(load("webhook-zuul.json"), headers={"content-type": "application/json"})
    assert load_handler("webhook")(unsigned, LambdaContext("WebhookFunction"))["statusCode"] == 401
    # Then no EMF record reaches stdout
    assert emf_lines(capsys.readouterr().out) == []


def test_sweep_event_sweeps_the_configured_jobs(keyed_stack, monkeypatch):
    end = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    build = {
        "uuid": "sw1",
        "job_name": "nightly",
        "result": "FAILURE",
        "log_url": "https://logs/x/",
        "end_time": end,
    }
    with fake_ci() as zuul:
        zuul.handlers["/api/tenant/openstack/builds"] = lambda q: Route(
            body=json.dumps([build] if q.get("skip") == "0" else []).encode()
        )
        job = {
            "kind": "zuul",
            "api": zuul.url,
            "tenant": "openstack",
            "pipeline": "periodic",
            "job_name": "nightly",
        }
        monkeypatch.setitem(os.environ, "SWEEP_JOBS", json.dumps([job]))
        result = load_handler("sweep")(load("sweep-scheduled.json"), LambdaContext("SweepFunction"))
    assert [(j["enqueued"], j["error"]) for j in result["jobs"]] == [(["zuul:sw1"], None)]


def test_digest_and_ses_events_succeed(keyed_stack):
    # Given the digest schedule's input and an SES bounce delivered by SNS
    digest = load_handler("digest")(load("digest-daily.json"), LambdaContext("DigestFunction"))
    bounced = load_handler("ses_events")(load("ses-events-sns.json"), LambdaContext("SesEventsFunction"))
    # Then the digest runs (nothing to send on an empty table) and the address is suppressed
    assert digest["sent"] == []
    assert bounced["suppressed"] == ["gone@example.org"]


def test_unsubscribe_event_shows_the_confirmation_page(keyed_stack):
    # Given a mail's signed unsubscribe link as API Gateway delivers its GET
    response = load_handler("unsubscribe")(load("unsubscribe-get.json"), LambdaContext("UnsubscribeFunction"))
    # Then the function asks to confirm, with a button that POSTs the same link
    assert response["statusCode"] == 200, response
    assert "nova-core@example.org will get no more mail" in response["body"]
    assert '<form method="post"' in response["body"]


def test_a_run_the_invocation_has_no_time_left_for_is_left_for_redelivery(keyed_stack):
    class AlmostOut(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 20_000

    # Given an analyze batch arriving with 20 s of the invocation left
    event = load("analyze-sqs.json")
    result = load_handler("analyze")(event, AlmostOut("AnalyzeFunction"))
    # Then the run is not judged on part of its logs: it fails back to SQS, to be delivered again
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_the_monthly_downtime_report_goes_to_infra_subscribers_once(keyed_stack, tmp_path):
    import boto3
    from citriage.adapters.aws.dynamodb import SubscriptionStore
    from citriage.adapters.aws.incidents import IncidentStore
    from citriage.incidents.tracker import IncidentTracker
    from citriage.models import InfraFinding, RunEvent, RunReport, Subscription, TestCounts, Verdict
    from citriage.models.incident import IncidentPolicy
    from citriage.notify.downtime_mail import previous_month

    # Given an infra subscriber, and an outage last month: three runs, closed by a clean run
    dynamodb = boto3.resource("dynamodb")
    SubscriptionStore(dynamodb.Table(keyed_stack.env["SUBSCRIPTIONS_TABLE"])).put(
        Subscription(email="ci-admins@example.org", jobs=["*"], verdicts=["infra"])
    )
    start, _ = previous_month(datetime.now(UTC))
    at = start + timedelta(days=3, hours=10)
    store = IncidentStore(dynamodb.Table(keyed_stack.env["INCIDENTS_TABLE"]), boto3.client("dynamodb"))
    tracker = IncidentTracker(store, IncidentPolicy(), clock=lambda: at + timedelta(minutes=30))

    def report(n: int, job: str, minutes: int, verdict: Verdict) -> RunReport:
        ended = at + timedelta(minutes=minutes)
        infra = (
            [InfraFinding(rule="r", category="mirror", service="mirror.example.org")]
            if verdict is Verdict.INFRA
            else []
        )
        run = RunEvent(source="zuul", job=job, build_id=f"m{n}", log_url="https://l/", end_time=ended)
        return RunReport(run=run, verdict=verdict, tests=TestCounts(), infra=infra)

    for n, job in enumerate(["a", "b", "a"]):
        tracker.observe(report(n, job, n, Verdict.INFRA))
    tracker.observe(report(3, "a", 20, Verdict.PASSED))
    tracker.observe(report(4, "b", 25, Verdict.PASSED))
    # When the monthly schedule runs the digest function, twice
    digest = load_handler("digest")
    first = digest({"period": "monthly"}, LambdaContext("DigestFunction"))
    second = digest({"period": "monthly"}, LambdaContext("DigestFunction"))
    # Then the subscriber got one report of that month, whose totals are the incident's own
    assert (first["sent"], second["sent"], second["already_sent"]) == (
        ["ci-admins@example.org"],
        [],
        ["ci-admins@example.org"],
    )
    month = f"{start:%Y-%m}"
    [mail] = (tmp_path / "out").glob(f"downtime-{month}__*.eml")
    text = mail.read_text()
    assert "1 incident(s), 25m 00s down in all" in text and "mirror mirror.example.org" in text
