"""Reading requests: a JSON object body or a query string, validated by a pydantic model."""

from __future__ import annotations

import json
from typing import TypeVar

import pydantic
from flask import request

from cs_app.api.errors import BadRequest, from_pydantic
from cs_app.errors import ValidationError
from cs_app.json_limits import MAX_BODY_DEPTH, cut_deep_json, json_value_problem, text_problem

Model = TypeVar("Model", bound=pydantic.BaseModel)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_body(model: type[Model]) -> Model:
    """The body as ``model``: 400 when it is not a JSON object, 422 when a field is wrong.

    Values are checked strictly against JSON types (``"5"`` is not a number, ``5`` is not a
    date); dates are ISO 8601 strings.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("Send a JSON object in the request body.")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raw, data = _parse_cut(raw)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest(f"The request body is not valid JSON: {error}.") from error
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    if not getattr(model, "items_checked_one_by_one", False):
        problem = json_value_problem(data, max_depth=MAX_BODY_DEPTH)
        if problem:
            raise ValidationError(f"The request body cannot be stored: {problem}.")
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as error:
        if not _too_deep(error):
            raise from_pydantic(error, model) from error
    raw, _ = _parse_cut(raw)
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as error:
        raise from_pydantic(error, model) from error


def _parse_cut(raw: bytes) -> tuple[bytes, object]:
    """A body nested deeper than the parsers recurse, with the deep parts cut off
    (``cut_deep_json``): the item that held them is then refused on its own, by index, and
    the rest of a batch is still read."""
    try:
        text = cut_deep_json(raw.decode())
        return text.encode(), json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise BadRequest(f"The request body is not valid JSON: {error}.") from error


def _too_deep(error: pydantic.ValidationError) -> bool:
    return any(
        item["type"] == "json_invalid"
        and "recursion limit" in str(item.get("ctx", ""))
        or "recursion limit" in item.get("msg", "")
        for item in error.errors()
    )


def parse_query(model: type[Model]) -> Model:
    """The query string as ``model``; unknown or repeated parameters are refused (422) so a
    misspelt filter never silently returns everything."""
    data: dict[str, str] = {}
    repeated: dict[str, str] = {}
    for key in request.args:
        values = request.args.getlist(key)
        if len(values) > 1:
            repeated[key] = "Give this parameter once."
        data[key] = values[0]
    # PostgreSQL stores and compares no NUL character: a filter holding one is refused, as
    # the document's pattern says, rather than failing the query (a 500)
    unstorable = {
        key: f"This value cannot be used: {problem}."
        for key, value in data.items()
        if (problem := text_problem(key) or text_problem(value))
    }
    if unstorable:
        raise ValidationError("A query parameter holds a NUL character.", unstorable)
    try:
        parsed = model.model_validate(data)
    except pydantic.ValidationError as error:
        refusal = from_pydantic(error, model)
        raise ValidationError(refusal.message, {**repeated, **refusal.fields}) from error
    if repeated:
        raise ValidationError("Each query parameter may be given once.", repeated)
    return parsed
