"""Plan templates: create, edit, duplicate and delete the blueprints that plans are made from.

A template's ``content`` holds its rows as JSON, dated in days from the account's contract
start (see ``builtin_templates``). Leads edit the rows as text — one row a line, fields
separated by " | " — so the editor needs no JavaScript; this module turns those lines into
rows and back, and names the line and the problem when one does not parse.

Services take the acting user and ``now`` and only ``flush()``; the caller commits. Every
change lands in the audit log (entity ``plan_template``, keyed by the template's key, before →
after), and ``updated_at`` / ``updated_by_id`` name the last change on the row itself.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cs_app.audit import service as audit
from cs_app.auth.models import User
from cs_app.auth.permissions import can_manage_templates
from cs_app.errors import PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.plans.models import LEVELS, PLAN_TYPES, REVIEW_CADENCES, RISK_CATEGORIES, PlanTemplate

KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY_MAX_LENGTH = 60
RESERVED_KEYS = frozenset({"new"})  # /templates/new is the creation form
MAX_ROWS = 100
MAX_DAY_OFFSET = 3660  # ten years either side of the contract start
SEPARATOR = " | "
LEVEL_SHORTHANDS = {"h": "high", "m": "medium", "med": "medium", "l": "low"}
AUDIT_ENTITY = "plan_template"
AUDITED_FIELDS = ("name", "plan_type", "review_cadence", "description", "content", "built_in")
READ_ONLY_CONTENT = (
    "review_meetings",
    "journey_triggers",
    "human_touchpoints",
    "self_service_resources",
)


@dataclass(frozen=True)
class Column:
    """One field of a row: its key in ``content``, how messages name it, and its kind."""

    name: str
    label: str
    kind: str = "text"  # text | whole (int) | number (float) | choice
    required: bool = False
    max_length: int = 200
    choices: dict[str, str] | None = None
    default: Any = None


@dataclass(frozen=True)
class RowFormat:
    component: str
    label: str
    columns: tuple[Column, ...]

    @property
    def hint(self) -> str:
        return SEPARATOR.join(
            column.label if column.required else f"{column.label} (optional)"
            for column in self.columns
        )


ROW_FORMATS: dict[str, RowFormat] = {
    "outcomes": RowFormat(
        "outcomes",
        "Outcomes",
        (
            Column("title", "title", required=True),
            Column("metric", "metric", required=True),
            Column("unit", "unit", max_length=30),
            Column("baseline", "baseline", kind="number"),
            Column("target", "target", kind="number"),
            Column("target_offset_days", "day offset", kind="whole"),
        ),
    ),
    "milestones": RowFormat(
        "milestones",
        "Milestones",
        (
            Column("phase", "phase", required=True, max_length=60),
            Column("title", "title", required=True),
            Column("target_offset_days", "day offset", kind="whole", required=True),
            Column("success_criteria", "success criteria", max_length=2000),
        ),
    ),
    "risks": RowFormat(
        "risks",
        "Risks",
        (
            Column("title", "title", required=True),
            Column("category", "category", kind="choice", choices=RISK_CATEGORIES, default="other"),
            Column("likelihood", "likelihood", kind="choice", choices=LEVELS, default="medium"),
            Column("impact", "impact", kind="choice", choices=LEVELS, default="medium"),
            Column("mitigation", "mitigation", max_length=2000),
        ),
    ),
    "actions": RowFormat(
        "actions",
        "Actions",
        (
            Column("title", "title", required=True, max_length=300),
            Column("due_offset_days", "due day offset", kind="whole", required=True),
            Column("milestone", "milestone title"),
        ),
    ),
}
COMPONENT_ORDER = ("outcomes", "milestones", "risks", "actions")


class TemplateValidationError(ValidationError):
    """A refused template; ``messages`` lists every problem per field, e.g. each bad line."""

    def __init__(self, messages: dict[str, list[str]]):
        count = sum(len(problems) for problems in messages.values())
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"The template was not saved: {count} {noun}.",
            {name: " ".join(problems) for name, problems in messages.items()},
        )
        self.messages = messages


# --- rows as text -----------------------------------------------------------------------------


def _format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def rows_to_text(component: str, rows: list[dict[str, Any]]) -> str:
    """The editor's text for ``rows``: one line a row, trailing empty fields left off."""
    columns = ROW_FORMATS[component].columns
    lines = []
    for row in rows:
        fields = [_format_value(row.get(column.name)) for column in columns]
        while fields and fields[-1] == "":
            fields.pop()
        lines.append(SEPARATOR.join(fields))
    return "\n".join(lines)


def editor_text(template: PlanTemplate | None) -> dict[str, str]:
    content = (template.content or {}) if template is not None else {}
    return {name: rows_to_text(name, content.get(name) or []) for name in COMPONENT_ORDER}


def _clean_value(column: Column, raw: Any) -> tuple[Any, str | None]:
    """The typed value of one field, or the problem with it (without the line prefix)."""
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        if column.required:
            return None, f"{column.label} is missing"
        return column.default, None
    if column.kind == "whole":
        if isinstance(raw, bool) or not (
            isinstance(raw, int) or (isinstance(raw, str) and re.fullmatch(r"[+-]?\d+", raw))
        ):
            return None, f"{column.label} must be a whole number"
        value = int(raw)
        if abs(value) > MAX_DAY_OFFSET:
            return None, (
                f"{column.label} must be between -{MAX_DAY_OFFSET} and {MAX_DAY_OFFSET} days"
            )
        return value, None
    if column.kind == "number":
        if isinstance(raw, bool):
            return None, f"{column.label} must be a number"
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return None, f"{column.label} must be a number"
        if not math.isfinite(value):
            return None, f"{column.label} must be a number"
        return value, None
    if not isinstance(raw, str):
        return None, f"{column.label} must be text"
    if column.kind == "choice":
        wanted = raw.lower()
        wanted = LEVEL_SHORTHANDS.get(wanted, wanted) if column.choices is LEVELS else wanted
        for key, label in column.choices.items():
            if wanted in (key, label.lower(), key.replace("_", " ")):
                return key, None
        return None, f"{column.label} must be one of: {', '.join(column.choices)}"
    if len(raw) > column.max_length:
        return None, f"{column.label} is longer than {column.max_length} characters"
    return raw, None


def _clean_row(row_format: RowFormat, raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    row: dict[str, Any] = {}
    problems: list[str] = []
    for column in row_format.columns:
        value, problem = _clean_value(column, raw.get(column.name))
        if problem:
            problems.append(problem)
        else:
            row[column.name] = value
    return row, problems


def parse_rows(component: str, value: str | list | None) -> tuple[list[dict], list[str]]:
    """Rows from the editor's text (problems say "line N") or from a list of dicts, as an
    import or the API would send them (problems say "row N")."""
    row_format = ROW_FORMATS[component]
    rows: list[dict] = []
    errors: list[str] = []
    if value is None:
        return rows, errors
    if isinstance(value, str):
        numbered = []
        for number, line in enumerate(value.splitlines(), start=1):
            if not line.strip():
                continue
            fields = [part.strip() for part in line.split("|")]
            where = f"{row_format.label} line {number}"
            if len(fields) > len(row_format.columns):
                errors.append(
                    f"{where}: {len(fields)} fields, but a row has at most "
                    f"{len(row_format.columns)} ({row_format.hint}); a field cannot contain “|”"
                )
                continue
            numbered.append(
                (where, dict(zip((c.name for c in row_format.columns), fields, strict=False)))
            )
    elif isinstance(value, list):
        numbered = []
        for number, item in enumerate(value, start=1):
            where = f"{row_format.label} row {number}"
            if not isinstance(item, dict):
                errors.append(f"{where}: must be an object with the fields {row_format.hint}")
                continue
            numbered.append((where, item))
    else:
        return rows, [f"{row_format.label}: give one row a line"]
    titles_seen: dict[str, str] = {}
    for where, raw in numbered:
        row, problems = _clean_row(row_format, raw)
        if component == "milestones" and not problems:
            if row["title"].lower() in titles_seen:
                problems.append(
                    f"another milestone ({titles_seen[row['title'].lower()]}) has "
                    f"the title “{row['title']}”; actions name milestones by title, "
                    f"so titles must differ"
                )
            titles_seen[row["title"].lower()] = where.removeprefix(f"{row_format.label} ")
        errors.extend(f"{where}: {problem}" for problem in problems)
        if not problems:
            row["_where"] = where
            rows.append(row)
    if len(rows) > MAX_ROWS:
        errors.append(f"{row_format.label}: at most {MAX_ROWS} rows (found {len(rows)})")
    return rows, errors


def _typed_titles(milestones: str | list | None) -> set[str]:
    """Every milestone title as typed, even on lines refused for another reason, so that an
    action naming it is not refused as well."""
    if isinstance(milestones, str):
        lines = (line.split("|") for line in milestones.splitlines())
        return {fields[1].strip().lower() for fields in lines if len(fields) > 1}
    if isinstance(milestones, list):
        return {
            str(row.get("title", "")).strip().lower() for row in milestones if isinstance(row, dict)
        }
    return set()


def _parse_content(
    values: dict[str, Any], messages: dict[str, list[str]], existing: dict[str, Any]
) -> dict[str, Any]:
    """The new ``content``: edited components replaced, everything else kept as it was."""
    content = copy.deepcopy(existing)
    parsed: dict[str, list[dict]] = {}
    for component in COMPONENT_ORDER:
        if component not in values:
            continue
        rows, errors = parse_rows(component, values[component])
        if errors:
            messages.setdefault(component, []).extend(errors)
        parsed[component] = rows
    milestone_titles = (
        _typed_titles(values["milestones"])
        if "milestones" in values
        else {str(row.get("title", "")).lower() for row in content.get("milestones") or []}
    )
    for row in parsed.get("actions", []):
        wanted = row.get("milestone")
        if wanted and wanted.lower() not in milestone_titles:
            messages.setdefault("actions", []).append(
                f"{row['_where']}: no milestone is titled “{wanted}” (leave the field empty or "
                f"copy a title from Milestones)"
            )
    for component, rows in parsed.items():
        for row in rows:
            row.pop("_where", None)
        content[component] = rows
    return content


# --- templates --------------------------------------------------------------------------------


def _require_manager(user: User) -> None:
    if not can_manage_templates(user):
        raise PermissionDenied("Only CS leads and admins change plan templates.")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_key(key: Any, messages: dict[str, list[str]]) -> str | None:
    if _blank(key) or not isinstance(key, str):
        messages["key"] = ["Give the template a key, e.g. enterprise-renewal."]
        return None
    key = key.strip()
    if len(key) > KEY_MAX_LENGTH:
        messages["key"] = [f"Keep the key to {KEY_MAX_LENGTH} characters or fewer."]
    elif not KEY_PATTERN.fullmatch(key):
        messages["key"] = [
            "Use only lowercase letters, digits and hyphens, starting and ending "
            "with a letter or digit (e.g. enterprise-renewal)."
        ]
    elif key in RESERVED_KEYS:
        messages["key"] = [f"“{key}” is reserved; choose another key."]
    else:
        taken = db.session.scalar(select(PlanTemplate).where(PlanTemplate.key == key))
        if taken is not None:
            messages["key"] = [
                f"The key “{key}” is already used by the template “{taken.name}”; keys are unique."
            ]
    return key


def _check_fields(
    values: dict[str, Any], messages: dict[str, list[str]], creating: bool
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if creating or "name" in values:
        name = values.get("name")
        if _blank(name) or not isinstance(name, str):
            messages["name"] = ["Give the template a name."]
        elif len(name.strip()) > 200:
            messages["name"] = ["Keep the name to 200 characters or fewer."]
        else:
            fields["name"] = name.strip()
    for name, allowed, missing in (
        ("plan_type", PLAN_TYPES, "Choose the type of plan this template makes."),
        ("review_cadence", REVIEW_CADENCES, "Choose how often plans from it are reviewed."),
    ):
        if not creating and name not in values:
            continue
        value = values.get(name)
        if _blank(value):
            messages[name] = [missing]
        elif value not in allowed:
            messages[name] = [f"Choose one of: {', '.join(allowed)}."]
        else:
            fields[name] = value
    if "description" in values:
        description = values.get("description")
        text = description.strip() if isinstance(description, str) else ""
        fields["description"] = text or None
    return fields


def _flush_new(template: PlanTemplate) -> None:
    """Add and flush; a key taken by a concurrent save is refused like any taken key."""
    try:
        with db.session.begin_nested():
            db.session.add(template)
            db.session.flush()
    except IntegrityError as error:
        raise TemplateValidationError(
            {
                "key": [
                    f"The key “{template.key}” was just taken by another template; choose another."
                ]
            }
        ) from error


def create_template(values: dict[str, Any], *, user: User, now: datetime) -> PlanTemplate:
    """A new custom template from ``values`` (key, name, plan_type, review_cadence,
    description and the components as editor text or lists of rows)."""
    _require_manager(user)
    messages: dict[str, list[str]] = {}
    key = _check_key(values.get("key"), messages)
    fields = _check_fields(values, messages, creating=True)
    content = _parse_content(values, messages, {})
    if messages:
        raise TemplateValidationError(messages)
    template = PlanTemplate(
        key=key, content=content, built_in=False, updated_at=now, updated_by_id=user.id, **fields
    )
    _flush_new(template)
    audit.record(
        AUDIT_ENTITY, template.key, "created", user=user, now=now, after=_snapshot(template)
    )
    return template


def update_template(
    template: PlanTemplate, values: dict[str, Any], *, user: User, now: datetime
) -> PlanTemplate:
    """Change a template, built-in ones included. The key never changes: plans and exported
    configuration refer to it."""
    _require_manager(user)
    messages: dict[str, list[str]] = {}
    if "key" in values and values["key"] != template.key:
        messages["key"] = [
            "The key cannot change after the template is created; duplicate the "
            "template to use another key."
        ]
    fields = _check_fields(values, messages, creating=False)
    content = _parse_content(values, messages, template.content or {})
    if messages:
        raise TemplateValidationError(messages)
    before = _snapshot(template)
    for name, value in fields.items():
        setattr(template, name, value)
    template.content = content  # a new object, so the JSON column is written
    after = _snapshot(template)
    if after == before:
        return template
    template.updated_at = now
    template.updated_by_id = user.id
    db.session.flush()
    audit.record(
        AUDIT_ENTITY,
        template.key,
        "updated",
        user=user,
        now=now,
        before=_changed(before, after),
        after=_changed(after, before),
    )
    return template


def duplicate_template(
    template: PlanTemplate, values: dict[str, Any], *, user: User, now: datetime
) -> PlanTemplate:
    """A custom copy of ``template`` (built-in or not) under a new key and name."""
    _require_manager(user)
    messages: dict[str, list[str]] = {}
    key = _check_key(values.get("key"), messages)
    name = values.get("name")
    if _blank(name):
        name = f"{template.name} (copy)"
    elif not isinstance(name, str) or len(name.strip()) > 200:
        messages["name"] = ["Keep the name to 200 characters or fewer."]
    if messages:
        raise TemplateValidationError(messages)
    copy_ = PlanTemplate(
        key=key,
        name=name.strip()[:200],
        plan_type=template.plan_type,
        review_cadence=template.review_cadence,
        description=template.description,
        content=copy.deepcopy(template.content or {}),
        built_in=False,
        updated_at=now,
        updated_by_id=user.id,
    )
    _flush_new(copy_)
    audit.record(
        AUDIT_ENTITY,
        copy_.key,
        "created",
        user=user,
        now=now,
        after={**_snapshot(copy_), "duplicated_from": template.key},
    )
    return copy_


def delete_template(template: PlanTemplate, *, user: User, now: datetime) -> None:
    """Remove a custom template. Plans made from it keep their rows (they are copies)."""
    _require_manager(user)
    if template.built_in:
        message = (
            f"“{template.name}” is built in and cannot be deleted; edit it, or duplicate "
            f"it and change the copy."
        )
        raise ValidationError(message, {"template": message})
    audit.record(
        AUDIT_ENTITY, template.key, "deleted", user=user, now=now, before=_snapshot(template)
    )
    db.session.delete(template)
    db.session.flush()


def _snapshot(template: PlanTemplate) -> dict[str, Any]:
    return {name: copy.deepcopy(getattr(template, name)) for name in AUDITED_FIELDS}


def _changed(values: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Only the fields that differ, so an audit entry reads as before → after."""
    return {name: value for name, value in values.items() if other.get(name) != value}


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateSummary:
    template: PlanTemplate
    updated_by_name: str | None
    counts: dict[str, int]


def list_templates() -> list[TemplateSummary]:
    """Every template, built-in ones first, with row counts and who last changed it."""
    rows = db.session.execute(
        select(PlanTemplate, User.name)
        .outerjoin(User, User.id == PlanTemplate.updated_by_id)
        .order_by(PlanTemplate.built_in.desc(), PlanTemplate.name, PlanTemplate.key)
    ).all()
    return [TemplateSummary(template, name, row_counts(template)) for template, name in rows]


def row_counts(template: PlanTemplate) -> dict[str, int]:
    content = template.content or {}
    return {name: len(content.get(name) or []) for name in COMPONENT_ORDER}


@dataclass(frozen=True)
class TemplateChange:
    at: datetime
    user_name: str | None
    action: str
    fields: list[str]


def template_history(template: PlanTemplate, limit: int = 20) -> list[TemplateChange]:
    """The template's audit entries, newest first, naming the fields each change touched."""
    return [
        TemplateChange(
            event.at,
            event.user.name if event.user else None,
            event.action,
            [
                name
                for name in AUDITED_FIELDS
                if event.action == "updated"
                and (name in (event.after or {}) or name in (event.before or {}))
            ],
        )
        for event in audit.events_for(AUDIT_ENTITY, template.key, limit=limit)
    ]


def updated_by_name(template: PlanTemplate) -> str | None:
    if template.updated_by_id is None:
        return None
    user = db.session.get(User, template.updated_by_id)
    return user.name if user else None
