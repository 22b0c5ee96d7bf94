"""Trigger rules over the API: list, read, create, change (with the version read), delete,
and preview a condition (saved or not) against the accounts' signals now.

Any token reads and previews; leads and admins write. A refused condition answers 422 with
``error.fields.condition`` holding the path of the bad clause and the message
(``condition.all[1]: unknown signal 'foo'``) and the path itself as a second key
(``error.fields["condition.all[1]"]``); actions the same way (``actions[0].pool``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from flask import jsonify, url_for
from pydantic import Field

from cs_app.accounts.models import LIFECYCLE_STAGES
from cs_app.api.auth import api_user, require_lead
from cs_app.api.parsing import parse_body, parse_query
from cs_app.api.responses import Out, UserRef
from cs_app.api.routing import api_route
from cs_app.api.schemas import Body, Query, Segment, Whole
from cs_app.api.serializers import moment
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.rules import service
from cs_app.triggers.rules.actions import CHANNELS, OWNERS, PRIORITIES, RECIPIENTS
from cs_app.triggers.rules.models import RULE_KINDS, RULE_MODES, Rule
from cs_app.triggers.rules.preview import MAX_LIMIT, Preview, preview_condition, route_pools

TAG = "Rules"
WRITERS_ONLY = "Only leads and admins create, change and delete trigger rules."

RuleKind = Literal[tuple(RULE_KINDS)]
RuleMode = Literal[tuple(RULE_MODES)]
OncePolicy = Literal[tuple(service.ONCE_POLICIES)]
CONDITION_DOC = (
    'A tree of `all` / `any` / `not` over clauses `{"signal", "op", "value"}`; op '
    "is one of = != > >= < <= in not_in between is_null not_null; a signal is "
    "one of the catalog's or `metric.<key>`."
)
ACTIONS_DOC = (
    "Run in order when the rule fires: "
    '`{"type": "route_to_pool", "pool", "priority", "sla_hours"}`, '
    '`{"type": "schedule_touchpoint", "channel", "template", "recipient", "delay_days"}`, '
    '`{"type": "create_action", "title", "owner", "due_in_days"}`, '
    '`{"type": "set_stage", "stage"}`. '
    f"priority: {', '.join(PRIORITIES)}; channel: {', '.join(CHANNELS)}; recipient: "
    f"{', '.join(RECIPIENTS)}; owner: {', '.join(OWNERS)}; stage: "
    f"{', '.join(LIFECYCLE_STAGES)}."
)


# --- request and answer shapes --------------------------------------------------------------


# days held in INTEGER columns and added to dates: ten years is the most that means anything
MAX_DAYS = 3650


class RuleListQuery(Query):
    kind: RuleKind | None = None
    enabled: bool | None = Field(default=None, description="true or false; both when left out.")
    page: Whole = Field(default=1, ge=1)
    per_page: Whole = Field(default=50, ge=1, le=200)


class RuleDefinition(Body):
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    kind: RuleKind
    enabled: bool = True
    mode: RuleMode = Field(
        default="scheduled",
        description="scheduled: every account on "
        "each evaluation; event: one "
        "account when its event arrives.",
    )
    event_type: str | None = Field(
        default=None, max_length=60, description="Event rules: the event type waited for."
    )
    event_properties: dict[str, list[str]] | None = Field(
        default=None,
        description="Event rules: the values each property may have, e.g. "
        '{"severity": ["high", "urgent"]}.',
    )
    first_event_only: bool = Field(
        default=False, description="Event rules: only the account's first event of the type counts."
    )
    condition: dict[str, Any] = Field(description=CONDITION_DOC)
    actions: list[dict[str, Any]] = Field(default_factory=list, description=ACTIONS_DOC)
    once_policy: OncePolicy = Field(
        default="while_open",
        description="Never while the previous firing is open; then per the policy.",
    )
    cooldown_days: Whole = Field(
        default=0,
        ge=0,
        le=MAX_DAYS,
        description="For the cooldown policy: days after the previous firing.",
    )
    snooze_days: Whole = Field(
        default=14,
        ge=0,
        le=MAX_DAYS,
        description="Days the rule stays quiet for an account after its queue item there is "
        "resolved (0: no snooze). Reopening the item ends the snooze.",
    )
    include_churned: bool = Field(
        default=False, description="Whether the rule fires for churned accounts too."
    )

    missing_messages: ClassVar[dict[str, str]] = {
        "name": "Give the rule a name.",
        "kind": f"Choose the kind: {', '.join(RULE_KINDS)}.",
        "condition": 'Send the condition, e.g. {"all": [{"signal": "days_since_last_login", '
        '"op": ">", "value": 14}]}.',
    }


class RuleCreate(RuleDefinition):
    key: str | None = Field(
        default=None, max_length=80, description="Optional slug for configuration as code."
    )


class RuleUpdate(Body):
    """Keys left out keep their saved values."""

    version: Whole = Field(
        description="The version you read; 409 when the rule was saved since, and nothing changes."
    )
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    kind: RuleKind | None = None
    enabled: bool | None = None
    mode: RuleMode | None = None
    event_type: str | None = Field(default=None, max_length=60)
    event_properties: dict[str, list[str]] | None = None
    first_event_only: bool | None = None
    condition: dict[str, Any] | None = Field(default=None, description=CONDITION_DOC)
    actions: list[dict[str, Any]] | None = Field(default=None, description=ACTIONS_DOC)
    once_policy: OncePolicy | None = None
    cooldown_days: Whole | None = Field(default=None, ge=0, le=MAX_DAYS)
    snooze_days: Whole | None = Field(default=None, ge=0, le=MAX_DAYS)
    include_churned: bool | None = None

    missing_messages: ClassVar[dict[str, str]] = {
        "version": "Send the version you read (GET the rule first).",
    }


class PreviewRequest(Body):
    condition: dict[str, Any] = Field(description=CONDITION_DOC)
    limit: Whole = Field(default=50, ge=1, le=MAX_LIMIT, description="How many accounts to list.")
    include_churned: bool = Field(
        default=False, description="Count churned accounts as the rule would fire for them."
    )
    actions: list[dict[str, Any]] | None = Field(
        default=None,
        description="The rule's actions: their pools tell which matches would join an open item.",
    )


class PreviewQuery(Query):
    limit: Whole = Field(default=50, ge=1, le=MAX_LIMIT, description="How many accounts to list.")


class RuleOut(Out):
    id: int
    key: str | None = Field(description="Set on the rules shipped with the app.")
    name: str
    description: str | None
    kind: RuleKind
    enabled: bool
    mode: RuleMode
    event_type: str | None
    event_properties: dict[str, list[str]] | None
    first_event_only: bool
    condition: dict[str, Any]
    actions: list[dict[str, Any]]
    once_policy: OncePolicy
    cooldown_days: int
    snooze_days: int = Field(description="Days the rule stays quiet after a resolved item.")
    include_churned: bool = Field(description="Whether the rule fires for churned accounts.")
    version: int
    created_at: datetime
    updated_at: datetime


class RulePage(Out):
    items: list[RuleOut]
    page: int
    per_page: int
    total: int


class ClauseResultOut(Out):
    signal: str
    op: str
    value: Any
    actual: Any = Field(description="The account's value of the signal now.")
    result: bool | None = Field(description="null: unknown, the signal has no value.")


class PreviewAccountOut(Out):
    external_id: str
    name: str
    segment: Segment
    csm: UserRef | None
    values: dict[str, Any] = Field(description="Each signal the condition reads.")
    clauses: list[ClauseResultOut] = Field(description="Each clause, depth first.")


class PreviewOut(Out):
    count: int = Field(description="Accounts that match now.")
    accounts_with_signals: int
    signals: list[str]
    signals_computed_at: datetime | None
    limit: int
    accounts: list[PreviewAccountOut] = Field(
        description="The first `limit` matches, largest ARR first."
    )
    skipped_churned: int = Field(
        description="Matches the rule skips: churned accounts, unless include_churned."
    )
    snoozed: int = Field(
        description="Further matches a resolved queue item of the rule snoozes (saved rules)."
    )
    merged: int = Field(
        description="Further matches that already have an open item in a pool the rule routes "
        "to: their firing joins it instead of opening a second item."
    )


# --- serializers ----------------------------------------------------------------------------


def rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "key": rule.key,
        **service.definition(rule),
        "version": rule.version,
        "created_at": moment(rule.created_at),
        "updated_at": moment(rule.updated_at),
    }


def preview_json(preview: Preview) -> dict[str, Any]:
    return {
        "count": preview.count,
        "accounts_with_signals": preview.accounts_with_signals,
        "signals": preview.signals,
        "signals_computed_at": moment(preview.signals_computed_at),
        "limit": preview.limit,
        "skipped_churned": preview.skipped_churned,
        "snoozed": preview.snoozed,
        "merged": preview.merged,
        "accounts": [
            {
                "external_id": row.external_id,
                "name": row.name,
                "segment": row.segment,
                "csm": {"user_email": row.csm_email, "name": row.csm_name}
                if row.csm_email
                else None,
                "values": row.values,
                "clauses": [
                    {
                        "signal": c.signal,
                        "op": c.op,
                        "value": c.value,
                        "actual": c.actual,
                        "result": c.result,
                    }
                    for c in row.clauses
                ],
            }
            for row in preview.rows
        ],
    }


# --- routes ---------------------------------------------------------------------------------


@api_route(
    "/rules",
    "GET",
    tag=TAG,
    summary="List trigger rules",
    description="By name; filters `kind` and `enabled`; paged.",
    query=RuleListQuery,
    response=RulePage,
)
def list_rules():
    query = parse_query(RuleListQuery)
    found = service.find_rules(
        kind=query.kind, enabled=query.enabled, page=query.page, per_page=query.per_page
    )
    return jsonify(
        {
            "items": [rule_json(r) for r in found.items],
            "page": found.page,
            "per_page": found.per_page,
            "total": found.total,
        }
    )


@api_route(
    "/rules",
    "POST",
    tag=TAG,
    summary="Create a trigger rule",
    description="A refused condition or action names its path in `error.fields` "
    "(`condition`: `condition.all[1]: unknown signal 'foo'`, and the path "
    "`condition.all[1]` as a key of its own). For leads and admins.",
    request=RuleCreate,
    response=RuleOut,
    status=201,
)
def create_rule():
    user = api_user()
    require_lead(user, WRITERS_ONLY)
    rule = service.create_rule(parse_body(RuleCreate).values(), user=user, now=utcnow())
    db.session.commit()
    response = jsonify(rule_json(rule))
    response.headers["Location"] = url_for("api.get_rule", rule_id=rule.id)
    return response, 201


@api_route("/rules/<int:rule_id>", "GET", tag=TAG, summary="Read a trigger rule", response=RuleOut)
def get_rule(rule_id: int):
    return jsonify(rule_json(service.get_rule(rule_id)))


@api_route(
    "/rules/<int:rule_id>",
    "PUT",
    tag=TAG,
    summary="Change a trigger rule",
    description="Send the `version` you read: when the rule was saved since, the answer "
    "is 409 and nothing changes. Keys left out keep their saved values. "
    "For leads and admins.",
    request=RuleUpdate,
    response=RuleOut,
    conflict=True,
)
def put_rule(rule_id: int):
    user = api_user()
    rule = service.get_rule(rule_id)
    require_lead(user, WRITERS_ONLY)
    sent = parse_body(RuleUpdate).values()
    service.update_rule(rule, {**service.definition(rule), **sent}, user=user, now=utcnow())
    db.session.commit()
    return jsonify(rule_json(rule))


@api_route(
    "/rules/<int:rule_id>",
    "DELETE",
    tag=TAG,
    summary="Delete a trigger rule",
    description="Its firings go with it; queue items and touchpoints it made stay. "
    "For leads and admins (disabling keeps the history).",
    status=204,
)
def delete_rule(rule_id: int):
    user = api_user()
    rule = service.get_rule(rule_id)
    require_lead(user, WRITERS_ONLY)
    service.delete_rule(rule, user=user, now=utcnow())
    db.session.commit()
    return "", 204


@api_route(
    "/rules/<int:rule_id>/preview",
    "POST",
    tag=TAG,
    summary="Which accounts the rule's condition matches now, and why",
    description="Counts the matching accounts and lists the first `limit` (largest ARR "
    "first) with the value of each signal the condition reads and each "
    "clause's result. Nothing is saved or fired.",
    query=PreviewQuery,
    response=PreviewOut,
)
def preview_rule(rule_id: int):
    rule = service.get_rule(rule_id)
    query = parse_query(PreviewQuery)
    return jsonify(
        preview_json(
            preview_condition(
                rule.condition,
                limit=query.limit,
                now=utcnow(),
                include_churned=rule.include_churned,
                rule_id=rule.id,
                pool_keys=route_pools(rule.actions),
            )
        )
    )


@api_route(
    "/rules/preview",
    "POST",
    tag=TAG,
    summary="Preview an unsaved condition",
    description="As the preview of a saved rule, for the condition sent; a refused "
    "condition answers 422 naming the clause's path.",
    request=PreviewRequest,
    response=PreviewOut,
)
def preview_unsaved():
    body = parse_body(PreviewRequest)
    return jsonify(
        preview_json(
            preview_condition(
                body.condition,
                limit=body.limit,
                now=utcnow(),
                include_churned=body.include_churned,
                pool_keys=route_pools(body.actions),
            )
        )
    )
