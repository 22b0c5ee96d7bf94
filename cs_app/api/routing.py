"""Registering an API route together with its documentation.

Each route is declared once, with what ``/api/v1/openapi.json`` says about it: summary, request
and response models, query model, success status and the errors it can answer. The OpenAPI
builder walks the app's URL map and looks each endpoint up here, so a route cannot exist
without being documented (a test checks that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from cs_app.api.blueprint import bp


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    description: str = ""
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None  # None: no body (204)
    status: int = 200
    conflict: bool = False  # may answer 409
    public: bool = False  # no bearer token needed
    alternate_status: int | None = None  # a second success status with the same body


OPERATIONS: dict[str, Operation] = {}


def register(
    rule: str,
    method: str,
    endpoint: str,
    view: Callable,
    operation: Operation,
    defaults: dict | None = None,
) -> None:
    options = {"defaults": defaults} if defaults else {}
    bp.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=[method], **options)
    OPERATIONS[f"{bp.name}.{endpoint}"] = operation


def api_route(rule: str, method: str, **documentation) -> Callable[[Callable], Callable]:
    """``@api_route("/accounts", "GET", summary=..., tag=..., response=...)``"""

    def decorator(view: Callable) -> Callable:
        register(rule, method, view.__name__, view, Operation(**documentation))
        return view

    return decorator


def operation_for(endpoint: str | None) -> Operation | None:
    return OPERATIONS.get(endpoint or "")
