"""The query API's routes are written down once in code (citriage.query.api.ROUTES) and must be
the same in docs/openapi.yaml, in template.yaml (each behind the token authorizer) and in
docs/api.md; the dashboard's routes are public."""

from __future__ import annotations

import re

import yaml
from citriage.adapters.aws.provision import read_template
from citriage.query.api import DASHBOARD_ROUTES, ROUTES

from tests.conftest import REPO

DOCS = REPO / "docs"


def test_the_openapi_document_lists_exactly_the_routes():
    document = yaml.safe_load((DOCS / "openapi.yaml").read_text())
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert listed == set(ROUTES)
    # Every answer's schema is a checked-in file
    refs = re.findall(r'\$ref: "(schemas/[^"]+)"', (DOCS / "openapi.yaml").read_text())
    assert refs and all((DOCS / ref).is_file() for ref in refs)


def test_the_template_routes_them_to_the_query_function_behind_the_authorizer():
    template = read_template(REPO / "template.yaml")
    events = template["Resources"]["QueryFunction"]["Properties"]["Events"].values()
    routes = {
        (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"].get("Auth") for e in events
    }
    assert set(routes) == set(ROUTES) | set(DASHBOARD_ROUTES)
    assert all(routes[route] == {"Authorizer": "TokenAuthorizer"} for route in ROUTES)
    assert all(routes[route] is None for route in DASHBOARD_ROUTES)
    # No other function answers on those paths
    others = [
        (e["Properties"].get("Method"), e["Properties"].get("Path"))
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function" and name != "QueryFunction"
        for e in (resource["Properties"].get("Events") or {}).values()
        if e.get("Type") == "HttpApi"
    ]
    assert not set(others) & set(routes)


def test_docs_api_names_every_route():
    text = (DOCS / "api.md").read_text()
    for method, path in ROUTES:
        assert f"`{method} {path}`" in text, (method, path)
