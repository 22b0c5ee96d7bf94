"""Showing a service's refusal on a form, the same way on every page.

A ``ValidationError`` carries one message per field it is about (``error.fields``) and a
summary (``error.message``). Each field message goes beside the form field of that name; the
messages no field can show (an unknown name, a hidden input) are returned so the page can list
them above the form. Pages with rows of their own (measure rows, pool members, rule clauses)
place those messages first and name them in ``elsewhere``.

Pure: it needs a WTForms form, not an app, a request or a database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from cs_app.errors import DomainError

if TYPE_CHECKING:
    from wtforms import Field, Form

EXPIRED = "The form expired before it was sent; send it again."


def shows_errors(field: Field) -> bool:
    """A hidden input (the CSRF token, a version) cannot show a message beside it."""
    return getattr(field.widget, "input_type", None) != "hidden"


def show_errors(
    form: Form,
    error: DomainError,
    aliases: Mapping[str, str] | None = None,
    *,
    fields: Collection[str] | None = None,
    elsewhere: Collection[str] = (),
) -> list[str]:
    """Put each of ``error.fields`` on ``form[name].errors``, after renaming the service's
    field names with ``aliases`` (``{"arr_minor": "arr"}``). Return the messages no field
    took, in the service's order, or ``[error.message]`` when the error names no field.

    ``fields`` limits which form fields show messages (default: every visible field);
    ``elsewhere`` are names the page has already shown somewhere else, e.g. beside a row."""
    aliases = aliases or {}
    if not error.fields:
        return [error.message]
    general: list[str] = []
    for service_name, message in error.fields.items():
        if service_name in elsewhere:
            continue
        name = aliases.get(service_name, service_name)
        field = form._fields.get(name)
        if field is not None and shows_errors(field) and (fields is None or name in fields):
            field.errors = [*field.errors, message]
        else:
            general.append(message)
    return general


def show_errors_above(
    form: Form, error: DomainError, aliases: Mapping[str, str] | None = None
) -> None:
    """``show_errors`` for pages that list the general messages in ``form.form_errors``."""
    form.form_errors = [*form.form_errors, *show_errors(form, error, aliases)]
