"""JSON Schemas of the contracts others consume, generated from the models (docs/schemas/).

`make schemas` writes them; a test fails when a model and its checked-in schema drift, so a
consumer reading docs/events.md never reads a stale shape.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from citriage.models.report import RunAnalyzed, RunAnalyzedEnvelope, RunReport
from citriage.models.run import RunEvent

# File stem -> (model, what it is). Fields are only ever added to these.
CONTRACTS: dict[str, tuple[type[BaseModel], str]] = {
    "run-event": (RunEvent, "A finished build to analyze: the analyze queue's message body"),
    "run-report": (RunReport, "The report of one analysed run: stored, printed by `citriage analyze`"),
    "run-analyzed": (RunAnalyzed, "The `detail` of the RunAnalyzed event on the citriage bus"),
    "run-analyzed-event": (RunAnalyzedEnvelope, "The RunAnalyzed event as EventBridge delivers it"),
}


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of one contract (as validated on input), with an id and a title."""
    model, description = CONTRACTS[name]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:citriage:schema:{name}",
        "title": schema.pop("title", model.__name__),
        "description": description,
        **schema,
    }


def schema_text(name: str) -> str:
    """The schema as it is checked in: sorted keys, two-space indent, a final newline."""
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"
