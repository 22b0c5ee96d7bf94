"""Browser pages for trigger rules: the list, the rule page (condition and actions in words,
recent firings, audit trail), and the builder with its preview.

Everyone signed in reads rules; leads and admins create, change, enable, disable and delete
them. Views parse the form, call ``triggers.rules.service`` (or ``preview``) and render; what the
templates show is prepared here so that templates run no queries.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from cs_app.accounts.signal_format import format_signal, signal_label
from cs_app.audit import service as audit
from cs_app.auth.permissions import can_lead, require
from cs_app.db_types import utcnow
from cs_app.errors import ConflictError, ValidationError
from cs_app.extensions import db
from cs_app.form_errors import EXPIRED
from cs_app.request_args import page_number, safe_next
from cs_app.triggers.rules import service
from cs_app.triggers.rules.forms import (
    RuleForm,
    action_text,
    builder_catalog,
    churned_text,
    clause_text,
    condition_text,
    error_paths,
    once_text,
    properties_text,
    snooze_text,
    value_text,
)
from cs_app.triggers.rules.models import RULE_KINDS, RULE_MODES, Rule
from cs_app.triggers.rules.preview import Preview, preview_condition, route_pools
from cs_app.triggers.touchpoints.models import CHANNELS

bp = Blueprint("rules", __name__, url_prefix="/rules")

STALE = "Someone saved this rule at the same moment; nothing was saved. Your changes are below."
RESULT_MARKS = {
    True: ("true", "✓", "true"),
    False: ("false", "✗", "false"),
    None: ("unknown", "?", "unknown (no value)"),
}
FIELD_LABELS = {
    "name": "Name",
    "description": "Description",
    "kind": "Kind",
    "enabled": "Enabled",
    "mode": "When it runs",
    "event_type": "Event type",
    "event_properties": "Event properties",
    "first_event_only": "First event only",
    "condition": "Condition",
    "actions": "Actions",
    "once_policy": "Fires",
    "cooldown_days": "Cooldown days",
    "snooze_days": "Snooze days",
    "include_churned": "Churned accounts",
}


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every rule page needs a signed-in user."""


# --- the list -------------------------------------------------------------------------------


@bp.route("")
def index():
    filters = service.RuleFilters.from_args(request.args)
    page = service.list_rules(filters, now=utcnow())
    return render_template(
        "rules/index.html",
        page=page,
        filters=filters,
        kinds=RULE_KINDS,
        policies=service.ONCE_POLICIES,
        can_author=can_lead(current_user),
    )


# --- a rule ---------------------------------------------------------------------------------


def _audit_changes(event) -> list[str]:
    """What an audit entry changed, in words."""
    before, after = event.before or {}, event.after or {}
    if event.action == "created":
        return [f"created: {condition_text(after.get('condition'))}"]
    if event.action == "deleted":
        return ["deleted"]
    if event.action in ("enabled", "disabled"):
        return [event.action]
    changes = []
    for key, label in FIELD_LABELS.items():
        if before.get(key) == after.get(key):
            continue
        if key == "condition":
            changes.append(
                f"condition: {condition_text(before.get(key))} → {condition_text(after.get(key))}"
            )
        elif key == "actions":
            changes.append(
                f"actions: {len(before.get(key) or [])} → {len(after.get(key) or [])} (changed)"
            )
        else:
            changes.append(f"{label.lower()}: {_plain(before.get(key))} → {_plain(after.get(key))}")
    return changes or ["no change to the definition"]


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return properties_text(value).replace("\n", "; ")
    return str(value)


def _firing_view(firing) -> dict[str, Any]:
    matched = [
        (signal_label(key), format_signal(key, value, firing.currency))
        for key, value in (firing.matched or {}).items()
    ]
    return {"firing": firing, "matched": matched}


@bp.route("/<int:rule_id>")
def show(rule_id: int):
    rule = service.get_rule(rule_id)
    firings = service.rule_firings(rule, page=page_number(request.args))
    pools = service.pool_names()
    templates = {key: name for key, name, _ in service.template_choices()}
    return render_template(
        "rules/show.html",
        rule=rule,
        kinds=RULE_KINDS,
        modes=RULE_MODES,
        condition=condition_text(rule.condition),
        once=once_text(rule),
        snooze=snooze_text(rule),
        churned=churned_text(rule),
        actions=[action_text(a, pools, templates) for a in rule.actions or []],
        properties=properties_text(rule.event_properties).splitlines(),
        firings=firings,
        firing_rows=[_firing_view(f) for f in firings.items],
        events=[(e, _audit_changes(e)) for e in audit.events_for(service.AUDIT_ENTITY, rule.id)],
        can_author=can_lead(current_user),
    )


# --- the builder ----------------------------------------------------------------------------


def _clauses(node: Any) -> list[dict[str, Any]]:
    """The clauses in the order ``rules.evaluate`` visits them, so they line up with a
    trace."""
    for key in ("all", "any"):
        if key in node:
            return [c for child in node[key] for c in _clauses(child)]
    if "not" in node:
        return _clauses(node["not"])
    return [node]


def _preview_view(preview: Preview, condition: Any) -> dict[str, Any]:
    clauses = [
        clause_text(c["signal"], c["op"], c.get("value"))
        for c in _clauses(json.loads(condition) if isinstance(condition, str) else condition)
    ]
    # the segment has a column of its own
    columns = [key for key in preview.signals if key != "segment"]
    rows = []
    for row in preview.rows:
        marks = []
        for number, result in enumerate(row.clauses, start=1):
            tone, symbol, word = RESULT_MARKS[result.result]
            marks.append(
                {
                    "number": number,
                    "tone": tone,
                    "symbol": symbol,
                    "title": f"{clauses[number - 1]}: {word} "
                    f"(value {value_text(result.signal, result.actual)})",
                }
            )
        rows.append(
            {
                "row": row,
                "marks": marks,
                "values": [format_signal(key, row.values[key], row.currency) for key in columns],
            }
        )
    return {
        "preview": preview,
        "clauses": clauses,
        "rows": rows,
        "columns": [signal_label(key) for key in columns],
    }


def _conflict_rows(rule: Rule, form: RuleForm) -> list[tuple[str, str, str]]:
    """Field, the saved value, the typed value: where the two differ."""
    typed = form.values()
    saved = {
        "name": rule.name,
        "description": rule.description or "",
        "kind": rule.kind,
        "enabled": rule.enabled,
        "mode": rule.mode,
        "event_type": rule.event_type or "",
        "event_properties": properties_text(rule.event_properties),
        "first_event_only": rule.first_event_only,
        "once_policy": rule.once_policy,
        "cooldown_days": str(rule.cooldown_days) if rule.once_policy == "cooldown" else "",
        "snooze_days": str(rule.snooze_days),
        "include_churned": rule.include_churned,
    }
    rows = []
    for key, value in saved.items():
        mine = typed.get(key)
        if (mine.strip() if isinstance(mine, str) else mine) != value:
            rows.append((FIELD_LABELS[key], _plain(value), _plain(mine)))
    for key, value, words in (
        ("condition", rule.condition, condition_text),
        ("actions", rule.actions or [], None),
    ):
        try:
            mine = json.loads(typed.get(key) or "null")
        except ValueError:
            mine = typed.get(key)
        if mine != value:
            shown = (
                (words(value), words(mine))
                if words
                else (
                    f"{len(value)} action(s)",
                    f"{len(mine) if isinstance(mine, list) else '?'} action(s)",
                )
            )
            rows.append((FIELD_LABELS[key], *shown))
    return rows


def _render_builder(
    form: RuleForm,
    rule: Rule | None,
    *,
    status: int = 200,
    general: list[str] | None = None,
    preview: dict | None = None,
    error: ValidationError | None = None,
    conflict: dict | None = None,
):
    catalog = builder_catalog(service.pool_names(), service.template_choices())
    return render_template(
        "rules/form.html",
        form=form,
        rule=rule,
        general=general or [],
        preview=preview,
        catalog=catalog,
        error_paths=error_paths(error),
        conflict=conflict,
        channels=CHANNELS,
        kinds=RULE_KINDS,
    ), status


def _json_or_none(text: str | None) -> Any:
    """The typed JSON, or None when it does not parse (saving names that error)."""
    try:
        return json.loads(text or "null")
    except ValueError:
        return None


def _builder(rule: Rule | None):
    if request.method == "GET":
        form = RuleForm(formdata=None)
        if rule is None:
            form.start_new()
        else:
            form.load(rule)
        return _render_builder(form, rule)
    form = RuleForm()
    if not form.validate_on_submit():
        return _render_builder(form, rule, status=400, general=[EXPIRED])
    now = utcnow()
    if request.form.get("action") == "preview":
        try:
            result = preview_condition(
                form.condition.data,
                now=now,
                include_churned=bool(form.include_churned.data),
                rule_id=rule.id if rule is not None else None,
                pool_keys=route_pools(_json_or_none(form.actions.data)),
            )
        except ValidationError as error:
            return _render_builder(
                form, rule, status=422, general=form.show_errors(error), error=error
            )
        return _render_builder(form, rule, preview=_preview_view(result, form.condition.data))
    try:
        if rule is None:
            rule = service.create_rule(form.values(), user=current_user, now=now)
            message = f"Rule “{rule.name}” created."
        else:
            service.update_rule(rule, form.values(), user=current_user, now=now)
            message = f"Rule “{rule.name}” saved."
        db.session.commit()
    except ValidationError as error:
        db.session.rollback()
        return _render_builder(form, rule, status=422, general=form.show_errors(error), error=error)
    except (ConflictError, StaleDataError) as error:
        db.session.rollback()
        current = db.session.get(Rule, rule.id)
        if current is None:
            abort(404)
        # saving again now means "I have seen theirs, keep mine"
        form.version.data = str(current.version)
        conflict = {
            "message": error.message if isinstance(error, ConflictError) else STALE,
            "rows": _conflict_rows(current, form),
        }
        return _render_builder(form, current, status=409, conflict=conflict)
    flash(message, "success")
    return redirect(url_for("rules.show", rule_id=rule.id))


@bp.route("/new", methods=["GET", "POST"])
def new():
    require(can_lead(current_user))
    return _builder(None)


@bp.route("/<int:rule_id>/edit", methods=["GET", "POST"])
def edit(rule_id: int):
    require(can_lead(current_user))
    return _builder(service.get_rule(rule_id))


# --- enable, disable, delete ----------------------------------------------------------------


def _set_enabled(rule_id: int, enabled: bool):
    require(can_lead(current_user))
    rule = service.get_rule(rule_id)
    if service.set_enabled(rule, enabled, user=current_user, now=utcnow()):
        db.session.commit()
        state = (
            "enabled: the next evaluation runs it"
            if enabled
            else "disabled: it fires nothing until it is enabled again"
        )
        flash(f"Rule “{rule.name}” {state}.", "success")
    else:
        flash(f"Rule “{rule.name}” was already {'enabled' if enabled else 'disabled'}.", "info")
    # only back to a rules page of this site: the list keeps its filters this way
    back = safe_next(request.form.get("next"))
    if back is None or not back.startswith("/rules"):
        back = url_for("rules.show", rule_id=rule.id)
    return redirect(back)


@bp.route("/<int:rule_id>/enable", methods=["POST"])
def enable(rule_id: int):
    return _set_enabled(rule_id, True)


@bp.route("/<int:rule_id>/disable", methods=["POST"])
def disable(rule_id: int):
    return _set_enabled(rule_id, False)


@bp.route("/<int:rule_id>/delete", methods=["POST"])
def delete(rule_id: int):
    require(can_lead(current_user))
    rule = service.get_rule(rule_id)
    name = rule.name
    service.delete_rule(rule, user=current_user, now=utcnow())
    db.session.commit()
    flash(
        f"Rule “{name}” deleted with its firings. Queue items and touchpoints it made stay.",
        "success",
    )
    return redirect(url_for("rules.index"))
