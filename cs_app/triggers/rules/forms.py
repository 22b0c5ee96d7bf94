"""The rule builder's form, and a rule in words for the pages (condition and actions).

The form carries the condition and the actions as JSON text (the builder's script keeps it in
step with its rows; without JavaScript the JSON is edited directly), event property filters as
``key=value1,value2`` lines, and the version the editor started from. It hands all of it to
``triggers.rules.service.validate_rule_payload`` as typed, so the messages stay in the service and
land beside the fields of the same names.
"""

from __future__ import annotations

import json
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from cs_app.accounts.models import LIFECYCLE_STAGES
from cs_app.accounts.signal_catalog import BOOLEAN, CATEGORY, METRIC_PREFIX, NUMBER, SIGNALS
from cs_app.accounts.signal_format import format_signal, signal_label
from cs_app.errors import ValidationError
from cs_app.form_errors import show_errors
from cs_app.triggers.pools.models import PRIORITIES
from cs_app.triggers.rules.actions import ACTION_TYPES, OWNERS
from cs_app.triggers.rules.models import RULE_KINDS, RULE_MODES, Rule
from cs_app.triggers.rules.rules import OPERATORS
from cs_app.triggers.rules.service import ONCE_POLICIES
from cs_app.triggers.touchpoints.models import CHANNELS, RECIPIENTS

FORM_FIELDS = (
    "name",
    "description",
    "kind",
    "mode",
    "event_type",
    "event_properties",
    "once_policy",
    "cooldown_days",
    "snooze_days",
    "include_churned",
    "condition",
    "actions",
)
ROW_PATHS = ("condition.", "condition[", "actions[")
NEW_CONDITION: dict[str, Any] = {"all": []}
OPERATOR_LABELS = {
    "=": "equals",
    "!=": "does not equal",
    ">": "greater than",
    ">=": "at least",
    "<": "less than",
    "<=": "at most",
    "in": "is one of",
    "not_in": "is none of",
    "between": "between",
    "is_null": "has no value",
    "not_null": "has a value",
}
NUMBER_SYMBOLS = {"=": "=", "!=": "≠", ">": ">", ">=": "≥", "<": "<", "<=": "≤"}
OWNER_LABELS = {"owning_csm": "Owning CSM", "pool_assignee": "Pool assignee"}
KIND_TITLES = ((NUMBER, "Numbers"), (CATEGORY, "Categories"), (BOOLEAN, "Yes / no"))


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def properties_text(properties: dict[str, list[str]] | None) -> str:
    return "\n".join(f"{key}={','.join(values)}" for key, values in (properties or {}).items())


class RuleForm(FlaskForm):
    name = StringField("Name")
    description = TextAreaField("Description")
    kind = SelectField(
        "Kind", validate_choice=False, choices=[SelectChoice(k, v) for k, v in RULE_KINDS.items()]
    )
    enabled = BooleanField("Enabled: evaluate this rule and run its actions", default=True)
    mode = RadioField(
        "When it runs",
        validate_choice=False,
        default="scheduled",
        choices=[SelectChoice(k, v) for k, v in RULE_MODES.items()],
    )
    event_type = StringField("Event type")
    event_properties = TextAreaField("Only events with these properties")
    first_event_only = BooleanField("Only the account's first event of this type")
    once_policy = RadioField(
        "Fires for an account",
        validate_choice=False,
        default="while_open",
        choices=[SelectChoice(k, v) for k, v in ONCE_POLICIES.items()],
    )
    cooldown_days = StringField("Cooldown (days)")
    snooze_days = StringField("Snooze after a resolved item (days)", default="14")
    include_churned = BooleanField("Also fire for churned accounts")
    condition = TextAreaField("Condition (JSON)")
    actions = TextAreaField("Actions (JSON)")
    version = HiddenField()

    def load(self, rule: Rule) -> None:
        for name in (
            "name",
            "kind",
            "enabled",
            "mode",
            "first_event_only",
            "once_policy",
            "include_churned",
        ):
            self[name].data = getattr(rule, name)
        self.description.data = rule.description or ""
        self.event_type.data = rule.event_type or ""
        self.event_properties.data = properties_text(rule.event_properties)
        self.cooldown_days.data = str(rule.cooldown_days) if rule.once_policy == "cooldown" else ""
        self.snooze_days.data = str(rule.snooze_days)
        self.condition.data = _pretty(rule.condition)
        self.actions.data = _pretty(rule.actions or [])
        self.version.data = str(rule.version)

    def start_new(self) -> None:
        self.condition.data = _pretty(NEW_CONDITION)
        self.actions.data = "[]"

    @property
    def version_number(self) -> int | None:
        text = (self.version.data or "").strip()
        return int(text) if text.isdigit() else None

    def values(self) -> dict[str, Any]:
        """What was typed, for the service; the version only when the form carries one."""
        values: dict[str, Any] = {name: self[name].data for name in FORM_FIELDS}
        values["enabled"] = bool(self.enabled.data)
        values["first_event_only"] = bool(self.first_event_only.data)
        values["include_churned"] = bool(self.include_churned.data)
        if self.version_number is not None:
            values["version"] = self.version_number
        return values

    def show_errors(self, error: ValidationError) -> list[str]:
        """Put each message beside its field; return those that belong to no field. Clause
        and action paths are marked on the builder's rows (``error_paths``)."""
        elsewhere = [name for name in error.fields if name.startswith(ROW_PATHS)]
        return show_errors(self, error, fields=FORM_FIELDS, elsewhere=elsewhere)


def error_paths(error: ValidationError | None) -> dict[str, str]:
    """The clause and action paths the service named (``condition.all[1]``), for the
    builder's script to mark the row."""
    if error is None:
        return {}
    return {
        name: message
        for name, message in error.fields.items()
        if name.startswith(("condition.", "actions["))
    }


# --- the builder's catalog ------------------------------------------------------------------


def builder_catalog(pools: dict[str, str], templates: list[tuple[str, str, str]]) -> dict:
    """Everything the builder's script offers in its selects, as JSON."""
    return {
        "signals": [
            {
                "key": key,
                "label": s.label,
                "kind": s.kind,
                "categories": list(s.categories),
                "description": s.description,
            }
            for key, s in SIGNALS.items()
        ],
        "kinds": [{"kind": kind, "title": title} for kind, title in KIND_TITLES],
        "metric_prefix": METRIC_PREFIX,
        "operators": [{"op": op, "label": OPERATOR_LABELS[op]} for op in OPERATORS],
        "action_types": [{"key": k, "label": v} for k, v in ACTION_TYPES.items()],
        "pools": [{"key": k, "label": v} for k, v in pools.items()],
        "templates": [
            {"key": k, "label": name, "channel": channel} for k, name, channel in templates
        ],
        "channels": [{"key": k, "label": v} for k, v in CHANNELS.items()],
        "recipients": [{"key": k, "label": v} for k, v in RECIPIENTS.items()],
        "priorities": [{"key": k, "label": v} for k, v in PRIORITIES.items()],
        "owners": [{"key": k, "label": OWNER_LABELS[k]} for k in OWNERS],
        "stages": [{"key": s, "label": s.capitalize()} for s in LIFECYCLE_STAGES],
    }


# --- a rule in words ------------------------------------------------------------------------


def _kind(signal: str) -> str | None:
    if signal.startswith(METRIC_PREFIX):
        return NUMBER
    info = SIGNALS.get(signal)
    return info.kind if info else None


def value_text(signal: str, value: Any) -> str:
    if value is None:
        return "no value"
    return format_signal(signal, value)


def clause_text(signal: str, op: str, value: Any) -> str:
    """``Days since last login > 14``, ``Health band is Critical``, ``NPS category is one of
    Detractor, Passive``."""
    label = signal_label(signal)
    if op == "is_null":
        return f"{label} has no value"
    if op == "not_null":
        return f"{label} has a value"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return (
            f"{label} is between {value_text(signal, value[0])} and {value_text(signal, value[1])}"
        )
    if op in ("in", "not_in") and isinstance(value, list):
        listed = ", ".join(value_text(signal, item) for item in value)
        return f"{label} is {'one' if op == 'in' else 'none'} of {listed}"
    if _kind(signal) == NUMBER and op in NUMBER_SYMBOLS:
        return f"{label} {NUMBER_SYMBOLS[op]} {value_text(signal, value)}"
    if op in ("=", "!="):
        return f"{label} is {'' if op == '=' else 'not '}{value_text(signal, value)}"
    return f"{label} {op} {value_text(signal, value)}"


def condition_text(node: Any, nested: bool = False) -> str:
    """The condition as a sentence: ``Days since last login > 14 AND (… OR …)``."""
    if not isinstance(node, dict):
        return str(node)
    for key, joiner in (("all", " AND "), ("any", " OR ")):
        if key in node:
            children = node[key] or []
            text = joiner.join(condition_text(child, nested=True) for child in children)
            return f"({text})" if nested and len(children) > 1 else text
    if "not" in node:
        return f"NOT ({condition_text(node['not'])})"
    return clause_text(node.get("signal", "?"), node.get("op", "?"), node.get("value"))


def _days(days: int, unit: str = "day") -> str:
    return f"{days} {unit}{'' if days == 1 else 's'}"


def action_text(action: dict[str, Any], pools: dict[str, str], templates: dict[str, str]) -> str:
    """One action as a lead would say it."""
    kind = action.get("type")
    if kind == "route_to_pool":
        sla = action.get("sla_hours")
        sla_text = f"SLA {_days(sla, 'hour')}" if sla else "the pool's default SLA"
        pool = pools.get(action.get("pool"), action.get("pool"))
        priority = PRIORITIES.get(action.get("priority"), "Normal").lower()
        return f"Route to the “{pool}” pool, {priority} priority, {sla_text}"
    if kind == "schedule_touchpoint":
        delay = action.get("delay_days") or 0
        when = "the day it fires" if not delay else f"{_days(delay)} after it fires"
        template = templates.get(action.get("template"), action.get("template"))
        channel = CHANNELS.get(action.get("channel"), action.get("channel"))
        recipient = RECIPIENTS.get(action.get("recipient"), action.get("recipient"))
        return f"{channel} “{template}” to the {str(recipient).lower()}, {when}"
    if kind == "create_action":
        owner = OWNER_LABELS.get(action.get("owner"), action.get("owner"))
        return (
            f"Create the action “{action.get('title')}” on the active plan, owned by the "
            f"{str(owner).lower()}, due in {_days(action.get('due_in_days') or 0)}"
        )
    if kind == "set_stage":
        return f"Set the lifecycle stage to {str(action.get('stage')).capitalize()}"
    return json.dumps(action)


def snooze_text(rule: Rule) -> str:
    if not rule.snooze_days:
        return "No snooze: may fire again at the next evaluation after its item is resolved"
    return (
        f"Quiet for {_days(rule.snooze_days)} for an account after its queue item is "
        "resolved (reopening the item ends it)"
    )


def churned_text(rule: Rule) -> str:
    return "Fires for churned accounts too" if rule.include_churned else "Skips churned accounts"


def once_text(rule: Rule) -> str:
    if rule.once_policy == "cooldown":
        return f"Again after a {rule.cooldown_days}-day cooldown"
    return ONCE_POLICIES.get(rule.once_policy, rule.once_policy)
