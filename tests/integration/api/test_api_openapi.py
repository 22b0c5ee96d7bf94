"""/api/v1/openapi.json describes every API route and is a valid OpenAPI 3.1 document."""

from __future__ import annotations

import re

import pytest

from cs_app.api.openapi import build_document

API_PREFIX = "/api/v1"


def api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(API_PREFIX))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    return routes


@pytest.fixture
def document(client):
    response = client.get(f"{API_PREFIX}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_every_api_route_is_described(app, document):
    described = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    routes = api_routes(app)
    assert len(routes) >= 29  # the routes of this release; later ones add more
    assert routes == described


def test_spec_endpoints_are_all_there(document):
    expected = {
        ("/accounts", "get"),
        ("/accounts/{external_id}", "get"),
        ("/accounts/{external_id}", "put"),
        ("/accounts/{external_id}/contacts", "post"),
        ("/accounts/{external_id}/contacts/{contact_id}", "patch"),
        ("/accounts/{external_id}/plans", "get"),
        ("/accounts/{external_id}/plans", "post"),
        ("/plans/{plan_id}", "get"),
        ("/plans/{plan_id}", "patch"),
        ("/plans/{plan_id}/history", "get"),
        ("/openapi.json", "get"),
    }
    for component in ("outcomes", "milestones", "stakeholders", "risks", "actions", "reviews"):
        expected |= {
            (f"/plans/{{plan_id}}/{component}", "post"),
            (f"/plans/{{plan_id}}/{component}/{{item_id}}", "patch"),
            (f"/plans/{{plan_id}}/{component}/{{item_id}}", "delete"),
        }
    described = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert expected <= described


def test_document_is_valid_openapi_3_1(document):
    validator = pytest.importorskip("openapi_spec_validator")
    assert document["openapi"] == "3.1.0"
    validator.validate(document)


def test_bearer_auth_everywhere_but_the_document_itself(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path == "/openapi.json":
                assert operation["security"] == []
            else:
                assert "401" in operation["responses"], (path, method)
                assert "security" not in operation


def test_errors_share_one_schema(document):
    schemas = document["components"]["schemas"]
    error = schemas["ErrorBody"]
    assert set(error["required"]) == {"code", "message", "fields"}
    for name in (
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "ValidationFailed",
    ):
        response = document["components"]["responses"][name]
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    put_account = document["paths"]["/accounts/{external_id}"]["put"]
    assert {"200", "201", "400", "401", "403", "404", "409", "422"} <= set(put_account["responses"])
    plan_patch = document["paths"]["/plans/{plan_id}"]["patch"]
    assert "409" in plan_patch["responses"]


def test_request_bodies_come_from_the_pydantic_models(document):
    schemas = document["components"]["schemas"]
    action = schemas["ActionCreate"]
    assert {"title", "owner", "due_date"} <= set(action["required"])
    assert action["additionalProperties"] is False
    assert action["properties"]["owner"] == {"$ref": "#/components/schemas/PersonRef"}
    assert "version" in schemas["PlanUpdate"]["required"]
    operation = document["paths"]["/plans/{plan_id}/actions"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ActionCreate"
    }
    assert operation["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ActionOut"
    }
    delete = document["paths"]["/plans/{plan_id}/actions/{item_id}"]["delete"]
    assert "content" not in delete["responses"]["204"]


def test_list_parameters_are_documented(document):
    parameters = {p["name"]: p for p in document["paths"]["/accounts"]["get"]["parameters"]}
    assert set(parameters) == {
        "segment",
        "csm",
        "stage",
        "engagement_model",
        "q",
        "band",
        "page",
        "per_page",
    }
    assert parameters["per_page"]["schema"]["maximum"] == 200
    assert all(p["in"] == "query" for p in parameters.values())
    path_parameter = document["paths"]["/plans/{plan_id}"]["get"]["parameters"][0]
    assert (path_parameter["name"], path_parameter["in"], path_parameter["required"]) == (
        "plan_id",
        "path",
        True,
    )


def test_every_referenced_schema_exists(document):
    text = str(document)
    for name in re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", text):
        assert name in document["components"]["schemas"], name


def test_an_undocumented_route_is_caught(app):
    from flask import Flask

    from cs_app.api import bp

    other = Flask("undocumented")
    other.register_blueprint(bp)
    other.add_url_rule(f"{API_PREFIX}/secret", endpoint="api.secret", view_func=lambda: "")
    with pytest.raises(LookupError, match="secret"):
        build_document(other)


def test_the_document_states_the_limits_validation_applies(document):
    schemas = document["components"]["schemas"]
    assert schemas["PersonRef"]["anyOf"] == [
        {"$ref": "#/components/schemas/ContactIdRef"},
        {"$ref": "#/components/schemas/UserEmailRef"},
    ]
    assert schemas["ContactIdRef"]["required"] == ["contact_id"]
    contact_id = schemas["ContactIdRef"]["properties"]["contact_id"]
    assert (contact_id["minimum"], contact_id["maximum"]) == (1, 2**31 - 1)
    assert schemas["PlanUpdate"]["properties"]["version"]["maximum"] == 2**63 - 1
    assert schemas["PlanUpdate"]["properties"]["title"]["pattern"] == r"^[^\x00]*$"
    assert "JsonValue" in schemas
    plan = document["paths"]["/plans/{plan_id}"]["patch"]
    assert plan["parameters"][0]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**31 - 1,
    }
    assert "413" in plan["responses"]


def test_a_whole_number_written_as_a_float_is_a_whole_number():
    from cs_app.api.schemas import AccountWrite

    assert AccountWrite.model_validate_json('{"employees": 5.0}').employees == 5
    with pytest.raises(ValueError):
        AccountWrite.model_validate_json('{"employees": 5.5}')
    with pytest.raises(ValueError):
        AccountWrite.model_validate_json('{"employees": "5"}')


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/pools/{id}"),
        ("PUT", "/pools/{id}"),
        ("DELETE", "/plans/{id}/actions/1"),
        ("PATCH", "/plans/1/actions/{id}"),
    ],
)
def test_an_id_beyond_the_database_is_no_row_for_every_method(client, method, path):
    """Not 405: werkzeug says so when a converter refuses a path another method serves."""
    response = client.open(API_PREFIX + path.format(id=2**31), method=method, json={})
    assert response.status_code in (401, 404)
