"""Validating a rule's actions: defaults, and every refusal named by the path of its field."""

from __future__ import annotations

import pytest

from cs_app.triggers.rules.actions import MAX_ACTIONS, MAX_DAYS, MAX_SLA_HOURS, ActionError
from cs_app.triggers.rules.actions import validate_actions as _validate
from cs_app.triggers.rules.builtin import (
    BUILTIN_POOLS,
    BUILTIN_RULES,
    BUILTIN_TOUCHPOINT_TEMPLATES,
)

POOLS = {"csm-pool", "renewal-specialists"}
TEMPLATES = {
    "welcome-email": "email",
    "risk-alert": "internal_alert",
    "expansion-call": "call_task",
    "nudge": "in_app",
}
STAGES = ("onboarding", "adoption", "renewal", "churned")

ROUTE = {"type": "route_to_pool", "pool": "csm-pool", "priority": "high", "sla_hours": 24}
EMAIL = {
    "type": "schedule_touchpoint",
    "channel": "email",
    "template": "welcome-email",
    "recipient": "primary_contact",
    "delay_days": 2,
}


def validate(actions, templates=None):
    return _validate(
        actions, pools=POOLS, templates=TEMPLATES if templates is None else templates, stages=STAGES
    )


def refusal(actions, templates=None) -> ActionError:
    with pytest.raises(ActionError) as caught:
        validate(actions, templates)
    return caught.value


def test_valid_actions_come_back_with_defaults_filled_in():
    actions = validate(
        [
            {"type": "route_to_pool", "pool": "csm-pool"},
            {
                "type": "schedule_touchpoint",
                "channel": "call_task",
                "template": "expansion-call",
                "recipient": "pool_assignee",
            },
            {"type": "create_action", "title": "  Call the sponsor  ", "owner": "owning_csm"},
            {"type": "set_stage", "stage": "renewal"},
        ]
    )
    assert actions == [
        {"type": "route_to_pool", "pool": "csm-pool", "priority": "normal", "sla_hours": None},
        {
            "type": "schedule_touchpoint",
            "channel": "call_task",
            "template": "expansion-call",
            "recipient": "pool_assignee",
            "delay_days": 0,
        },
        {
            "type": "create_action",
            "title": "Call the sponsor",
            "owner": "owning_csm",
            "due_in_days": 7,
        },
        {"type": "set_stage", "stage": "renewal"},
    ]


def test_no_actions_is_allowed():
    assert validate([]) == []
    assert validate(None) == []


def test_a_plain_set_of_template_keys_skips_the_channel_check():
    assert (
        validate([{**EMAIL, "channel": "in_app"}], templates={"welcome-email"})[0]["channel"]
        == "in_app"
    )


def test_the_built_in_rules_pass():
    pools = {p["key"] for p in BUILTIN_POOLS}
    templates = {t["key"]: t["channel"] for t in BUILTIN_TOUCHPOINT_TEMPLATES}
    for rule in BUILTIN_RULES:
        assert (
            _validate(rule["actions"], pools=pools, templates=templates, stages=STAGES)
            == rule["actions"]
        ), rule["key"]


@pytest.mark.parametrize(
    ("actions", "path", "words"),
    [
        ({"type": "set_stage"}, "actions", "a list"),
        ([{"type": "set_stage", "stage": "renewal"}] * (MAX_ACTIONS + 1), "actions", "at most"),
        (["route_to_pool"], "actions[0]", "object with a type"),
        ([{"pool": "csm-pool"}], "actions[0].type", "unknown action type None"),
        ([EMAIL, {"type": "send_gift"}], "actions[1].type", "unknown action type 'send_gift'"),
        ([{**ROUTE, "queue": "x"}], "actions[0]", "route_to_pool takes no queue"),
        ([ROUTE, ROUTE], "actions[1].type", "at most one route_to_pool"),
        (
            [{"type": "set_stage", "stage": "renewal"}, {"type": "set_stage", "stage": "churned"}],
            "actions[1].type",
            "at most one set_stage",
        ),
    ],
)
def test_malformed_lists_are_refused(actions, path, words):
    error = refusal(actions)
    assert error.path == path
    assert words in error.message
    assert str(error).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"pool": None}, "actions[1].pool", "choose the pool"),
        ({"pool": "nobody"}, "actions[1].pool", "unknown pool 'nobody'"),
        ({"priority": "urgent"}, "actions[1].priority", "unknown priority 'urgent'"),
        ({"sla_hours": "24"}, "actions[1].sla_hours", "whole number"),
        ({"sla_hours": 2.5}, "actions[1].sla_hours", "whole number"),
        ({"sla_hours": True}, "actions[1].sla_hours", "whole number"),
        ({"sla_hours": 0}, "actions[1].sla_hours", f"between 1 and {MAX_SLA_HOURS}"),
        ({"sla_hours": MAX_SLA_HOURS + 1}, "actions[1].sla_hours", "between"),
    ],
)
def test_route_to_pool_refusals(change, path, words):
    error = refusal([EMAIL, {**ROUTE, **change}])
    assert (error.path, words in error.message) == (path, True), error


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"channel": "fax"}, "actions[0].channel", "unknown channel 'fax'"),
        ({"channel": None}, "actions[0].channel", "choose the channel"),
        ({"template": ""}, "actions[0].template", "choose the touchpoint template"),
        ({"template": "gone"}, "actions[0].template", "unknown touchpoint template 'gone'"),
        ({"channel": "in_app"}, "actions[0].template", "written for email, not in_app"),
        ({"recipient": "the customer"}, "actions[0].recipient", "unknown recipient"),
        ({"delay_days": -1}, "actions[0].delay_days", f"between 0 and {MAX_DAYS}"),
        ({"delay_days": MAX_DAYS + 1}, "actions[0].delay_days", "between"),
        ({"delay_days": "2"}, "actions[0].delay_days", "whole number"),
    ],
)
def test_schedule_touchpoint_refusals(change, path, words):
    error = refusal([{**EMAIL, **change}])
    assert (error.path, words in error.message) == (path, True), error


def test_an_internal_alert_goes_to_a_colleague_not_a_customer():
    error = refusal(
        [
            {
                "type": "schedule_touchpoint",
                "channel": "internal_alert",
                "template": "risk-alert",
                "recipient": "executive_sponsor",
            }
        ]
    )
    assert error.path == "actions[0].recipient"
    assert "owning CSM or the pool assignee" in error.message


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"title": None}, "actions[0].title", "needs a title"),
        ({"title": "   "}, "actions[0].title", "needs a title"),
        ({"title": "x" * 301}, "actions[0].title", "at most 300"),
        ({"owner": "Marketing team"}, "actions[0].owner", "unknown owner 'Marketing team'"),
        ({"owner": None}, "actions[0].owner", "choose the owner"),
        ({"due_in_days": -3}, "actions[0].due_in_days", "between 0 and"),
        ({"due_in_days": 1.5}, "actions[0].due_in_days", "whole number"),
    ],
)
def test_create_action_refusals(change, path, words):
    action = {"type": "create_action", "title": "Call", "owner": "owning_csm", **change}
    error = refusal([action])
    assert (error.path, words in error.message) == (path, True), error


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        (None, "choose the lifecycle stage"),
        ("retired", "unknown lifecycle stage 'retired'"),
    ],
)
def test_set_stage_refusals(stage, words):
    error = refusal([EMAIL, {"type": "set_stage", "stage": stage}])
    assert error.path == "actions[1].stage"
    assert words in error.message


@pytest.mark.parametrize(
    ("action", "path"),
    [
        ({**EMAIL, "recipient": "pool_assignee"}, "actions[0].recipient"),
        ({"type": "create_action", "title": "Call", "owner": "pool_assignee"}, "actions[0].owner"),
    ],
)
def test_the_pool_assignee_needs_a_route_to_a_pool(action, path):
    error = refusal([action])
    assert error.path == path
    assert "route_to_pool" in error.message
    assert validate([action, ROUTE])[0] == {
        **action,
        **({"due_in_days": 7} if action["type"] == "create_action" else {}),
    }


def test_unknown_pools_list_the_known_ones():
    assert "csm-pool, renewal-specialists" in refusal([{**ROUTE, "pool": "x"}]).message
    with pytest.raises(ActionError, match="none exist yet"):
        _validate([ROUTE], pools=set(), templates=TEMPLATES, stages=STAGES)
