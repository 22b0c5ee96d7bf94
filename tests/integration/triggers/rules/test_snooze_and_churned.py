"""Scheduled and event rules skip churned accounts unless the rule targets them, and stay
quiet for an account while a resolved queue item of theirs snoozes them; evaluation counts
both, and the SQL agrees with ``rules.skip_reason``. The issue's scenario: an item resolved
"Saved" must not come back at the next evaluation."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from cs_app.accounts.ingest import ingest_events
from cs_app.accounts.signals import compute_signals
from cs_app.accounts.usage_models import AccountSignals
from cs_app.extensions import db
from cs_app.plans.models import ActionItem
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.pools import service as pools
from cs_app.triggers.pools.models import QueueItem, QueueItemReason
from cs_app.triggers.rules import rules
from cs_app.triggers.rules.evaluation import evaluate_scheduled_rules
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.rules.preview import preview_condition, route_pools
from cs_app.triggers.touchpoints.models import Touchpoint
from tests.factories import (
    AccountFactory,
    ContactFactory,
    PlanFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFactory,
    TouchpointTemplateFactory,
    UserFactory,
)

CRITICAL = {"all": [{"signal": "health_band", "op": "=", "value": "critical"}]}
ROUTE = [{"type": "route_to_pool", "pool": "rescue", "priority": "normal"}]


@pytest.fixture(autouse=True)
def only_these_rules(app):
    db.session.execute(update(Rule).values(enabled=False))


def critical(*accounts, now):
    compute_signals(now=now, account_ids=[a.id for a in accounts])
    for account in accounts:
        db.session.get(AccountSignals, account.id).health_band = "critical"
    db.session.flush()


def run(rule_list, now):
    counts = evaluate_scheduled_rules(now=now, rule_ids=[r.id for r in rule_list])
    db.session.expire_all()
    return counts


def snoozed(pool, account, rule, *, until, now) -> None:
    """A resolved item of ``account`` in ``pool`` whose reason snoozes ``rule`` until ``until``."""
    item = QueueItemFactory(pool=pool, account=account, status="resolved")
    db.session.add(
        QueueItemReason(
            queue_item_id=item.id,
            rule_id=rule.id,
            title="x",
            priority="normal",
            added_at=now,
            snoozed_until=until,
        )
    )


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_churned_accounts_are_skipped_unless_the_rule_targets_them(app, now):
    live, gone = AccountFactory(), AccountFactory(lifecycle_stage="churned")
    critical(live, gone, now=now)
    usual = RuleFactory(condition=CRITICAL)
    winback = RuleFactory(condition=CRITICAL, include_churned=True)
    counts = run([usual, winback], now)
    fired = set(db.session.execute(select(RuleFiring.rule_id, RuleFiring.account_id)).all())
    assert fired == {(usual.id, live.id), (winback.id, live.id), (winback.id, gone.id)}
    assert (counts["matched"], counts["skipped_churned"], counts["firings_created"]) == (4, 1, 3)
    assert counts["suppressed"] == 0


def test_an_open_firing_without_an_item_closes_once_the_account_churns(app, now):
    account = AccountFactory()
    critical(account, now=now)
    rule = RuleFactory(condition=CRITICAL)
    run([rule], now)
    db.session.get(type(account), account.id).lifecycle_stage = "churned"
    db.session.flush()
    counts = run([rule], now + timedelta(hours=1))
    assert counts["closed"] == 1 and count(RuleFiring, RuleFiring.status == "open") == 0


def test_an_item_resolved_saved_stays_resolved_through_the_snooze(app, now):
    lead = UserFactory(role="lead")
    pool = PoolFactory(key="rescue", lead=lead)  # nobody free: each new item alerts the lead
    ana = PoolMemberFactory(pool=pool, away=True).user
    account = AccountFactory()
    critical(account, now=now)
    rule = RuleFactory(condition=CRITICAL, actions=ROUTE, snooze_days=14)
    run([rule], now)
    item = db.session.scalars(select(QueueItem)).one()
    pools.resolve_item(item, outcome="saved", notes=None, user=ana, now=now + timedelta(hours=1))
    counts = run([rule], now + timedelta(days=1))
    assert counts["snoozed"] == 1 and counts["firings_created"] == 0
    assert count(QueueItem) == 1 and count(Alert) == 1
    counts = run([rule], now + timedelta(days=15))  # the snooze is over
    assert counts["snoozed"] == 0 and counts["firings_created"] == 1
    assert count(QueueItem) == 2 and count(Alert) == 2


def test_reopening_ends_the_snooze(app, now):
    pool = PoolFactory(key="rescue")
    ana = PoolMemberFactory(pool=pool).user
    account = AccountFactory()
    critical(account, now=now)
    rule = RuleFactory(condition=CRITICAL, actions=ROUTE)
    run([rule], now)
    item = db.session.scalars(select(QueueItem)).one()
    pools.resolve_item(item, outcome="saved", notes=None, user=ana, now=now)
    pools.reopen_item(item, user=ana, now=now + timedelta(hours=1))
    counts = run([rule], now + timedelta(days=1))
    # the rule fires again; its firing joins the reopened item instead of a second one
    assert (counts["snoozed"], counts["firings_created"], counts["merged"]) == (0, 1, 1)
    assert count(QueueItem) == 1 and count(QueueItemReason) == 2


def test_two_rules_for_one_account_make_one_item_and_count_merged(app, now):
    pool = PoolFactory(key="rescue")
    PoolMemberFactory(pool=pool)
    account = AccountFactory()
    critical(account, now=now)
    first = RuleFactory(condition=CRITICAL, actions=ROUTE)
    second = RuleFactory(
        condition=CRITICAL,
        actions=[{"type": "route_to_pool", "pool": "rescue", "priority": "high"}],
    )
    counts = run([first, second], now)
    assert (counts["routed"], counts["merged"]) == (1, 1)
    item = db.session.scalars(select(QueueItem)).one()
    assert item.priority == "high" and len(item.reasons) == 2
    assert count(RuleFiring, RuleFiring.status == "open") == 2  # both wait for the item
    counts = run([first, second], now + timedelta(hours=1))
    assert counts["firings_created"] == 0 and counts["closed"] == 0


def test_a_firing_that_joins_an_open_item_sends_no_second_touchpoint_or_action(app, now):
    """The customer already got the first rule's message and the item's owner already has the
    work: the joining rule's touchpoint and action item are skipped, and the firing says why."""
    pool = PoolFactory(key="rescue")
    PoolMemberFactory(pool=pool)
    account = AccountFactory()
    ContactFactory(account=account, role="champion")
    PlanFactory(account=account)
    TouchpointTemplateFactory(key="check-in", channel="email")
    follow_up = [
        {
            "type": "schedule_touchpoint",
            "channel": "email",
            "template": "check-in",
            "recipient": "primary_contact",
        },
        {"type": "create_action", "title": "Call them", "owner": "pool_assignee"},
    ]
    critical(account, now=now)
    first = RuleFactory(condition=CRITICAL, actions=ROUTE + follow_up)
    second = RuleFactory(condition=CRITICAL, actions=ROUTE + follow_up)
    counts = run([first, second], now)
    assert (counts["routed"], counts["merged"], counts["touchpoints"]) == (1, 1, 1)
    assert counts["actions_created"] == 1 and counts["actions_skipped"] == 2
    assert count(Touchpoint) == 1 and count(ActionItem) == 1
    item = db.session.scalars(select(QueueItem)).one()
    joined = db.session.scalars(select(RuleFiring).where(RuleFiring.rule_id == second.id)).one()
    assert joined.action_results[1:] == [
        {"type": "schedule_touchpoint", "skipped": f"joined open queue item #{item.id}"},
        {"type": "create_action", "skipped": f"joined open queue item #{item.id}"},
    ]


def test_the_sql_agrees_with_skip_reason(app, now):
    """Every combination of stage, targeting and snooze: the accounts that evaluation leaves
    out are the ones ``rules.skip_reason`` names."""
    pool = PoolFactory()
    cases = []
    for stage in ("adoption", "churned"):
        for snooze in (None, timedelta(days=-1), timedelta(days=2)):
            cases.append((AccountFactory(lifecycle_stage=stage), stage, snooze))
    accounts = [a for a, _, _ in cases]
    critical(*accounts, now=now)
    for include_churned in (False, True):
        rule = RuleFactory(condition=CRITICAL, include_churned=include_churned)
        for account, _, snooze in cases:
            if snooze is not None:
                snoozed(pool, account, rule, until=now + snooze, now=now)
        db.session.flush()
        counts = run([rule], now)
        fired = set(
            db.session.scalars(select(RuleFiring.account_id).where(RuleFiring.rule_id == rule.id))
        )
        expected = {
            account.id: rules.skip_reason(
                lifecycle_stage=stage,
                include_churned=include_churned,
                snoozed_until=(now + snooze) if snooze else None,
                now=now,
            )
            for account, stage, snooze in cases
        }
        assert fired == {a for a, why in expected.items() if why is None}
        assert counts["skipped_churned"] == sum(w == "churned" for w in expected.values())
        assert counts["snoozed"] == sum(w == "snoozed" for w in expected.values())


# --- event rules ----------------------------------------------------------------------------


def ticket(event_id, account):
    return {
        "id": event_id,
        "account": account.external_id,
        "type": "support_ticket",
        "at": "2026-11-21T08:30:00Z",
        "properties": {},
    }


def test_event_rules_skip_churned_accounts_and_snoozes(app, now):
    pool = PoolFactory(key="rescue")
    ana = PoolMemberFactory(pool=pool).user
    live, gone = AccountFactory(), AccountFactory(lifecycle_stage="churned")
    compute_signals(now=now, account_ids=[live.id, gone.id])
    rule = RuleFactory(
        mode="event",
        event_type="support_ticket",
        condition={"all": [{"signal": "segment", "op": "not_null", "value": None}]},
        actions=ROUTE,
    )
    result = ingest_events([ticket("t-1", live), ticket("t-2", gone)], now=now)
    assert not result.errors
    assert [f.account_id for f in db.session.scalars(select(RuleFiring))] == [live.id]
    item = db.session.scalars(select(QueueItem)).one()
    pools.resolve_item(item, outcome="saved", notes=None, user=ana, now=now)
    ingest_events([ticket("t-3", live)], now=now + timedelta(hours=1))
    assert count(RuleFiring, RuleFiring.rule_id == rule.id) == 1  # snoozed
    rule.include_churned = True
    db.session.flush()
    ingest_events([ticket("t-4", gone)], now=now + timedelta(hours=2))
    assert count(RuleFiring, RuleFiring.account_id == gone.id) == 1


# --- preview counts as evaluation does ------------------------------------------------------


def test_preview_splits_the_matches_as_evaluation_counts_them(app, now):
    pool = PoolFactory(key="rescue")
    PoolMemberFactory(pool=pool, capacity=50)
    plain, gone, quiet, busy = (
        AccountFactory(),
        AccountFactory(lifecycle_stage="churned"),
        AccountFactory(),
        AccountFactory(),
    )
    critical(plain, gone, quiet, busy, now=now)
    rule = RuleFactory(condition=CRITICAL, actions=ROUTE)
    snoozed(pool, quiet, rule, until=now + timedelta(days=3), now=now)
    QueueItemFactory(pool=pool, account=busy)  # opened by another rule
    db.session.flush()
    preview = preview_condition(
        CRITICAL, now=now, rule_id=rule.id, pool_keys=route_pools(rule.actions)
    )
    counts = run([rule], now)
    assert (
        (preview.count, preview.skipped_churned, preview.snoozed, preview.merged)
        == (
            counts["matched"],
            counts["skipped_churned"],
            counts["snoozed"],
            counts["merged"],
        )
        == (4, 1, 1, 1)
    )
    targeting = preview_condition(CRITICAL, now=now, include_churned=True)
    assert (targeting.skipped_churned, targeting.snoozed, targeting.merged) == (0, 0, 0)


def test_the_builder_preview_says_how_the_matches_split(app, client, login, now):
    login(UserFactory(role="lead"))
    critical(AccountFactory(), AccountFactory(lifecycle_stage="churned"), now=now)
    db.session.commit()
    data = {
        "name": "Preview me",
        "kind": "risk",
        "mode": "scheduled",
        "once_policy": "while_open",
        "condition": json.dumps(CRITICAL),
        "actions": "[]",
        "action": "preview",
    }
    html = client.post("/rules/new", data=data).get_data(as_text=True)
    assert "Of these, 1 churned (skipped)." in re.sub(r"\s+", " ", html)
    targeting = client.post("/rules/new", data=data | {"include_churned": "y"})
    assert 'id="preview-split"' not in targeting.get_data(as_text=True)
