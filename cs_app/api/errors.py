"""The API's one error shape, ``{"error": {"code", "message", "fields"}}``, for every failure.

Domain errors (``cs_app.errors``) carry their own status and code; this module adds the two the
API needs beyond them (401 and 400), turns pydantic's validation errors into 422 with one message
per dotted field path, and makes sure a failed request leaves nothing behind in the session.
"""

from __future__ import annotations

from typing import Any

import pydantic
from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from cs_app.errors import DomainError, ValidationError
from cs_app.extensions import db

REALM = 'Bearer realm="cs_app"'


class Unauthorized(DomainError):
    """No usable bearer token: missing, malformed, unknown, revoked, or its user deactivated."""

    status = 401
    code = "unauthorized"

    def __init__(self, message: str, *, invalid_token: bool = False):
        super().__init__(message)
        self.challenge = REALM + (', error="invalid_token"' if invalid_token else "")


class BadRequest(DomainError):
    """The body is not JSON, or not a JSON object."""

    status = 400
    code = "bad_request"


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    return response


def renamed_fields(error: ValidationError, names: dict[str, str]) -> ValidationError:
    """The same error with the service's field names replaced by the API's (``owner_id`` →
    ``owner_email``), so ``error.fields`` always names keys the caller actually sent."""
    if not any(name in error.fields for name in names):
        return error
    fields = {names.get(name, name): text for name, text in error.fields.items()}
    return ValidationError(error.message, fields)


def _message_for(item: dict[str, Any], model: type[pydantic.BaseModel], key: str) -> str:
    kind = item["type"]
    if kind == "missing":
        return getattr(model, "missing_messages", {}).get(key, "This field is required.")
    if kind == "extra_forbidden":
        if "." not in key:
            allowed = ", ".join(model.model_fields)
            return f"Unknown field {key!r}; this endpoint accepts: {allowed}."
        return f"Unknown field {key.rsplit('.', 1)[-1]!r}."
    return item["msg"]


def from_pydantic(
    error: pydantic.ValidationError, model: type[pydantic.BaseModel]
) -> ValidationError:
    """422 with ``fields`` keyed by dotted path (``business_context.primary_use_case``)."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "body"
        fields.setdefault(key, _message_for(item, model, key))
    summary = "; ".join(f"{key}: {text}" for key, text in fields.items())
    return ValidationError(f"The request has problems. {summary}", fields)


def register_error_handlers(bp: Blueprint) -> None:
    @bp.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        response = error_response(error.status, error.code, error.message, error.fields)
        if isinstance(error, Unauthorized):
            response.headers["WWW-Authenticate"] = error.challenge
        return response

    @bp.errorhandler(StaleDataError)
    def stale_row(error: StaleDataError):
        db.session.rollback()
        return error_response(
            409,
            "conflict",
            "Someone else saved this at the same moment. "
            "Nothing was changed; read it again and retry.",
        )

    @bp.errorhandler(IntegrityError)
    def integrity_error(error: IntegrityError):
        db.session.rollback()
        return error_response(
            409,
            "conflict",
            "That clashes with data saved at the same "
            "moment (for example the same external ID). "
            "Nothing was changed; read it again and retry.",
        )

    @bp.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        db.session.rollback()
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code, code, error.description or error.name)
