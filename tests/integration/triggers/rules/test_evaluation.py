"""Scheduled rule evaluation: set-based firings, the once-only policies, closing, counts, and
the actions the executor runs on new firings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import false, func, select, update

from cs_app.accounts.models import Account, LifecycleStageEntry
from cs_app.accounts.signals import compute_signals
from cs_app.accounts.usage_models import AccountSignals, MetricValue
from cs_app.extensions import db
from cs_app.jobs.runner import run_job
from cs_app.plans.models import ActionItem, Plan, PlanChange
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.rules import evaluation
from cs_app.triggers.rules.evaluation import evaluate_scheduled_rules
from cs_app.triggers.rules.executor import execute_actions
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.touchpoints.models import Touchpoint
from tests.factories import (
    AccountFactory,
    ContactFactory,
    PlanFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    TouchpointTemplateFactory,
    UserFactory,
)

CRITICAL = {"all": [{"signal": "health_band", "op": "=", "value": "critical"}]}


def with_signals(now, accounts, **columns_by_account):
    """Compute the accounts' signals, then set the given columns: ``name=[v1, v2, …]``."""
    compute_signals(now=now, account_ids=[a.id for a in accounts])
    for name, values in columns_by_account.items():
        for account, value in zip(accounts, values, strict=True):
            setattr(db.session.get(AccountSignals, account.id), name, value)
    db.session.flush()


def firings(rule):
    return list(
        db.session.scalars(
            select(RuleFiring)
            .where(RuleFiring.rule_id == rule.id)
            .order_by(RuleFiring.account_id, RuleFiring.id)
        )
    )


def run(rule_or_rules, now):
    rules = rule_or_rules if isinstance(rule_or_rules, list) else [rule_or_rules]
    counts = evaluate_scheduled_rules(now=now, rule_ids=[r.id for r in rules])
    db.session.expire_all()
    return counts


@pytest.fixture
def three(now):
    accounts = [AccountFactory() for _ in range(3)]
    with_signals(
        now,
        accounts,
        health_band=["critical", "healthy", "critical"],
        health_score=[21.5, 80.0, 33.0],
    )
    return accounts


def test_a_rule_fires_for_the_matching_accounts_with_the_values_that_matched(app, now, three):
    rule = RuleFactory(
        condition={
            "all": [
                {"signal": "health_band", "op": "=", "value": "critical"},
                {"signal": "health_score", "op": "<", "value": 40},
            ]
        }
    )
    counts = run(rule, now)
    made = firings(rule)
    assert [f.account_id for f in made] == [three[0].id, three[2].id]
    assert made[0].matched == {"health_band": "critical", "health_score": 21.5}
    assert all(f.status == "open" and f.trigger == "schedule" and f.fired_at == now for f in made)
    # a rule without actions is done at once
    assert all(f.actions_done_at == now and f.action_results == [] for f in made)
    assert counts["rules"] == 1 and counts["matched"] == 2
    assert counts["firings_created"] == 2 and counts["suppressed"] == 0


def test_running_again_in_the_same_state_creates_nothing(app, now, three):
    rule = RuleFactory(condition=CRITICAL)
    run(rule, now)
    counts = run(rule, now + timedelta(minutes=15))
    assert len(firings(rule)) == 2
    assert counts["firings_created"] == 0
    assert counts["matched"] == counts["suppressed"] == 2
    assert counts["closed"] == 0


def test_a_firing_closes_when_the_account_stops_matching_and_fires_again_later(app, now, three):
    rule = RuleFactory(condition=CRITICAL)
    run(rule, now)
    db.session.get(AccountSignals, three[0].id).health_band = "at_risk"
    db.session.flush()
    counts = run(rule, now + timedelta(hours=1))
    assert counts["closed"] == 1
    first = firings(rule)[0]
    assert first.status == "closed" and first.closed_at == now + timedelta(hours=1)
    db.session.get(AccountSignals, three[0].id).health_band = "critical"
    db.session.flush()
    counts = run(rule, now + timedelta(hours=2))
    assert counts["firings_created"] == 1
    assert [f.status for f in firings(rule) if f.account_id == three[0].id] == ["closed", "open"]


def test_an_unknown_value_closes_a_firing_like_a_false_one(app, now, three):
    rule = RuleFactory(condition=CRITICAL)
    run(rule, now)
    db.session.get(AccountSignals, three[0].id).health_band = None
    db.session.flush()
    assert run(rule, now + timedelta(hours=1))["closed"] == 1


def test_a_routed_firing_stays_open_until_its_queue_item_is_resolved(app, now, three):
    rule = RuleFactory(condition=CRITICAL)
    run(rule, now)
    routed = firings(rule)[0]
    QueueItemFactory(account=three[0], rule_id=rule.id, firing_id=routed.id)
    for account in (three[0], three[2]):
        db.session.get(AccountSignals, account.id).health_band = "healthy"
    db.session.flush()
    counts = run(rule, now + timedelta(hours=1))
    assert counts["closed"] == 1
    assert [f.status for f in firings(rule)] == ["open", "closed"]


def test_once_ever_never_fires_twice(app, now, three):
    rule = RuleFactory(condition=CRITICAL, once_policy="once_ever")
    RuleFiringFactory(
        rule=rule, account=three[0], status="closed", fired_at=now - timedelta(days=700)
    )
    counts = run(rule, now)
    assert [f.account_id for f in firings(rule) if f.fired_at == now] == [three[2].id]
    assert counts["suppressed"] == 1


def test_cooldown_waits_its_days_after_the_last_firing(app, now, three):
    rule = RuleFactory(condition=CRITICAL, once_policy="cooldown", cooldown_days=30)
    RuleFiringFactory(
        rule=rule, account=three[0], status="closed", fired_at=now - timedelta(days=29)
    )
    RuleFiringFactory(
        rule=rule, account=three[2], status="closed", fired_at=now - timedelta(days=31)
    )
    counts = run(rule, now)
    assert [f.account_id for f in firings(rule) if f.fired_at == now] == [three[2].id]
    assert counts["suppressed"] == 1


def test_once_per_renewal_cycle_fires_again_in_the_next_contract_year(app, now):
    renewing = AccountFactory(renewal_date=now.date() + timedelta(days=40))
    renewed = AccountFactory(renewal_date=now.date() + timedelta(days=40))
    with_signals(now, [renewing, renewed], health_band=["critical", "critical"])
    rule = RuleFactory(condition=CRITICAL, once_policy="once_per_renewal_cycle")
    # this contract year started 325 days ago
    RuleFiringFactory(
        rule=rule, account=renewing, status="closed", fired_at=now - timedelta(days=300)
    )
    RuleFiringFactory(
        rule=rule, account=renewed, status="closed", fired_at=now - timedelta(days=330)
    )
    counts = run(rule, now)
    assert [f.account_id for f in firings(rule) if f.fired_at == now] == [renewed.id]
    assert counts["suppressed"] == 1


def test_disabled_and_event_rules_are_left_alone(app, now, three):
    disabled = RuleFactory(condition=CRITICAL, enabled=False)
    event = RuleFactory(condition=CRITICAL, mode="event", event_type="support_ticket")
    counts = run([disabled, event], now)
    assert counts["rules"] == 0
    assert firings(disabled) == firings(event) == []


def test_the_evaluation_time_is_recorded_without_making_a_new_rule_version(app, now, three):
    rule = RuleFactory(condition=CRITICAL)
    version = rule.version
    run(rule, now)
    rule = db.session.get(Rule, rule.id)
    assert rule.last_evaluated_at == now
    assert rule.version == version


def test_a_rule_whose_condition_no_longer_validates_is_skipped(app, now, three):
    broken = RuleFactory(condition={"all": [{"signal": "retired_signal", "op": "=", "value": 1}]})
    good = RuleFactory(condition=CRITICAL)
    counts = run([broken, good], now)
    assert counts["rules_skipped"] == 1 and counts["rules"] == 1
    assert firings(broken) == [] and len(firings(good)) == 2


def test_matched_holds_metric_and_boolean_signals_as_json_values(app, now, three):
    db.session.add(
        MetricValue(
            account_id=three[0].id, metric_key="quota_used_pct", measured_on=now.date(), value=96.5
        )
    )
    with_signals(now, three[:1], champion_departed=[True])
    rule = RuleFactory(
        condition={
            "all": [
                {"signal": "metric.quota_used_pct", "op": ">=", "value": 80},
                {"signal": "champion_departed", "op": "=", "value": True},
            ]
        }
    )
    run(rule, now)
    assert [f.matched for f in firings(rule)] == [
        {"champion_departed": True, "metric.quota_used_pct": 96.5}
    ]


def test_the_open_firing_index_holds_when_the_policy_check_misses_a_concurrent_firing(
    app, now, three, monkeypatch
):
    """Two evaluations racing both see no open firing; the partial unique index makes the
    second insert skip the account instead of failing or duplicating."""
    rule = RuleFactory(condition=CRITICAL)
    RuleFiringFactory(rule=rule, account=three[0], status="open", fired_at=now)
    monkeypatch.setattr(evaluation, "refused_by_policy", lambda *a, **k: false())
    counts = run(rule, now + timedelta(minutes=1))
    assert counts["firings_created"] == 1  # only the other critical account
    open_firings = [f for f in firings(rule) if f.status == "open"]
    assert sorted(f.account_id for f in open_firings) == [three[0].id, three[2].id]


def test_the_statements_grow_with_rules_not_with_accounts(app, now, count_queries):
    def statements(accounts: int) -> int:
        made = [AccountFactory() for _ in range(accounts)]
        with_signals(now, made, health_band=["critical"] * accounts)
        rules = [RuleFactory(condition=CRITICAL) for _ in range(3)]
        critical = db.session.scalar(
            select(func.count())
            .select_from(AccountSignals)
            .where(AccountSignals.health_band == "critical")
        )
        with count_queries() as counter:
            counts = run(rules, now)
        assert counts["firings_created"] == 3 * critical
        return counter.count

    assert statements(2) == statements(40)


# --- actions --------------------------------------------------------------------------------


def test_create_action_adds_an_item_to_the_active_plan_with_history(app, now, three):
    csm = UserFactory()
    three[0].csm_id = csm.id
    older = PlanFactory(
        account=three[0], status="active", owner=csm, created_at=now - timedelta(days=90)
    )
    newest = PlanFactory(
        account=three[0], status="active", owner=csm, created_at=now - timedelta(days=3)
    )
    PlanFactory(account=three[0], status="draft", owner=csm, created_at=now)
    version = newest.version
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[
            {
                "type": "create_action",
                "title": "Call the sponsor",
                "owner": "owning_csm",
                "due_in_days": 5,
            }
        ],
    )
    counts = run(rule, now)
    item = db.session.scalars(select(ActionItem)).one()
    assert (item.plan_id, item.title, item.owner_user_id, item.status, item.due_date) == (
        newest.id,
        "Call the sponsor",
        csm.id,
        "open",
        now.date() + timedelta(days=5),
    )
    change = db.session.scalars(select(PlanChange).where(PlanChange.plan_id == newest.id)).one()
    assert (change.component, change.action, change.item_id, change.user_id) == (
        "actions",
        "created",
        item.id,
        None,
    )
    assert db.session.get(Plan, newest.id).version == version + 1
    assert (
        db.session.scalar(
            select(func.count()).select_from(ActionItem).where(ActionItem.plan_id == older.id)
        )
        == 0
    )
    results = {f.account_id: f.action_results for f in firings(rule)}
    assert results[three[0].id] == [
        {
            "type": "create_action",
            "title": "Call the sponsor",
            "plan_id": newest.id,
            "owner_user_id": csm.id,
            "due_date": (now.date() + timedelta(days=5)).isoformat(),
            "action_item_id": item.id,
        }
    ]
    # the other critical account has no active plan: skipped, and said so
    assert results[three[2].id] == [
        {"type": "create_action", "title": "Call the sponsor", "skipped": "no active plan"}
    ]
    assert counts["actions_created"] == 1 and counts["actions_skipped"] == 1
    assert all(f.actions_done_at == now for f in firings(rule))


def test_create_action_needs_a_named_owner(app, now, three):
    PlanFactory(account=three[0], status="active")  # pooled account: no CSM, no route
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[
            {
                "type": "create_action",
                "title": "Review usage",
                "owner": "owning_csm",
                "due_in_days": 7,
            }
        ],
    )
    counts = run(rule, now)
    assert db.session.scalar(select(func.count()).select_from(ActionItem)) == 0
    result = next(f for f in firings(rule) if f.account_id == three[0].id).action_results
    assert result == [
        {
            "type": "create_action",
            "title": "Review usage",
            "skipped": "no owning CSM or pool assignee",
        }
    ]
    assert counts["actions_skipped"] == 2


def test_set_stage_moves_the_accounts_and_records_the_stage_history(app, now, three):
    three[2].lifecycle_stage = "renewal"
    db.session.flush()
    rule = RuleFactory(condition=CRITICAL, actions=[{"type": "set_stage", "stage": "renewal"}])
    counts = run(rule, now)
    assert counts["stages_set"] == 1
    moved = db.session.get(Account, three[0].id)
    assert (moved.lifecycle_stage, moved.stage_entered_on) == ("renewal", now.date())
    assert db.session.get(AccountSignals, three[0].id).lifecycle_stage == "renewal"
    entries = db.session.scalars(
        select(LifecycleStageEntry.account_id).where(
            LifecycleStageEntry.stage == "renewal", LifecycleStageEntry.entered_on == now.date()
        )
    )
    assert list(entries) == [three[0].id]
    results = {f.account_id: f.action_results for f in firings(rule)}
    assert results[three[0].id] == [{"type": "set_stage", "stage": "renewal", "changed": True}]
    assert results[three[2].id] == [{"type": "set_stage", "stage": "renewal", "changed": False}]


def test_actions_run_once_per_firing(app, now, three):
    csm = UserFactory()
    for account in three:
        account.csm_id = csm.id
        PlanFactory(account=account, status="active", owner=csm)
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[
            {"type": "create_action", "title": "Call", "owner": "owning_csm", "due_in_days": 1}
        ],
    )
    run(rule, now)
    again = execute_actions([f.id for f in firings(rule)], now=now + timedelta(hours=1))
    assert again["actions_created"] == 0
    assert db.session.scalar(select(func.count()).select_from(ActionItem)) == 2


def test_route_to_pool_makes_one_queue_item_per_firing_for_the_next_actions(app, now, three):
    pool = PoolFactory(key="rescue-desk")
    member = PoolMemberFactory(pool=pool, capacity=5)
    PlanFactory(account=three[0], status="active")
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[
            {"type": "route_to_pool", "pool": "rescue-desk", "priority": "high", "sla_hours": 4},
            {
                "type": "create_action",
                "title": "Rescue call",
                "owner": "pool_assignee",
                "due_in_days": 2,
            },
        ],
    )
    counts = run(rule, now)
    items = {item.firing_id: item for item in db.session.scalars(select(QueueItem))}
    made = firings(rule)
    assert sorted(items) == [f.id for f in made]
    assert all(
        i.assignee_id == member.user_id
        and i.priority == "high"
        and i.sla_due_at == now + timedelta(hours=4)
        for i in items.values()
    )
    action_item = db.session.scalars(select(ActionItem)).one()
    assert action_item.owner_user_id == member.user_id  # the pool assignee owns it
    first = made[0]
    assert first.action_results[0] == {
        "type": "route_to_pool",
        "pool": "rescue-desk",
        "queue_item_id": items[first.id].id,
        "assignee_id": member.user_id,
    }
    assert first.action_results[1]["action_item_id"] == action_item.id
    assert counts["routed"] == 2 and counts["actions_created"] == 1


def test_a_failing_action_is_recorded_and_other_rules_still_act(app, now, three):
    lost = RuleFactory(
        condition=CRITICAL,
        actions=[
            {
                "type": "route_to_pool",
                "pool": "deleted-pool",
                "priority": "normal",
                "sla_hours": None,
            }
        ],
    )
    staging = RuleFactory(condition=CRITICAL, actions=[{"type": "set_stage", "stage": "renewal"}])
    counts = run([lost, staging], now)
    assert counts["action_errors"] == 2 and counts["stages_set"] == 2
    assert all(
        f.action_results
        == [{"type": "route_to_pool", "error": "No pool has the key 'deleted-pool'."}]
        and f.actions_done_at == now
        for f in firings(lost)
    )
    assert db.session.scalar(select(func.count()).select_from(QueueItem)) == 0
    assert db.session.get(Account, three[0].id).lifecycle_stage == "renewal"


def test_schedule_touchpoint_records_each_touchpoint_or_why_there_is_none(app, now, three):
    TouchpointTemplateFactory(key="check-in", channel="email")
    champion = ContactFactory(account=three[0], role="champion")
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[
            {
                "type": "schedule_touchpoint",
                "channel": "email",
                "template": "check-in",
                "recipient": "primary_contact",
                "delay_days": 2,
            }
        ],
    )
    counts = run(rule, now)
    touchpoint = db.session.scalars(select(Touchpoint)).one()
    assert (touchpoint.account_id, touchpoint.recipient_contact_id, touchpoint.due_at) == (
        three[0].id,
        champion.id,
        now + timedelta(days=2),
    )
    results = {f.account_id: f.action_results for f in firings(rule)}
    base = {
        "type": "schedule_touchpoint",
        "template": "check-in",
        "channel": "email",
        "recipient": "primary_contact",
    }
    assert results[three[0].id] == [
        base | {"touchpoint_id": touchpoint.id, "due_at": touchpoint.due_at.isoformat()}
    ]
    assert results[three[2].id] == [base | {"skipped": "no recipient"}]
    assert counts["touchpoints"] == 1 and counts["actions_skipped"] == 1


def test_the_evaluate_rules_job_records_its_counts(app, now, three):
    db.session.execute(update(Rule).values(enabled=False))  # the shipped rules
    RuleFactory(condition=CRITICAL)
    db.session.commit()
    job = run_job("evaluate-rules", trigger="manual", now=now)
    assert job.status == "succeeded"
    assert job.counts["rules"] == 1 and job.counts["firings_created"] == 2
    again = run_job("evaluate-rules", trigger="manual", now=now + timedelta(minutes=15))
    assert again.counts["firings_created"] == 0 and again.counts["suppressed"] == 2
