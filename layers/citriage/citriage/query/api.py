"""The query API's routes (docs/api.md): one Powertools router per resource, included by the
QueryFunction and by `citriage serve`. Each route reads the QueryService from the resolver's
context (`app.append_context(service=...)`) and answers JSON. Ids in a path are percent-encoded
by the client (a test id may hold `/`), and decoded here."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ValidationError

from citriage.errors import BadRequest, Forbidden, validation_summary
from citriage.models.query import TokenScope
from citriage.query.service import DEFAULT_LIMIT, MAX_LIMIT, QueryService, RunFilters


def _router() -> APIGatewayHttpRouter:
    return APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


runs = _router()
jobs = _router()
tests = _router()
known_issues = _router()
status = _router()
ROUTERS = (runs, jobs, tests, known_issues, status)

# Every route the API answers (method, path): docs/openapi.yaml must list exactly these.
ROUTES = [
    ("GET", "/runs"),
    ("GET", "/runs/{run_id}"),
    ("POST", "/runs/{run_id}/reanalyze"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{job}/history"),
    ("GET", "/tests/{test_id}/history"),
    ("GET", "/known-issues"),
    ("GET", "/known-issues/{issue_id}"),
    ("GET", "/status"),
]


def _service(router: APIGatewayHttpRouter) -> QueryService:
    return cast(QueryService, router.context["service"])


def _query(router: APIGatewayHttpRouter) -> dict[str, str]:
    return dict(router.current_event.query_string_parameters or {})


def _json(
    document: BaseModel | Sequence[BaseModel] | Mapping[str, Any], status_code: int = 200
) -> Response[str]:
    if isinstance(document, BaseModel):
        body = document.model_dump_json()
    elif isinstance(document, Sequence):
        body = "[" + ",".join(item.model_dump_json() for item in document) + "]"
    else:
        body = json.dumps(document)
    return Response(status_code=status_code, content_type=content_types.APPLICATION_JSON, body=body)


def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit: a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def scope_of(router: APIGatewayHttpRouter) -> TokenScope | None:
    """The scope the authorizer granted this request (None: no authorizer ran)."""
    context = router.current_event.request_context.authorizer.get_lambda or {}
    scope = context.get("scope")
    return TokenScope(scope) if scope in set(TokenScope) else None


@runs.get("/runs")
def search_runs() -> Response[str]:
    """Runs newest first; filters job, project, source, verdict, change, since, until."""
    query = _query(runs)
    try:
        filters = RunFilters.model_validate(query)
    except ValidationError as exc:
        raise BadRequest(validation_summary(exc)) from None
    return _json(_service(runs).search_runs(filters))


@runs.get("/runs/<run_id>")
def run_info(run_id: str) -> Response[str]:
    """A run's report."""
    return _json(_service(runs).run(unquote(run_id)))


@runs.post("/runs/<run_id>/reanalyze")
def reanalyze(run_id: str) -> Response[str]:
    """Queue a run for a new analysis (admin scope)."""
    if scope_of(runs) is not TokenScope.ADMIN:
        raise Forbidden("reanalyze needs a token with the admin scope")
    run = _service(runs).reanalyze(unquote(run_id))
    return _json({"run_id": run.run_id, "reanalysis": run.reanalysis, "queued": True}, status_code=202)


@jobs.get("/jobs")
def job_list() -> Response[str]:
    """Jobs by name, with their last run and recent pass rate."""
    query = _query(jobs)
    return _json(_service(jobs).jobs(_limit(query), query.get("cursor")))


@jobs.get("/jobs/<job>/history")
def job_history(job: str) -> Response[str]:
    """A job's runs, newest first."""
    query = _query(jobs)
    return _json(
        _service(jobs).job_history(unquote(job), query.get("source"), _limit(query), query.get("cursor"))
    )


@tests.get("/tests/<test_id>/history")
def test_history(test_id: str) -> Response[str]:
    """The runs a test failed in, and its failure rate per job."""
    query = _query(tests)
    return _json(_service(tests).test_history(unquote(test_id), _limit(query), query.get("cursor")))


@known_issues.get("/known-issues")
def known_issue_list() -> Response[str]:
    """Every signature with its hit statistics."""
    return _json(_service(known_issues).known_issues())


@known_issues.get("/known-issues/<issue_id>")
def known_issue_info(issue_id: str) -> Response[str]:
    """A signature, its statistics and the runs it explained lately."""
    return _json(_service(known_issues).known_issue(unquote(issue_id)))


@status.get("/status")
def grid_status() -> Response[str]:
    """Queue depths, each source's last run, the last hour's verdicts."""
    return _json(_service(status).status())
