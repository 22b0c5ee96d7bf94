"""Trigger rule authoring: validating, creating, changing (with the version read), enabling,
deleting — each audited — the list's firing counts, and the preview of a condition."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.accounts.usage_models import AccountSignals, MetricValue
from cs_app.audit.models import AuditEvent
from cs_app.errors import ConflictError, PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.rules import service
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.rules.preview import preview_condition
from tests.factories import (
    AccountFactory,
    PoolFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    UserFactory,
)

CONDITION = {
    "all": [
        {"signal": "days_since_last_login", "op": ">", "value": 14},
        {"signal": "days_to_renewal", "op": "<=", "value": 90},
    ]
}
ROUTE = {"type": "route_to_pool", "pool": "csm-pool", "priority": "high", "sla_hours": 24}


def payload(**changes):
    return {
        "name": "Quiet before renewal",
        "kind": "risk",
        "condition": CONDITION,
        "actions": [ROUTE],
        **changes,
    }


@pytest.fixture
def lead(app):
    return UserFactory(role="lead")


def refused(data) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        service.validate_rule_payload(data)
    return caught.value.fields


def audit_of(rule_id) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "rule", AuditEvent.entity_id == str(rule_id))
            .order_by(AuditEvent.id)
        )
    )


def signals(account, now, **values):
    row = AccountSignals(account_id=account.id, computed_at=now, **values)
    db.session.add(row)
    db.session.flush()
    return row


# --- validation -----------------------------------------------------------------------------


def test_a_valid_payload_is_cleaned_with_defaults(app):
    clean = service.validate_rule_payload(payload(name="  Quiet  "))
    assert clean == {
        "name": "Quiet",
        "description": None,
        "kind": "risk",
        "enabled": True,
        "mode": "scheduled",
        "event_type": None,
        "event_properties": None,
        "first_event_only": False,
        "condition": CONDITION,
        "actions": [ROUTE],
        "once_policy": "while_open",
        "cooldown_days": 0,
        "snooze_days": 14,
        "include_churned": False,
    }


def test_snooze_days_and_the_churned_flag_are_kept_or_refused(app):
    clean = service.validate_rule_payload(payload(snooze_days="30", include_churned=True))
    assert (clean["snooze_days"], clean["include_churned"]) == (30, True)
    assert service.validate_rule_payload(payload(snooze_days=0))["snooze_days"] == 0
    for bad in (-1, 366, "two weeks", True):
        with pytest.raises(ValidationError) as caught:
            service.validate_rule_payload(payload(snooze_days=bad))
        assert caught.value.fields == {
            "snooze_days": "Enter the snooze in whole days, 0 to 365 (0: no snooze)."
        }
    with pytest.raises(ValidationError) as caught:
        service.validate_rule_payload(payload(include_churned="yes"))
    assert caught.value.fields == {"include_churned": "include_churned is true or false."}


def test_the_browser_form_sends_text_and_it_reads_the_same(app):
    clean = service.validate_rule_payload(
        payload(
            condition='{"all": [{"signal": "metric.quota_used_pct", "op": ">=", "value": 80}]}',
            actions='[{"type": "set_stage", "stage": "expansion"}]',
            mode="event",
            event_type="support_ticket",
            event_properties="severity=high, urgent\n\nqueue=billing",
            first_event_only=True,
            once_policy="cooldown",
            cooldown_days=" 30 ",
        )
    )
    assert clean["condition"] == {
        "all": [{"signal": "metric.quota_used_pct", "op": ">=", "value": 80}]
    }
    assert clean["actions"] == [{"type": "set_stage", "stage": "expansion"}]
    assert clean["event_properties"] == {"severity": ["high", "urgent"], "queue": ["billing"]}
    assert (clean["event_type"], clean["first_event_only"], clean["cooldown_days"]) == (
        "support_ticket",
        True,
        30,
    )


def test_a_scheduled_rule_keeps_no_event_settings_and_only_cooldown_keeps_days(app):
    clean = service.validate_rule_payload(
        payload(
            event_type="login",
            event_properties={"x": ["y"]},
            first_event_only=True,
            once_policy="once_ever",
            cooldown_days=12,
        )
    )
    assert (
        clean["event_type"],
        clean["event_properties"],
        clean["first_event_only"],
        clean["cooldown_days"],
    ) == (None, None, False, 0)


def test_a_bad_condition_names_the_clause(app):
    fields = refused(
        payload(
            condition={
                "all": [
                    {"signal": "days_since_last_login", "op": ">", "value": 14},
                    {"signal": "foo", "op": "=", "value": 1},
                ]
            }
        )
    )
    assert fields["condition"] == "condition.all[1]: unknown signal 'foo'"
    assert fields["condition.all[1]"] == "unknown signal 'foo'"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (None, "condition: a rule needs a condition"),
        ("{not json", "condition: not valid JSON"),
        ({"all": []}, "condition: all needs a non-empty list"),
        (
            {"any": [{"signal": "nps_category", "op": "=", "value": "fan"}]},
            "condition.any[0]: 'fan' is not a value of nps_category",
        ),
        (
            {"not": {"signal": "logins_7d", "op": ">", "value": "many"}},
            "condition.not: logins_7d is a number; 'many' is not",
        ),
        (
            {"all": [{"signal": "metric.Quota Used", "op": ">", "value": 1}]},
            "condition.all[0]: unknown signal 'metric.Quota Used'",
        ),
    ],
)
def test_condition_refusals(app, condition, message):
    assert refused(payload(condition=condition))["condition"].startswith(message)


def test_a_bad_action_names_its_field(app):
    fields = refused(payload(actions=[ROUTE, {"type": "route_to_pool", "pool": "nobody"}]))
    assert fields["actions"].startswith("actions[1].type: a rule has at most one route_to_pool")
    fields = refused(payload(actions=[{**ROUTE, "pool": "nobody"}]))
    assert fields["actions"].startswith("actions[0].pool: unknown pool 'nobody'")
    assert fields["actions[0].pool"].startswith("unknown pool 'nobody'")
    fields = refused(payload(actions='[{"type": '))
    assert fields["actions"].startswith("actions: not valid JSON")


def test_a_template_on_the_wrong_channel_is_refused(app):
    fields = refused(
        payload(
            actions=[
                {
                    "type": "schedule_touchpoint",
                    "channel": "email",
                    "template": "risk-alert",
                    "recipient": "owning_csm",
                }
            ]
        )
    )
    assert fields["actions[0].template"] == (
        "template 'risk-alert' is written for internal_alert, not email"
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "  "}, "name", "Give the rule a name"),
        ({"name": "x" * 201}, "name", "at most 200"),
        ({"description": "x" * 5001}, "description", "at most 5000"),
        ({"kind": "upsell"}, "kind", "Choose the kind"),
        ({"mode": "hourly"}, "mode", "scheduled or event"),
        ({"enabled": "yes"}, "enabled", "true or false"),
        ({"mode": "event"}, "event_type", "Name the event type"),
        ({"mode": "event", "event_type": "Support Ticket"}, "event_type", "lower case"),
        (
            {"mode": "event", "event_type": "support_ticket", "event_properties": "severity"},
            "event_properties",
            "Line 1: write key=value1,value2",
        ),
        (
            {"mode": "event", "event_type": "support_ticket", "event_properties": {"severity": []}},
            "event_properties",
            "list the values",
        ),
        (
            {"mode": "event", "event_type": "support_ticket", "event_properties": ["severity"]},
            "event_properties",
            "an object",
        ),
        (
            {"mode": "event", "event_type": "x", "first_event_only": "1"},
            "first_event_only",
            "true or false",
        ),
        ({"once_policy": "twice"}, "once_policy", "Choose a once-only policy"),
        ({"once_policy": "cooldown"}, "cooldown_days", "whole days, 1 to 3650"),
        ({"once_policy": "cooldown", "cooldown_days": "two"}, "cooldown_days", "whole days"),
        ({"once_policy": "cooldown", "cooldown_days": 0}, "cooldown_days", "whole days"),
    ],
)
def test_field_refusals(app, changes, field, words):
    fields = refused(payload(**changes))
    assert words in fields[field]


def test_every_problem_is_reported_at_once(app):
    fields = refused(
        {
            "name": "",
            "kind": "x",
            "condition": {"all": [{"signal": "foo", "op": "=", "value": 1}]},
            "actions": [{"type": "x"}],
        }
    )
    assert {"name", "kind", "condition", "condition.all[0]", "actions", "actions[0].type"} <= set(
        fields
    )


def test_signal_info_reads_the_catalog_and_metrics(app):
    assert service.signal_info("nps_category") == ("category", ("promoter", "passive", "detractor"))
    assert service.signal_info("metric.quota_used_pct") == ("number", ())
    assert service.signal_info("metric.") is None
    assert service.signal_info("metric.Has Spaces") is None
    assert service.signal_info("foo") is None


# --- changes --------------------------------------------------------------------------------


def test_create_rule_saves_and_audits(app, lead, now):
    rule = service.create_rule(payload(description="Why"), user=lead, now=now)
    assert (rule.name, rule.kind, rule.version, rule.created_by_id, rule.key) == (
        "Quiet before renewal",
        "risk",
        1,
        lead.id,
        None,
    )
    assert rule.created_at == now and rule.updated_at == now
    [event] = audit_of(rule.id)
    assert (event.action, event.user_id, event.before) == ("created", lead.id, None)
    assert event.after["condition"] == CONDITION and event.after["description"] == "Why"


def test_a_refused_rule_saves_nothing(app, lead, now):
    before = db.session.scalar(select(db.func.count(Rule.id)))
    with pytest.raises(ValidationError):
        service.create_rule(payload(kind="x"), user=lead, now=now)
    assert db.session.scalar(select(db.func.count(Rule.id))) == before


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("Bad Key", "lower-case letters"),
        ("journey-welcome", "Another rule has the key"),
    ],
)
def test_key_refusals(app, lead, now, key, message):
    with pytest.raises(ValidationError) as caught:
        service.create_rule(payload(key=key), user=lead, now=now)
    assert message in caught.value.fields["key"]


def test_a_key_may_be_given(app, lead, now):
    assert (
        service.create_rule(payload(key="quiet-renewal"), user=lead, now=now).key == "quiet-renewal"
    )


@pytest.mark.parametrize("role", ["viewer", "csm"])
def test_only_leads_and_admins_change_rules(app, now, role):
    user = UserFactory(role=role)
    rule = RuleFactory()
    for attempt in (
        lambda: service.create_rule(payload(), user=user, now=now),
        lambda: service.update_rule(rule, payload(), user=user, now=now),
        lambda: service.set_enabled(rule, False, user=user, now=now),
        lambda: service.delete_rule(rule, user=user, now=now),
    ):
        with pytest.raises(PermissionDenied):
            attempt()


def test_update_rule_with_the_version_read(app, lead, now):
    rule = service.create_rule(payload(), user=lead, now=now)
    later = now + timedelta(hours=1)
    service.update_rule(
        rule,
        payload(name="Renamed", version=1, once_policy="cooldown", cooldown_days=14),
        user=lead,
        now=later,
    )
    assert (rule.name, rule.version, rule.cooldown_days, rule.updated_at) == (
        "Renamed",
        2,
        14,
        later,
    )
    event = audit_of(rule.id)[-1]
    assert event.action == "updated"
    assert (event.before["name"], event.after["name"]) == ("Quiet before renewal", "Renamed")


def test_saving_the_same_definition_changes_nothing(app, lead, now):
    rule = service.create_rule(payload(), user=lead, now=now)
    service.update_rule(rule, payload(version=1), user=lead, now=now + timedelta(hours=1))
    assert rule.version == 1 and rule.updated_at == now
    assert [e.action for e in audit_of(rule.id)] == ["created"]


def test_a_stale_version_is_a_conflict_and_changes_nothing(app, lead, now):
    rule = service.create_rule(payload(), user=lead, now=now)
    service.update_rule(rule, payload(name="Theirs", version=1), user=lead, now=now)
    with pytest.raises(ConflictError) as caught:
        service.update_rule(rule, payload(name="Mine", version=1), user=lead, now=now)
    assert "version 1" in caught.value.message and "version 2" in caught.value.message
    assert "version" in caught.value.fields
    assert rule.name == "Theirs" and rule.version == 2


def test_enable_and_disable_are_audited_once(app, lead, now):
    rule = RuleFactory(enabled=True)
    assert service.set_enabled(rule, False, user=lead, now=now) is True
    assert service.set_enabled(rule, False, user=lead, now=now) is False
    assert service.set_enabled(rule, True, user=lead, now=now) is True
    assert [(e.action, e.after) for e in audit_of(rule.id)] == [
        ("disabled", {"enabled": False}),
        ("enabled", {"enabled": True}),
    ]


def test_delete_takes_the_firings_and_leaves_queue_items(app, lead, now):
    rule = RuleFactory()
    firing = RuleFiringFactory(rule=rule)
    item = QueueItemFactory(
        pool=PoolFactory(), account=firing.account, rule=rule, firing_id=firing.id
    )
    rule_id, item_id = rule.id, item.id
    service.delete_rule(rule, user=lead, now=now)
    db.session.expire_all()
    assert db.session.get(Rule, rule_id) is None
    assert db.session.scalars(select(RuleFiring).where(RuleFiring.rule_id == rule_id)).all() == []
    assert db.session.get(QueueItem, item_id).rule_id is None
    assert audit_of(rule_id)[-1].action == "deleted"
    assert audit_of(rule_id)[-1].before["name"] == rule.name


# --- the list and the firings ---------------------------------------------------------------


def test_list_counts_recent_and_open_firings_in_fixed_queries(app, now, count_queries):
    busy = RuleFactory(name="Zz busy")
    quiet = RuleFactory(name="Zz quiet", enabled=False)
    for days, status in ((1, "open"), (10, "closed"), (40, "closed"), (45, "open")):
        RuleFiringFactory(rule=busy, fired_at=now - timedelta(days=days), status=status)
    filters = service.RuleFilters.from_args({"q": "zz"})
    with count_queries() as counter:
        page = service.list_rules(filters, now=now)
    assert counter.count == 2
    rows = {row.name: row for row in page.items}
    assert (rows["Zz busy"].firings_30d, rows["Zz busy"].open_firings) == (2, 2)
    assert (rows["Zz quiet"].firings_30d, rows["Zz quiet"].open_firings) == (0, 0)
    assert page.total == 2
    by_firings = service.list_rules(
        service.RuleFilters.from_args({"q": "zz", "sort": "firings", "dir": "desc"}), now=now
    )
    assert [r.name for r in by_firings.items] == ["Zz busy", "Zz quiet"]
    disabled = service.list_rules(
        service.RuleFilters.from_args({"q": "zz", "enabled": "no"}), now=now
    )
    assert [r.id for r in disabled.items] == [quiet.id]


def test_list_filters_by_kind_and_ignores_unknown_arguments(app, now):
    RuleFactory(name="Zz expansion", kind="expansion")
    RuleFactory(name="Zz risk", kind="risk")
    filters = service.RuleFilters.from_args(
        {"q": "zz", "kind": "expansion", "sort": "nope", "page": "x", "enabled": "maybe"}
    )
    assert (filters.sort, filters.page, filters.enabled) == ("name", 1, "")
    assert [r.name for r in service.list_rules(filters, now=now).items] == ["Zz expansion"]


def test_firings_page_newest_first(app, now):
    rule = RuleFactory()
    for days in range(30):
        RuleFiringFactory(rule=rule, fired_at=now - timedelta(days=days))
    first = service.rule_firings(rule, page=1)
    assert (first.total, first.pages, len(first.items)) == (30, 2, 25)
    assert first.items[0].fired_at == now
    assert len(service.rule_firings(rule, page=2).items) == 5
    assert service.rule_firings(rule, page=99).page == 2


# --- preview --------------------------------------------------------------------------------


def test_preview_counts_and_explains_the_matches(app, now):
    csm = UserFactory(name="Casey CSM")
    big = AccountFactory(name="Big", arr_minor=9_000_000, csm=csm)
    small = AccountFactory(name="Small", arr_minor=100_000)
    other = AccountFactory(name="Other")
    signals(big, now, days_since_last_login=20, days_to_renewal=60)
    signals(small, now, days_since_last_login=30, days_to_renewal=10)
    signals(other, now, days_since_last_login=2, days_to_renewal=10)
    preview = preview_condition(CONDITION, now=now)
    assert (preview.count, preview.accounts_with_signals) == (2, 3)
    assert preview.signals == ["days_since_last_login", "days_to_renewal"]
    assert [r.name for r in preview.rows] == ["Big", "Small"]  # largest ARR first
    first = preview.rows[0]
    assert first.values == {"days_since_last_login": 20, "days_to_renewal": 60}
    assert (first.csm_name, first.segment) == ("Casey CSM", "Mid-Market")
    assert [(c.signal, c.actual, c.result) for c in first.clauses] == [
        ("days_since_last_login", 20, True),
        ("days_to_renewal", 60, True),
    ]
    assert preview.signals_computed_at == now


def test_preview_marks_unknown_and_false_clauses_and_reads_metrics(app, now):
    account = AccountFactory()
    signals(account, now, days_since_last_login=None, health_band="critical")
    db.session.add(
        MetricValue(
            account_id=account.id, metric_key="quota_used_pct", measured_on=now.date(), value=91.0
        )
    )
    condition = {
        "any": [
            {"signal": "days_since_last_login", "op": ">", "value": 14},
            {"signal": "metric.quota_used_pct", "op": ">=", "value": 80},
            {"signal": "health_band", "op": "=", "value": "healthy"},
        ]
    }
    [row] = preview_condition(condition, now=now).rows
    assert [c.result for c in row.clauses] == [None, True, False]
    assert row.values["metric.quota_used_pct"] == 91.0


def test_preview_limits_the_rows_not_the_count(app, now):
    for _ in range(4):
        signals(AccountFactory(), now, logins_7d=0)
    preview = preview_condition(
        {"all": [{"signal": "logins_7d", "op": "=", "value": 0}]}, limit=3, now=now
    )
    assert (preview.count, len(preview.rows), preview.limit) == (4, 3, 3)


def test_preview_refuses_a_bad_condition_with_its_path(app, now):
    with pytest.raises(ValidationError) as caught:
        preview_condition({"all": [{"signal": "foo", "op": "=", "value": 1}]}, now=now)
    assert caught.value.fields["condition.all[0]"] == "unknown signal 'foo'"
