"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of the API.

Paths come from the app's URL map and details from ``cs_app.api.routing.OPERATIONS``, so every
registered route is described; bodies and answers are the pydantic models' JSON Schemas.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cs_app.api.blueprint import bp
from cs_app.api.responses import ErrorResponse
from cs_app.api.routing import OPERATIONS, Operation, api_route
from cs_app.api.schemas import JSON_VALUE, JSON_VALUE_SCHEMA, DocumentSchema
from cs_app.request_args import MAX_ID

REF_TEMPLATE = "#/components/schemas/{model}"
RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# ids the database can hold (``cs_app.url_ids``); any other number is no row: 404
DATABASE_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
PATH_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "external_id": (
        {"type": "string", "minLength": 1, "maxLength": 100},
        "The account's external ID, the key your other systems use.",
    ),
    "plan_id": (DATABASE_ID, "The plan's id."),
    "contact_id": (DATABASE_ID, "The contact's id."),
    "item_id": (DATABASE_ID, "The component item's id."),
    "scorecard_id": (DATABASE_ID, "The scorecard's id."),
    "rule_id": (DATABASE_ID, "The trigger rule's id."),
    "touchpoint_id": (DATABASE_ID, "The touchpoint's id."),
    "pool_id": (DATABASE_ID, "The CSM pool's id."),
    "queue_item_id": (DATABASE_ID, "The queue item's id."),
}
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The body is not valid JSON or not a JSON object."),
    401: (
        "Unauthorized",
        "No valid bearer token: missing, unknown, revoked, or its user is deactivated.",
    ),
    403: (
        "Forbidden",
        "The token's user may not do this (viewers read only; CSMs change what they own).",
    ),
    404: ("NotFound", "Nothing has that id or external ID."),
    409: (
        "Conflict",
        "The version sent is stale (someone changed it since it was read), or "
        "the same row was saved concurrently. Nothing was changed.",
    ),
    413: (
        "RequestTooLarge",
        "The body is larger than the server accepts (16 MiB unless configured otherwise).",
    ),
    422: (
        "ValidationFailed",
        "A field is missing, unknown or wrong; `error.fields` says which (dotted paths) and why.",
    ),
}
DESCRIPTION = """\
The cs_app JSON API.

* Authenticate with `Authorization: Bearer <token>` (tokens are created per user with
  `cs-app users token EMAIL` or by an admin in the browser). The token's user's role applies:
  viewers read only, CSMs change the accounts and plans they own, leads and admins everything.
* Keys are snake_case. Dates are ISO 8601 days (`2026-11-21`), times ISO 8601 in UTC.
  Money is an integer in minor units beside its `currency`.
* Every error is `{"error": {"code", "message", "fields"}}` with `fields` naming each wrong
  field by dotted path. Unknown keys in a body are refused (422).
* Plans and their items carry a `version`; a PATCH with a stale one answers 409 and changes
  nothing.
* Bulk endpoints (`/events`, `/metrics`) answer `{"accepted", "duplicates", "errors"}` with
  one error per refused item by its index; the good items are kept.
* Health bands are `healthy`, `at_risk`, `critical`, `insufficient_data`.
* Owners of milestones, risks and actions are named people: `{"contact_id": N}` (a contact of
  the account) or `{"user_email": "..."}`; a bare name such as "Marketing team" is refused with
  422 and `error.fields.owner`.
"""


def openapi_path(rule: str) -> str:
    return RULE_VARIABLE.sub(r"{\1}", rule.removeprefix(bp.url_prefix or ""))


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    parameters = []
    for name in RULE_VARIABLE.findall(rule):
        schema, description = PATH_PARAMETERS[name]
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": schema,
            }
        )
    return parameters


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=DocumentSchema)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_statuses(operation: Operation, method: str, rule: str) -> list[int]:
    statuses = set()
    if not operation.public:
        statuses.add(401)
    if operation.request is not None:
        statuses.update((400, 413, 422))
    if operation.query is not None:
        statuses.add(422)
    if method != "GET":
        statuses.add(403)
    if RULE_VARIABLE.search(rule):
        statuses.add(404)
    if operation.conflict:
        statuses.add(409)
    return sorted(statuses)


def _operation_object(
    endpoint: str,
    operation: Operation,
    method: str,
    rule: str,
    refs: dict[tuple[type[BaseModel], str], dict[str, Any]],
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": endpoint.removeprefix(f"{bp.name}."),
        "summary": operation.summary,
        "tags": [operation.tag],
    }
    if operation.description:
        result["description"] = operation.description
    parameters = _path_parameters(rule)
    if operation.query is not None:
        parameters += _query_parameters(operation.query)
    if parameters:
        result["parameters"] = parameters
    if operation.request is not None:
        result["requestBody"] = {
            "required": True,
            "content": _json_content(refs[(operation.request, "validation")]),
        }
    responses: dict[str, Any] = {}
    for status in filter(None, (operation.status, operation.alternate_status)):
        if status == 204:
            responses["204"] = {"description": "Done; no content."}
        elif operation.response is None:
            responses[str(status)] = {
                "description": "OK",
                "content": _json_content({"type": "object"}),
            }
        else:
            schema = refs[(operation.response, "serialization")]
            description = "Created" if status == 201 else "OK"
            responses[str(status)] = {"description": description, "content": _json_content(schema)}
    for status in _error_statuses(operation, method, rule):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    result["responses"] = responses
    if operation.public:
        result["security"] = []
    return result


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for ``app``; raises ``LookupError`` for an undocumented route."""
    rules = sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(f"{bp.name}.")),
        key=lambda rule: rule.rule,
    )
    inputs: list[tuple[type[BaseModel], str]] = [(ErrorResponse, "serialization")]
    for rule in rules:
        operation = OPERATIONS.get(rule.endpoint)
        if operation is None:
            raise LookupError(f"API route {rule.rule} ({rule.endpoint}) is not documented")
        if operation.request is not None:
            inputs.append((operation.request, "validation"))
        if operation.response is not None:
            inputs.append((operation.response, "serialization"))
    inputs = list(dict.fromkeys(inputs))
    refs, definitions = models_json_schema(
        inputs, ref_template=REF_TEMPLATE, schema_generator=DocumentSchema
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule in rules:
        operation = OPERATIONS[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(openapi_path(rule.rule), {})[method.lower()] = _operation_object(
                rule.endpoint, operation, method, rule.rule, refs
            )
    error_schema = refs[(ErrorResponse, "serialization")]
    error_responses: dict[str, Any] = {
        name: {"description": description, "content": _json_content(error_schema)}
        for name, description in ERRORS.values()
    }
    error_responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": {
            "description": 'Bearer realm="cs_app", with error="invalid_token" '
            "when a token was sent but is not valid.",
            "schema": {"type": "string"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "cs_app API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": bp.url_prefix}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "Accounts"},
            {"name": "Plans"},
            {"name": "Usage"},
            {"name": "Health"},
            {"name": "Meta"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token: `cs-app users token EMAIL`.",
                },
            },
            "schemas": {**definitions.get("$defs", {}), JSON_VALUE: JSON_VALUE_SCHEMA},
            "responses": error_responses,
        },
    }


@api_route("/openapi.json", "GET", tag="Meta", summary="This OpenAPI document", public=True)
def openapi_document():
    app = current_app._get_current_object()
    document = app.extensions.get("cs_app_openapi")
    if document is None:
        document = app.extensions["cs_app_openapi"] = build_document(app)
    return jsonify(document)
