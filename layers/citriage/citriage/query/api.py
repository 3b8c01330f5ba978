"""The query API's routes (docs/api.md): one Powertools router per resource, made afresh for each
resolver (a router holds the resolver it answers for: two instances of the function in one
process, as `citriage serve` runs them, must not share one). Each route asks the QueryService it
was given and answers JSON. Ids in a path are percent-encoded by the client (a test id may hold
`/`), and decoded here."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ValidationError

from citriage.errors import BadRequest, Forbidden, NotFound, validation_summary
from citriage.incidents.ledger import IncidentLedger
from citriage.models.incident import IncidentState
from citriage.models.query import TokenScope
from citriage.query.service import DEFAULT_LIMIT, MAX_LIMIT, QueryService, RunFilters

# Every route the API answers (method, path): docs/openapi.yaml and template.yaml list exactly these.
ROUTES = [
    ("GET", "/runs"),
    ("GET", "/runs/{run_id}"),
    ("POST", "/runs/{run_id}/reanalyze"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{job}/history"),
    ("GET", "/tests/{test_id}/history"),
    ("GET", "/known-issues"),
    ("GET", "/known-issues/{issue_id}"),
    ("GET", "/clusters"),
    ("GET", "/clusters/{cluster_id}"),
    ("GET", "/status"),
    ("GET", "/incidents"),
    ("GET", "/incidents/report"),
    ("GET", "/incidents/{incident_id}"),
    ("POST", "/incidents/{incident_id}/close"),
]
# The dashboard's page and assets: public (the page asks for a token, which its calls carry).
DASHBOARD_ROUTES = [("GET", "/"), ("GET", "/dashboard/{asset}")]
DASHBOARD = Path(__file__).with_name("dashboard")
_ASSET_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css",
}


def _router() -> APIGatewayHttpRouter:
    return APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


Service = Callable[[], QueryService]


def resolver(service: Service) -> APIGatewayHttpResolver:
    """The API's resolver: every resource's router, over `service`."""
    app = APIGatewayHttpResolver()
    routers = (_runs(service), _jobs(service), _tests(service), _known_issues(service), _status(service))
    for router in (*routers, _incidents(service)):
        app.include_router(router)
    app.include_router(_dashboard())
    return app


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


# The longest id a path may carry (a DynamoDB key holds 1,024 bytes at most; test ids run long).
MAX_ID_BYTES = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def path_id(raw: str, what: str) -> str:
    """A percent-decoded id from a path; BadRequest when it is too long, not UTF-8 or holds
    control characters (it would be refused by the table, or corrupt a log line)."""
    try:
        value = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"{what}: not UTF-8") from None
    if not value or len(value.encode("utf-8")) > MAX_ID_BYTES or _CONTROL.search(value):
        raise BadRequest(f"{what}: 1 to {MAX_ID_BYTES} bytes of printable text")
    return value


def scope_of(router: APIGatewayHttpRouter) -> TokenScope | None:
    """The scope the authorizer granted this request (None: no authorizer ran)."""
    context = router.current_event.request_context.authorizer.get_lambda or {}
    scope = context.get("scope")
    return TokenScope(scope) if scope in set(TokenScope) else None


def _runs(service: Service) -> APIGatewayHttpRouter:
    runs = _router()

    @runs.get("/runs")
    def search_runs() -> Response[str]:
        """Runs newest first; filters job, project, source, verdict, change, since, until."""
        try:
            filters = RunFilters.model_validate(_query(runs))
        except ValidationError as exc:
            raise BadRequest(validation_summary(exc)) from None
        return _json(service().search_runs(filters))

    @runs.get("/runs/<run_id>")
    def run_info(run_id: str) -> Response[str]:
        """A run's report."""
        wanted = path_id(run_id, "run id")
        return _json(service().run(wanted))

    @runs.post("/runs/<run_id>/reanalyze")
    def reanalyze(run_id: str) -> Response[str]:
        """Queue a run for a new analysis (admin scope)."""
        if scope_of(runs) is not TokenScope.ADMIN:
            raise Forbidden("reanalyze needs a token with the admin scope")
        wanted = path_id(run_id, "run id")
        run = service().reanalyze(wanted)
        return _json({"run_id": run.run_id, "reanalysis": run.reanalysis, "queued": True}, status_code=202)

    return runs


def _jobs(service: Service) -> APIGatewayHttpRouter:
    jobs = _router()

    @jobs.get("/jobs")
    def job_list() -> Response[str]:
        """Jobs by name, with their last run and recent pass rate (`job`: that job's, per source)."""
        query = _query(jobs)
        if query.get("job"):
            return _json(service().job(query["job"]))
        limit = _limit(query)
        return _json(service().jobs(limit, query.get("cursor")))

    @jobs.get("/jobs/<job>/history")
    def job_history(job: str) -> Response[str]:
        """A job's runs, newest first, with the tests that failed in each."""
        query = _query(jobs)
        wanted, limit = path_id(job, "job"), _limit(query)
        return _json(service().job_history(wanted, query.get("source"), limit, query.get("cursor")))

    return jobs


def _tests(service: Service) -> APIGatewayHttpRouter:
    tests = _router()

    @tests.get("/tests/<test_id>/history")
    def test_history(test_id: str) -> Response[str]:
        """The runs a test failed in, and its failure rate per job."""
        query = _query(tests)
        wanted, limit = path_id(test_id, "test id"), _limit(query)
        return _json(service().test_history(wanted, limit, query.get("cursor")))

    return tests


def _known_issues(service: Service) -> APIGatewayHttpRouter:
    known_issues = _router()

    @known_issues.get("/known-issues")
    def known_issue_list() -> Response[str]:
        """Every signature with its hit statistics."""
        return _json(service().known_issues())

    @known_issues.get("/known-issues/<issue_id>")
    def known_issue_info(issue_id: str) -> Response[str]:
        """A signature, its statistics and the runs it explained lately (`limit`, default 20)."""
        wanted, limit = path_id(issue_id, "known issue id"), _limit({"limit": "20"} | _query(known_issues))
        return _json(service().known_issue(wanted, limit))

    @known_issues.get("/clusters")
    def cluster_search() -> Response[str]:
        """Clusters of new failures seen in a period (`since`, default 7 days), biggest first."""
        query = _query(known_issues)
        until = when_of(query.get("until"), "until") or datetime.now(UTC)
        since = when_of(query.get("since"), "since") or until - timedelta(days=7)
        return _json(service().clusters(since, until, _limit({"limit": "20"} | query)))

    @known_issues.get("/clusters/<cluster_id>")
    def cluster_info(cluster_id: str) -> Response[str]:
        """A cluster of new failures and its members, newest first (`limit`, default 100)."""
        wanted, limit = path_id(cluster_id, "cluster id"), _limit({"limit": "100"} | _query(known_issues))
        return _json(service().cluster(wanted, limit))

    return known_issues


def _status(service: Service) -> APIGatewayHttpRouter:
    status = _router()

    @status.get("/status")
    def grid_status() -> Response[str]:
        """Queue depths, each source's last run, the last hour's verdicts."""
        return _json(service().status())

    return status


_RELATIVE = re.compile(r"(\d{1,4})([dh])")


def when_of(value: str | None, name: str) -> datetime | None:
    """An ISO time (UTC when it has no zone), or `30d` / `12h` before now; None when not given."""
    if not value:
        return None
    relative = _RELATIVE.fullmatch(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(UTC) - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: an ISO time or a span like 30d or 12h") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _incidents(service: Service) -> APIGatewayHttpRouter:
    incidents = _router()

    def ledger() -> IncidentLedger:
        found = service().incidents
        if found is None:
            raise NotFound("this stack keeps no incidents")
        return found

    @incidents.get("/incidents")
    def incident_list() -> Response[str]:
        """Incidents opened in a period (default: the last 30 days), newest first."""
        query = _query(incidents)
        state = query.get("state")
        if state and state not in set(IncidentState):
            raise BadRequest("state: open or closed")
        since, until = when_of(query.get("since"), "since"), when_of(query.get("until"), "until")
        found = ledger().search(
            since, until, IncidentState(state) if state else None, query.get("category") or None
        )
        return _json(found)

    @incidents.get("/incidents/report")
    def incident_report() -> Response[str]:
        """The downtime ledger of a period: per service and category, and in all."""
        query = _query(incidents)
        since, until = when_of(query.get("since"), "since"), when_of(query.get("until"), "until")
        return _json(ledger().report(since, until))

    @incidents.get("/incidents/<incident_id>")
    def incident_info(incident_id: str) -> Response[str]:
        """One incident."""
        wanted = path_id(incident_id, "incident id")
        return _json(ledger().info(wanted))

    @incidents.post("/incidents/<incident_id>/close")
    def incident_close(incident_id: str) -> Response[str]:
        """Close an open incident (admin scope)."""
        if scope_of(incidents) is not TokenScope.ADMIN:
            raise Forbidden("closing an incident needs a token with the admin scope")
        context = incidents.current_event.request_context.authorizer.get_lambda or {}
        wanted = path_id(incident_id, "incident id")
        closed = ledger().close(wanted, f"admin ({context.get('token_id', 'unknown token')})")
        return _json(closed)

    return incidents


def _dashboard() -> APIGatewayHttpRouter:
    dashboard = _router()

    @dashboard.get("/")
    def dashboard_page() -> Response[str]:
        """The dashboard's page."""
        return _asset("index.html")

    @dashboard.get("/dashboard/<asset>")
    def dashboard_asset(asset: str) -> Response[str]:
        """One of the dashboard's own files (by name: nothing else is served)."""
        return _asset(asset)

    return dashboard


def _asset(name: str) -> Response[str]:
    files = {path.name: path for path in DASHBOARD.iterdir() if path.suffix in _ASSET_TYPES}
    if name not in files:
        raise NotFound(f"no dashboard file {name!r}")
    return Response(
        status_code=200,
        content_type=_ASSET_TYPES[files[name].suffix],
        body=files[name].read_text("utf-8"),
        headers={
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        },
    )
