"""Domain errors that views turn into form messages and the API into JSON errors."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(DomainError):
    """Input that is well-formed but breaks a rule, e.g. an owner that is not a person."""

    status = 422
    code = "validation_error"


class ConflictError(DomainError):
    """Someone else saved the same thing since the caller read it."""

    status = 409
    code = "conflict"


class NotFoundError(DomainError):
    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
