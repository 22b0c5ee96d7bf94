"""Pure validation of a rule's actions: the list of action objects a firing runs.

The shapes (shared by the rule builder, the API and the action executors):

- ``{"type": "route_to_pool", "pool": KEY, "priority": "high|normal|low", "sla_hours": N}``
- ``{"type": "schedule_touchpoint", "channel": CHANNEL, "template": KEY, "recipient": WHO,
  "delay_days": N}``
- ``{"type": "create_action", "title": TEXT, "owner": "owning_csm|pool_assignee",
  "due_in_days": N}``
- ``{"type": "set_stage", "stage": STAGE}``

``validate_actions`` returns the actions with defaults filled in, or raises ``ActionError``
whose ``path`` names the bad field (``actions[1].pool``) so the builder and the API can point at
it. Pools, templates and stages are passed in: this module reads no database. No Flask, no
SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

ACTION_TYPES = {
    "route_to_pool": "Route to a CSM pool",
    "schedule_touchpoint": "Schedule a touchpoint",
    "create_action": "Create an action item on the active plan",
    "set_stage": "Set the lifecycle stage",
}
PRIORITIES = ("high", "normal", "low")
CHANNELS = ("email", "in_app", "internal_alert", "call_task")
RECIPIENTS = ("primary_contact", "executive_sponsor", "owning_csm", "pool_assignee")
INTERNAL_RECIPIENTS = ("owning_csm", "pool_assignee")
OWNERS = ("owning_csm", "pool_assignee")
FIELDS = {
    "route_to_pool": ("pool", "priority", "sla_hours"),
    "schedule_touchpoint": ("channel", "template", "recipient", "delay_days"),
    "create_action": ("title", "owner", "due_in_days"),
    "set_stage": ("stage",),
}
MAX_ACTIONS = 10
MAX_SLA_HOURS = 24 * 90
MAX_DAYS = 365
MAX_TITLE = 300
ONE_PER_RULE = ("route_to_pool", "set_stage")


class ActionError(ValueError):
    """A bad action; ``path`` names it, e.g. ``actions[1].pool`` or ``actions[0]``."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(
    action: Mapping,
    name: str,
    allowed: Collection[str],
    path: str,
    what: str,
    default: str | None = None,
) -> str:
    value = action.get(name, default)
    if value is None or value == "":
        raise ActionError(f"{path}.{name}", f"choose the {what}")
    if not isinstance(value, str) or value not in allowed:
        listed = ", ".join(allowed) if allowed else "none exist yet"
        raise ActionError(f"{path}.{name}", f"unknown {what} {value!r}; use one of: {listed}")
    return value


def _whole(
    action: Mapping, name: str, path: str, *, low: int, high: int, default: int | None
) -> int | None:
    value = action.get(name, default)
    if value is None:
        return default
    if not _is_whole(value):
        raise ActionError(f"{path}.{name}", f"{name} is a whole number; {value!r} is not")
    if not low <= value <= high:
        raise ActionError(f"{path}.{name}", f"{name} is between {low} and {high}")
    return value


def _route(action: Mapping, path: str, pools: Collection[str]) -> dict[str, Any]:
    return {
        "type": "route_to_pool",
        "pool": _choice(action, "pool", sorted(pools), path, "pool"),
        "priority": _choice(action, "priority", PRIORITIES, path, "priority", "normal"),
        # None: the pool's default SLA
        "sla_hours": _whole(action, "sla_hours", path, low=1, high=MAX_SLA_HOURS, default=None),
    }


def _touchpoint(
    action: Mapping, path: str, templates: Collection[str] | Mapping[str, str]
) -> dict[str, Any]:
    channel = _choice(action, "channel", CHANNELS, path, "channel")
    template = _choice(action, "template", sorted(templates), path, "touchpoint template")
    if isinstance(templates, Mapping) and templates[template] != channel:
        raise ActionError(
            f"{path}.template",
            f"template {template!r} is written for {templates[template]}, not {channel}",
        )
    recipient = _choice(action, "recipient", RECIPIENTS, path, "recipient")
    if channel == "internal_alert" and recipient not in INTERNAL_RECIPIENTS:
        raise ActionError(
            f"{path}.recipient", "an internal alert goes to the owning CSM or the pool assignee"
        )
    return {
        "type": "schedule_touchpoint",
        "channel": channel,
        "template": template,
        "recipient": recipient,
        "delay_days": _whole(action, "delay_days", path, low=0, high=MAX_DAYS, default=0),
    }


def _create_action(action: Mapping, path: str) -> dict[str, Any]:
    title = action.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ActionError(f"{path}.title", "an action item needs a title")
    if len(title.strip()) > MAX_TITLE:
        raise ActionError(f"{path}.title", f"the title is at most {MAX_TITLE} characters")
    return {
        "type": "create_action",
        "title": title.strip(),
        # an action item's owner is always a named person: whoever these resolve to
        "owner": _choice(action, "owner", OWNERS, path, "owner"),
        "due_in_days": _whole(action, "due_in_days", path, low=0, high=MAX_DAYS, default=7),
    }


def _set_stage(action: Mapping, path: str, stages: Collection[str]) -> dict[str, Any]:
    return {
        "type": "set_stage",
        "stage": _choice(action, "stage", list(stages), path, "lifecycle stage"),
    }


def validate_actions(
    actions: Any,
    *,
    pools: Collection[str],
    templates: Collection[str] | Mapping[str, str],
    stages: Collection[str],
    path: str = "actions",
) -> list[dict[str, Any]]:
    """The actions with defaults filled in; raises ``ActionError`` naming the first bad field.

    ``templates`` may map each template key to its channel, and then a template must be used
    on its own channel. A rule routes to at most one pool and sets at most one stage, and the
    pool assignee (as recipient or owner) exists only when the rule routes to a pool.
    """
    if actions is None:
        return []
    if not isinstance(actions, list):
        raise ActionError(path, "actions are a list of action objects")
    if len(actions) > MAX_ACTIONS:
        raise ActionError(path, f"a rule runs at most {MAX_ACTIONS} actions")
    cleaned: list[dict[str, Any]] = []
    for index, action in enumerate(actions):
        here = f"{path}[{index}]"
        if not isinstance(action, dict):
            raise ActionError(here, "each action is an object with a type")
        kind = action.get("type")
        if kind not in ACTION_TYPES:
            raise ActionError(
                f"{here}.type",
                f"unknown action type {kind!r}; use one of: {', '.join(ACTION_TYPES)}",
            )
        unknown = set(action) - {"type", *FIELDS[kind]}
        if unknown:
            raise ActionError(here, f"{kind} takes no {', '.join(sorted(unknown))}")
        if kind in ONE_PER_RULE and any(a["type"] == kind for a in cleaned):
            raise ActionError(f"{here}.type", f"a rule has at most one {kind} action")
        if kind == "route_to_pool":
            cleaned.append(_route(action, here, pools))
        elif kind == "schedule_touchpoint":
            cleaned.append(_touchpoint(action, here, templates))
        elif kind == "create_action":
            cleaned.append(_create_action(action, here))
        else:
            cleaned.append(_set_stage(action, here, stages))
    routes = any(a["type"] == "route_to_pool" for a in cleaned)
    for index, action in enumerate(cleaned):
        for name in ("recipient", "owner"):
            if action.get(name) == "pool_assignee" and not routes:
                raise ActionError(
                    f"{path}[{index}].{name}",
                    "the pool assignee exists only when the rule also routes "
                    "to a pool (add a route_to_pool action)",
                )
    return cleaned
