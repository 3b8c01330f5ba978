"""JSON Schemas of the contracts others consume, generated from the models (docs/schemas/).

`make schemas` writes them; a test fails when a model and its checked-in schema drift, so a
consumer reading docs/events.md never reads a stale shape.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from citriage.models.buildset import BuildsetAnalyzed
from citriage.models.cluster import Cluster
from citriage.models.incident import DowntimeReport, Incident, IncidentChanged, RunReleased
from citriage.models.query import (
    Envelope,
    GridStatus,
    JobSummary,
    KnownIssueStatus,
    Page,
    RunSummary,
    TestHistory,
)
from citriage.models.report import RunAnalyzed, RunAnalyzedEnvelope, RunReport
from citriage.models.run import RunEvent
from citriage.notify.history import RunRecord

# File stem -> (model, what it is). Fields are only ever added to these.
CONTRACTS: dict[str, tuple[type[BaseModel], str]] = {
    "run-event": (RunEvent, "A finished build to analyze: the analyze queue's message body"),
    "run-report": (RunReport, "The report of one analysed run: stored, printed by `citriage analyze`"),
    "run-analyzed": (RunAnalyzed, "The `detail` of the RunAnalyzed event on the citriage bus"),
    "run-analyzed-event": (RunAnalyzedEnvelope, "The RunAnalyzed event as EventBridge delivers it"),
    "incident-changed": (
        IncidentChanged,
        "The `detail` of IncidentOpened and IncidentClosed on the citriage bus",
    ),
    # The query API's answers (docs/api.md, docs/openapi.yaml).
    "run-page": (Page[RunSummary], "GET /runs: run summaries, newest first, and the next page's cursor"),
    "run-history-page": (Page[RunRecord], "GET /jobs/{job}/history: history records with their failed tests"),
    "job-page": (Page[JobSummary], "GET /jobs: jobs with their last run and recent pass rate"),
    "test-history": (TestHistory, "GET /tests/{test_id}/history: the runs a test failed in, rates per job"),
    "known-issue-status": (KnownIssueStatus, "GET /known-issues/{id}: a signature, its statistics, its hits"),
    "cluster": (Cluster, "`GET /clusters/{cluster_id}`: a cluster of new failures and its members"),
    "buildset-analyzed": (
        BuildsetAnalyzed,
        "The `detail` of BuildsetAnalyzed on the citriage bus: one verdict per buildset, for bots",
    ),
    "run-released": (
        RunReleased,
        "The `detail` of RunReleased on the citriage bus: a held run that never ran again",
    ),
    "incident": (
        Incident,
        "GET /incidents/{id}: an infrastructure incident (GET /incidents: a list of them)",
    ),
    "downtime-report": (DowntimeReport, "GET /incidents/report: the downtime ledger of a period"),
    "grid-status": (GridStatus, "GET /status: queue depths, each source's last run, the last hour"),
    "client-envelope": (
        Envelope,
        "Every `citriage` client answer: its invocation status and what it returns",
    ),
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
