"""Fast HTML for the plan page's form fields.

A plan page holds some forty forms and close to three hundred fields, most of them selects
listing every person who can own a row. WTForms' widgets build each attribute and each
``<option>`` through ``Markup.format`` and ``dir()`` on the field's flags, which made drawing
the fields half of the page's time. ``render_field`` writes the same HTML, byte for byte, for
the widgets the plan forms use (text, date, number and hidden inputs, text areas, single
selects) with plain string building, and hands anything else to the widget itself.
``tests/unit/plans/test_rendering.py`` holds it to WTForms' output.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import (
    DateInput,
    HiddenInput,
    NumberInput,
    Select,
    TextArea,
    TextInput,
)
from wtforms.widgets.core import clean_key

# markupsafe.escape's entities, for plain strings without building a Markup for each
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def _attribute_value(value: Any) -> str:
    if type(value) is str:
        return value.translate(_ENTITIES)
    value = escape(value)
    return value.replace('"', "&quot;") if '"' in value else value  # a Markup value as is


def html_params(attributes: dict[str, Any]) -> str:
    """``wtforms.widgets.html_params`` without ``Markup.format``: sorted by name, ``True`` as
    a bare attribute, ``False`` left out, every value escaped. The names are already clean
    (``clean_key``): attribute names from code, never user data."""
    params = []
    for key, value in sorted(attributes.items()):
        if value is True:
            params.append(key)
        elif value is not False:
            params.append(f'{key}="{_attribute_value(value)}"')
    return " ".join(params)


def _validation_attributes(widget, field, kwargs: dict[str, Any], call: bool) -> None:
    """The field's flags the widget turns into attributes (``maxlength``, ``required``...).
    Flags are instance attributes, so ``vars`` lists the same ones ``dir`` would."""
    allowed = widget.validation_attrs
    for key, value in vars(field.flags).items():
        if key in allowed and key not in kwargs:
            kwargs[key] = value() if call and callable(value) else value


def _input(widget, field, kwargs: dict[str, Any]) -> Markup:
    if isinstance(widget, NumberInput):
        for name in ("step", "min", "max"):
            if getattr(widget, name) is not None:
                kwargs.setdefault(name, getattr(widget, name))
    elif isinstance(widget, DateInput):
        date_format = getattr(field, "format", None)
        if date_format is not None:
            date_format = date_format[0] if isinstance(date_format, list) else date_format
            for name in ("min", "max"):
                value = kwargs.get(name, getattr(field.flags, name, None))
                if callable(value):
                    value = value()
                if hasattr(value, "strftime"):
                    kwargs[name] = value.strftime(date_format)
    kwargs.setdefault("id", field.id)
    kwargs.setdefault("type", widget.input_type)
    if "value" not in kwargs:
        kwargs["value"] = field._value()
    datalist = getattr(field, "_datalist", None)
    if datalist is not None and "list" not in kwargs:
        kwargs["list"] = datalist if isinstance(datalist, str) else datalist.id
    _validation_attributes(widget, field, kwargs, call=True)
    if "name" in kwargs:
        raise TypeError("html_params() got multiple values for keyword argument 'name'")
    kwargs["name"] = field.name
    return Markup(f"<input {html_params(kwargs)}>")


def _textarea(widget, field, kwargs: dict[str, Any]) -> Markup:
    kwargs.setdefault("id", field.id)
    _validation_attributes(widget, field, kwargs, call=False)
    if "name" in kwargs:
        raise TypeError("html_params() got multiple values for keyword argument 'name'")
    kwargs["name"] = field.name
    return Markup(f"<textarea {html_params(kwargs)}>\r\n{escape(field._value())}</textarea>")


@lru_cache(maxsize=4096)
def _plain_option(value: str, label: str) -> tuple[str, str]:
    """An option without attributes of its own, unselected and selected. The same owner list
    is drawn in every row's form, so each option is escaped once, not once per form."""
    shown, text = value.translate(_ENTITIES), (label or value).translate(_ENTITIES)
    return (
        f'<option value="{shown}">{text}</option>',
        f'<option selected value="{shown}">{text}</option>',
    )


def _option(value: Any, label: Any, selected: bool, render_kw: dict | None) -> str:
    if isinstance(value, bool):
        value = str(value)
    attributes = {clean_key(k): v for k, v in {"value": value, **(render_kw or {})}.items()}
    if selected:
        attributes["selected"] = True
    return f"<option {html_params(attributes)}>{escape(label or value)}</option>"


def _select(widget, field, kwargs: dict[str, Any]) -> Markup:
    kwargs.setdefault("id", field.id)
    _validation_attributes(widget, field, kwargs, call=False)
    if "name" in kwargs:
        raise TypeError("html_params() got multiple values for keyword argument 'name'")
    kwargs["name"] = field.name
    html = [f"<select {html_params(kwargs)}>"]
    choices = field.choices
    if choices is None or isinstance(choices, dict):
        choices = field._choices_from_input(choices) or []
    coerce, data = field.coerce, field.data
    group = None
    for choice in choices:
        if type(choice) is not SelectChoice:
            choice = SelectChoice.from_input(choice)
        if choice.optgroup != group:
            if group is not None:
                html.append("</optgroup>")
            group = choice.optgroup
            if group is not None:
                html.append(f'<optgroup label="{_attribute_value(group)}">')
        value, label = choice.value, choice.label
        selected = coerce(value) == data
        if type(value) is str and type(label) is str and not choice.render_kw:
            html.append(_plain_option(value, label)[1 if selected else 0])
        else:
            html.append(_option(value, label, bool(selected), choice.render_kw))
    if group is not None:
        html.append("</optgroup>")
    html.append("</select>")
    return Markup("".join(html))


_RENDERERS = {
    TextInput: _input,
    DateInput: _input,
    NumberInput: _input,
    HiddenInput: _input,
    TextArea: _textarea,
}


def render_field(field, render_kw: dict[str, Any]) -> Markup:
    """What ``DefaultMeta.render_field`` returns, faster for the widgets listed above."""
    kwargs = {clean_key(key): value for key, value in render_kw.items()}
    if field.render_kw is not None:
        kwargs = dict({clean_key(k): v for k, v in field.render_kw.items()}, **kwargs)
    widget = field.widget
    kind = type(widget)
    if kind is Select and not widget.multiple and type(field) is SelectField:
        return _select(widget, field, kwargs)
    renderer = _RENDERERS.get(kind)
    if renderer is None:
        return widget(field, **kwargs)
    return renderer(widget, field, kwargs)


class FastRenderMeta:
    """Form ``Meta`` mixin: draw fields with ``render_field``."""

    def render_field(self, field, render_kw):
        return render_field(field, render_kw)


# --- the plan page's field helpers ------------------------------------------------------------
# Python rather than Jinja macros: a plan page draws some three hundred fields, and a macro
# call costs more than the field itself. Passed to the plan templates by plans.views.


def plan_field(field, key: str, hint: str | None = None, class_: str = "", **kwargs: Any) -> Markup:
    """A labelled field of the form ``key``: its id is ``key-name`` (every row has a form with
    the same field names), its errors below it, tied to it with ``aria-describedby``."""
    fid = f"{key}-{field.name}"
    errors = field.errors
    if errors:
        control = field(id=fid, aria_invalid="true", aria_describedby=f"{fid}-error", **kwargs)
    else:
        control = field(id=fid, **kwargs)
    fid = escape(fid)
    html = [
        f'<div class="field {escape(class_)} {"has-error" if errors else ""}">\n'
        f'  <label for="{fid}">{escape(field.label.text)}</label>\n  {control}\n'
    ]
    if hint:
        html.append(f'  <small class="hint">{escape(hint)}</small>\n')
    for error in errors:
        html.append(f'  <p class="field-error" id="{fid}-error">{escape(error)}</p>\n')
    html.append("</div>\n")
    return Markup("".join(html))


def hidden_fields(form, key: str) -> Markup:
    """The form's hidden fields (version, CSRF token), with ids of the form ``key``; the
    session's CSRF token when the form has no field for it."""
    html = [
        str(field(id=f"{key}-{field.name}"))
        for field in form
        if getattr(field.widget, "input_type", None) == "hidden"
    ]
    if "csrf_token" not in form:
        html.append(f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">')
    return Markup("\n".join(html))
