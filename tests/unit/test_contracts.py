"""The event catalogue: checked-in JSON Schemas match the models, and real payloads satisfy them."""

import json
from pathlib import Path

import jsonschema
import pytest
from citriage.config import FetchSettings, LayoutSettings
from citriage.models import RunAnalyzed, RunEvent
from citriage.models.schemas import CONTRACTS, schema_of, schema_text
from citriage.wiring import local_analyzer

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_checked_in_schema_matches_its_model(name):
    # Given the schema generated from the model now, and the one in docs/schemas/
    checked_in = SCHEMAS / f"{name}.json"
    # Then they are the same text (run `make schemas` after changing a model)
    assert checked_in.is_file(), f"{checked_in} is missing: run make schemas"
    assert checked_in.read_text("utf-8") == schema_text(name), f"{name}: run make schemas"


def test_every_checked_in_schema_is_a_contract():
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(CONTRACTS)


def test_a_real_report_and_its_event_satisfy_their_schemas():
    # Given the report of a real analysis (the mixed tempest tree: new, known and infra failures)
    analyzer = local_analyzer(FetchSettings(), LayoutSettings(), REPO / "events" / "known-issues.yaml")
    tree = REPO / "events" / "logs" / "tempest-mixed"
    report = analyzer.analyze(
        RunEvent(
            source="zuul", job="tempest-full-py3", build_id="b1", result="FAILURE", log_url=tree.as_uri()
        )
    )
    assert {f.classification.value for f in report.failures} == {"new", "known", "infra"}
    data = json.loads(report.model_dump_json())
    # Then the report, its run and its RunAnalyzed detail validate against the checked-in schemas
    jsonschema.validate(data, schema_of("run-report"))
    jsonschema.validate(data["run"], schema_of("run-event"))
    detail = json.loads(RunAnalyzed.from_report(report).model_dump_json())
    jsonschema.validate(detail, schema_of("run-analyzed"))


def test_the_notify_sample_event_satisfies_the_bus_event_schema():
    # Given the bus event in events/invoke/notify-sqs.json (what EventBridge puts on the notify queue)
    records = json.loads((REPO / "events" / "invoke" / "notify-sqs.json").read_text("utf-8"))["Records"]
    event = json.loads(records[0]["body"])
    # Then it validates, and a detail without its verdict does not
    jsonschema.validate(event, schema_of("run-analyzed-event"))
    del event["detail"]["verdict"]
    with pytest.raises(jsonschema.ValidationError, match="verdict"):
        jsonschema.validate(event, schema_of("run-analyzed-event"))
