"""Trigger rules: validating a rule's definition, creating, changing, enabling and deleting
rules (each change audited), and the reads of the rule pages (the list with its firing counts,
a rule's recent firings).

Definitions arrive from the API as JSON values and from the browser form as text (the
condition and actions as JSON text, event property filters as ``key=value1,value2`` lines);
both go through ``validate_rule_payload`` so every refusal reads the same. A bad condition or
action is named by its path: ``error.fields`` holds ``condition`` (or ``actions``) with the
path and the message, and the path itself as a key (``condition.all[1]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from cs_app.accounts.models import LIFECYCLE_STAGES, Account
from cs_app.accounts.signal_catalog import METRIC_PREFIX, NUMBER, SIGNALS
from cs_app.audit import service as audit
from cs_app.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.paging import Page, clamp_page, offset
from cs_app.request_args import page_number
from cs_app.sql import contains_text
from cs_app.triggers.pools.models import CsmPool
from cs_app.triggers.rules import actions as action_rules
from cs_app.triggers.rules import rules
from cs_app.triggers.rules.models import RULE_KINDS, RULE_MODES, Rule, RuleFiring
from cs_app.triggers.touchpoints.models import TouchpointTemplate

AUDIT_ENTITY = "rule"
ONCE_POLICIES = {
    "while_open": "Once while its firing is open",
    "cooldown": "Again after a cooldown",
    "once_per_renewal_cycle": "Once per renewal cycle",
    "once_ever": "Once ever",
}
# the same shapes the usage API accepts for metric keys and event types
METRIC_KEY = re.compile(r"^[a-z][a-z0-9_.:-]{0,79}$")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,59}$")
RULE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_COOLDOWN_DAYS = 3650
MAX_PROPERTY_FILTERS = 10
FIRING_WINDOW_DAYS = 30
DEFINITION_KEYS = (
    "name",
    "description",
    "kind",
    "enabled",
    "mode",
    "event_type",
    "event_properties",
    "first_event_only",
    "condition",
    "actions",
    "once_policy",
    "cooldown_days",
    "snooze_days",
    "include_churned",
)
DEFAULT_SNOOZE_DAYS = 14
MAX_SNOOZE_DAYS = 365


def signal_info(key: str) -> tuple[str, tuple[str, ...]] | None:
    """What ``rules.validate_condition`` needs of a signal: its kind and categories. Any
    well-formed ``metric.<key>`` is a number (the metric may not have arrived yet)."""
    if key.startswith(METRIC_PREFIX):
        return (NUMBER, ()) if METRIC_KEY.match(key[len(METRIC_PREFIX) :]) else None
    signal = SIGNALS.get(key)
    return (signal.kind, signal.categories) if signal else None


# --- validation -----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _json_value(value: Any, name: str, errors: dict[str, str]) -> Any:
    """The browser sends the condition and actions as JSON text; the API as JSON values."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError as error:
        errors[name] = f"{name}: not valid JSON ({error})"
        return None


def _flag(value: Any, name: str, errors: dict[str, str], default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors[name] = f"{name} is true or false."
        return default
    return value


def _whole_number(
    value: Any, name: str, errors: dict[str, str], *, low: int, high: int, message: str
) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[name] = message
        return None
    return value


def clean_condition(value: Any) -> dict[str, Any]:
    """The condition checked against the signal catalog; ``ValidationError`` naming the bad
    clause otherwise. Also what previews call before they run a condition."""
    errors: dict[str, str] = {}
    condition = _check_condition(_json_value(value, "condition", errors), errors)
    if errors:
        raise ValidationError(f"The condition was refused: {errors['condition']}", errors)
    return condition


def _check_condition(condition: Any, errors: dict[str, str]) -> Any:
    if "condition" in errors:
        return condition
    if condition is None:
        errors["condition"] = (
            'condition: a rule needs a condition, e.g. {"all": [{"signal": '
            '"days_since_last_login", "op": ">", "value": 14}]}'
        )
        return condition
    try:
        rules.validate_condition(condition, signal_info)
    except rules.ConditionError as error:
        errors["condition"] = str(error)
        if error.path != "condition":
            errors[error.path] = error.message
    return condition


def _check_actions(value: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    actions = _json_value(value, "actions", errors)
    if "actions" in errors:
        return []
    templates = dict(
        db.session.execute(select(TouchpointTemplate.key, TouchpointTemplate.channel)).all()
    )
    try:
        return action_rules.validate_actions(
            actions,
            pools=set(db.session.scalars(select(CsmPool.key))),
            templates=templates,
            stages=LIFECYCLE_STAGES,
        )
    except action_rules.ActionError as error:
        errors["actions"] = str(error)
        if error.path != "actions":
            errors[error.path] = error.message
        return []


def _event_properties(value: Any, errors: dict[str, str]) -> dict[str, list[str]] | None:
    """``{"severity": ["high", "urgent"]}``: the event must have one of the values for each
    key. The browser sends ``severity=high,urgent`` lines."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        parsed: dict[str, Any] = {}
        for number, line in enumerate(value.splitlines(), start=1):
            if not line.strip():
                continue
            key, sign, values = line.partition("=")
            if not sign or not key.strip():
                errors["event_properties"] = (
                    f"Line {number}: write key=value1,value2, e.g. severity=high,urgent."
                )
                return None
            parsed[key.strip()] = [v.strip() for v in values.split(",") if v.strip()]
        value = parsed
    if not isinstance(value, dict):
        errors["event_properties"] = 'Property filters are an object: {"severity": ["high"]}.'
        return None
    if len(value) > MAX_PROPERTY_FILTERS:
        errors["event_properties"] = f"At most {MAX_PROPERTY_FILTERS} property filters."
        return None
    cleaned: dict[str, list[str]] = {}
    for key, values in value.items():
        if isinstance(values, str):
            values = [values]
        if (
            not key
            or len(key) > 60
            or not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v.strip() for v in values)
        ):
            errors["event_properties"] = (
                f"Property {key!r}: list the values it may have, "
                f"e.g. {key or 'severity'}=high,urgent."
            )
            return None
        cleaned[key] = [v.strip() for v in values]
    return cleaned or None


def validate_rule_payload(data: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's definition, cleaned; ``ValidationError`` with every problem by field
    otherwise. A scheduled rule keeps no event settings; only the cooldown policy keeps its
    days."""
    errors: dict[str, str] = {}
    name = _text(data.get("name"))
    if not name:
        errors["name"] = "Give the rule a name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"The name is at most {MAX_NAME} characters."
    description = _text(data.get("description")) or None
    if description and len(description) > MAX_DESCRIPTION:
        errors["description"] = f"The description is at most {MAX_DESCRIPTION} characters."
    kind = data.get("kind")
    if kind not in RULE_KINDS:
        errors["kind"] = f"Choose the kind: {', '.join(RULE_KINDS)}."
    mode = data.get("mode") or "scheduled"
    if mode not in RULE_MODES:
        errors["mode"] = "Choose when the rule runs: scheduled or event."
    clean: dict[str, Any] = {
        "name": name,
        "description": description,
        "kind": kind,
        "enabled": _flag(data.get("enabled"), "enabled", errors, True),
        "mode": mode,
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
    }
    if mode == "event":
        event_type = _text(data.get("event_type"))
        if not EVENT_TYPE.match(event_type):
            errors["event_type"] = (
                "Name the event type the rule waits for, e.g. "
                "feature_used or support_ticket (lower case, digits, "
                "_ . -)."
            )
        clean["event_type"] = event_type
        clean["event_properties"] = _event_properties(data.get("event_properties"), errors)
        clean["first_event_only"] = _flag(
            data.get("first_event_only"), "first_event_only", errors, False
        )
    policy = data.get("once_policy") or "while_open"
    if policy not in ONCE_POLICIES:
        errors["once_policy"] = f"Choose a once-only policy: {', '.join(ONCE_POLICIES)}."
    clean["once_policy"] = policy
    clean["cooldown_days"] = 0
    if policy == "cooldown":
        clean["cooldown_days"] = _whole_number(
            data.get("cooldown_days"),
            "cooldown_days",
            errors,
            low=1,
            high=MAX_COOLDOWN_DAYS,
            message=f"Enter the cooldown in whole days, 1 to {MAX_COOLDOWN_DAYS}.",
        )
    snooze = data.get("snooze_days")
    clean["snooze_days"] = (
        DEFAULT_SNOOZE_DAYS
        if snooze is None or (isinstance(snooze, str) and not snooze.strip())
        else _whole_number(
            snooze,
            "snooze_days",
            errors,
            low=0,
            high=MAX_SNOOZE_DAYS,
            message=f"Enter the snooze in whole days, 0 to {MAX_SNOOZE_DAYS} (0: no snooze).",
        )
    )
    clean["include_churned"] = _flag(data.get("include_churned"), "include_churned", errors, False)
    clean["condition"] = _check_condition(
        _json_value(data.get("condition"), "condition", errors), errors
    )
    clean["actions"] = _check_actions(data.get("actions"), errors)
    if errors:
        first = errors.get("condition") or errors.get("actions") or next(iter(errors.values()))
        raise ValidationError(f"The rule was not saved: {first}", errors)
    return clean


# --- changes --------------------------------------------------------------------------------


def _require_author(user) -> None:
    if user is not None and not user.can_edit_everything:
        raise PermissionDenied("Only leads and admins create and change trigger rules.")


def definition(rule: Rule) -> dict[str, Any]:
    """The rule as its audit entries record it (JSON values only)."""
    return {key: getattr(rule, key) for key in DEFINITION_KEYS}


def get_rule(rule_id: int) -> Rule:
    rule = db.session.get(Rule, rule_id)
    if rule is None:
        raise NotFoundError(f"There is no rule {rule_id}.")
    return rule


def _check_key(key: Any) -> str | None:
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not RULE_KEY.match(key):
        raise ValidationError(
            "The rule was not saved: the key is not a valid slug.",
            {"key": "A key is 2–80 lower-case letters, digits and dashes."},
        )
    if db.session.scalar(select(Rule.id).where(Rule.key == key)) is not None:
        raise ValidationError(
            "The rule was not saved: the key is taken.",
            {"key": f"Another rule has the key {key!r}."},
        )
    return key


def create_rule(data: Mapping[str, Any], *, user, now: datetime) -> Rule:
    _require_author(user)
    clean = validate_rule_payload(data)
    rule = Rule(
        key=_check_key(data.get("key")),
        created_at=now,
        updated_at=now,
        created_by_id=user.id if user else None,
        **clean,
    )
    db.session.add(rule)
    db.session.flush()
    audit.record(AUDIT_ENTITY, rule.id, "created", user=user, now=now, after=definition(rule))
    return rule


def update_rule(rule: Rule, data: Mapping[str, Any], *, user, now: datetime) -> Rule:
    """Replace the rule's definition. ``data["version"]``, when given, is the version the
    caller read: a rule saved since then is refused with ``ConflictError`` and left as it
    is."""
    _require_author(user)
    expected = data.get("version")
    if expected is not None and expected != rule.version:
        raise ConflictError(
            f"Someone saved this rule since you opened it (you started from version "
            f"{expected}; it is now at version {rule.version}). Nothing was saved.",
            {
                "version": f"The rule is at version {rule.version}; read it again and reapply "
                f"your change."
            },
        )
    clean = validate_rule_payload(data)
    before = definition(rule)
    if clean == before:
        return rule
    for key, value in clean.items():
        setattr(rule, key, value)
    rule.updated_at = now
    db.session.flush()
    audit.record(
        AUDIT_ENTITY, rule.id, "updated", user=user, now=now, before=before, after=definition(rule)
    )
    return rule


def set_enabled(rule: Rule, enabled: bool, *, user, now: datetime) -> bool:
    """Whether anything changed; a disabled rule is not evaluated and fires nothing."""
    _require_author(user)
    if rule.enabled == enabled:
        return False
    rule.enabled = enabled
    rule.updated_at = now
    db.session.flush()
    audit.record(
        AUDIT_ENTITY,
        rule.id,
        "enabled" if enabled else "disabled",
        user=user,
        now=now,
        before={"enabled": not enabled},
        after={"enabled": enabled},
    )
    return True


def delete_rule(rule: Rule, *, user, now: datetime) -> None:
    """The rule and its firings go; queue items and touchpoints it made stay (without it)."""
    _require_author(user)
    before = definition(rule)
    rule_id = rule.id
    db.session.delete(rule)
    db.session.flush()
    audit.record(AUDIT_ENTITY, rule_id, "deleted", user=user, now=now, before=before)


# --- reads of the rule pages ----------------------------------------------------------------

SORTS = ("name", "kind", "mode", "enabled", "firings", "open", "updated")


@dataclass
class RuleFilters:
    """What the list shows; unknown values are dropped so a stale link still works."""

    kind: str = ""
    enabled: str = ""  # "yes", "no" or "" for both
    q: str = ""
    sort: str = "name"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> RuleFilters:
        kind = args.get("kind", "")
        enabled = args.get("enabled", "")
        sort = args.get("sort", "name")
        return cls(
            kind=kind if kind in RULE_KINDS else "",
            enabled=enabled if enabled in ("yes", "no") else "",
            q=(args.get("q") or "").strip()[:200],
            sort=sort if sort in SORTS else "name",
            direction="desc" if args.get("dir") == "desc" else "asc",
            page=page_number(args),
        )

    @property
    def filtering(self) -> bool:
        return bool(self.kind or self.enabled or self.q)

    def link_args(self) -> dict[str, str]:
        """Arguments kept by sort headers and the pager."""
        args = {
            name: getattr(self, name) for name in ("kind", "enabled", "q") if getattr(self, name)
        }
        return {**args, "sort": self.sort, "dir": self.direction}


@dataclass
class RuleRow:
    id: int
    key: str | None
    name: str
    kind: str
    mode: str
    event_type: str | None
    enabled: bool
    once_policy: str
    cooldown_days: int
    updated_at: datetime
    firings_30d: int
    open_firings: int


def _firing_counts(now: datetime):
    """Per rule: firings in the last 30 days and firings still open, in one grouped pass."""
    since = now - timedelta(days=FIRING_WINDOW_DAYS)
    return (
        select(
            RuleFiring.rule_id,
            func.sum(case((RuleFiring.fired_at >= since, 1), else_=0)).label("recent"),
            func.sum(case((RuleFiring.status == "open", 1), else_=0)).label("open"),
        )
        .group_by(RuleFiring.rule_id)
        .subquery()
    )


def list_rules(filters: RuleFilters, *, now: datetime, per_page: int = 50) -> Page[RuleRow]:
    """One page of rules with their firing counts: one statement for the rows (the counts
    grouped in a subquery), one for the total."""
    conditions = []
    if filters.kind:
        conditions.append(Rule.kind == filters.kind)
    if filters.enabled:
        conditions.append(Rule.enabled == (filters.enabled == "yes"))
    if filters.q:
        conditions.append(contains_text(Rule.name, filters.q))
    counts = _firing_counts(now)
    recent = func.coalesce(counts.c.recent, 0)
    still_open = func.coalesce(counts.c.open, 0)
    columns = {
        "name": func.lower(Rule.name),
        "kind": Rule.kind,
        "mode": Rule.mode,
        "enabled": Rule.enabled,
        "firings": recent,
        "open": still_open,
        "updated": Rule.updated_at,
    }
    order = columns[filters.sort]
    order = order.desc() if filters.direction == "desc" else order.asc()
    total = db.session.scalar(select(func.count(Rule.id)).where(*conditions)) or 0
    page = clamp_page(filters.page, total, per_page)
    rows = db.session.execute(
        select(
            Rule.id,
            Rule.key,
            Rule.name,
            Rule.kind,
            Rule.mode,
            Rule.event_type,
            Rule.enabled,
            Rule.once_policy,
            Rule.cooldown_days,
            Rule.updated_at,
            recent.label("firings_30d"),
            still_open.label("open_firings"),
        )
        .outerjoin(counts, counts.c.rule_id == Rule.id)
        .where(*conditions)
        .order_by(order, func.lower(Rule.name), Rule.id)
        .limit(per_page)
        .offset(offset(page, per_page))
    ).all()
    return Page([RuleRow(**row._mapping) for row in rows], total, page, per_page)


@dataclass
class FiringRow:
    id: int
    fired_at: datetime
    status: str
    trigger: str
    matched: dict[str, Any] | None
    external_id: str
    account_name: str
    currency: str


def rule_firings(rule: Rule, *, page: int, per_page: int = 25) -> Page[FiringRow]:
    """A page of the rule's firings, newest first, with their accounts: two statements."""
    total = (
        db.session.scalar(select(func.count(RuleFiring.id)).where(RuleFiring.rule_id == rule.id))
        or 0
    )
    page = clamp_page(page, total, per_page)
    rows = db.session.execute(
        select(
            RuleFiring.id,
            RuleFiring.fired_at,
            RuleFiring.status,
            RuleFiring.trigger,
            RuleFiring.matched,
            Account.external_id,
            Account.name.label("account_name"),
            Account.currency,
        )
        .join(Account, Account.id == RuleFiring.account_id)
        .where(RuleFiring.rule_id == rule.id)
        .order_by(RuleFiring.fired_at.desc(), RuleFiring.id.desc())
        .limit(per_page)
        .offset(offset(page, per_page))
    ).all()
    return Page([FiringRow(**row._mapping) for row in rows], total, page, per_page)


def find_rules(*, kind: str | None, enabled: bool | None, page: int, per_page: int) -> Page[Rule]:
    """A page of rules by name, and how many match: the API's list."""
    conditions = []
    if kind is not None:
        conditions.append(Rule.kind == kind)
    if enabled is not None:
        conditions.append(Rule.enabled == enabled)
    total = db.session.scalar(select(func.count(Rule.id)).where(*conditions)) or 0
    found = db.session.scalars(
        select(Rule)
        .where(*conditions)
        .order_by(func.lower(Rule.name), Rule.id)
        .limit(per_page)
        .offset(offset(page, per_page))
    )
    return Page(list(found), total, page, per_page)


def pool_names() -> dict[str, str]:
    return dict(db.session.execute(select(CsmPool.key, CsmPool.name).order_by(CsmPool.name)).all())


def template_choices() -> list[tuple[str, str, str]]:
    """(key, name, channel) of every touchpoint template, by name."""
    return [
        tuple(row)
        for row in db.session.execute(
            select(
                TouchpointTemplate.key, TouchpointTemplate.name, TouchpointTemplate.channel
            ).order_by(TouchpointTemplate.name)
        )
    ]
