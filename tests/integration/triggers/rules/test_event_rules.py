"""Event-driven rules, through ingestion: types, property filters, first events only, the
condition over current signals, once-only policies and duplicates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cs_app.accounts.ingest import ingest_events
from cs_app.accounts.signals import compute_signals
from cs_app.accounts.usage_models import AccountSignals
from cs_app.extensions import db
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.rules.event_rules import evaluate_event_rules
from cs_app.triggers.rules.models import Rule, RuleFiring
from tests.factories import (
    AccountFactory,
    PoolFactory,
    PoolMemberFactory,
    RuleFactory,
    RuleFiringFactory,
)

ALWAYS = {"all": [{"signal": "segment", "op": "not_null", "value": None}]}


@pytest.fixture(autouse=True)
def only_these_rules(app):
    """The shipped rules listen to the same event types; these tests make their own."""
    db.session.execute(update(Rule).values(enabled=False))


@pytest.fixture
def acme(app, now):
    account = AccountFactory(external_id="ACME")
    compute_signals(now=now, account_ids=[account.id])
    return account


def event(event_id, kind="support_ticket", at=None, account="ACME", **properties):
    return {
        "id": event_id,
        "account": account,
        "type": kind,
        "at": at or "2026-11-21T08:30:00Z",
        "properties": properties,
    }


def ingest(now, *events):
    result = ingest_events(list(events), now=now)
    assert not result.errors, result.errors
    db.session.expire_all()
    return result


def firings(rule):
    return list(
        db.session.scalars(
            select(RuleFiring).where(RuleFiring.rule_id == rule.id).order_by(RuleFiring.id)
        )
    )


def event_rule(**values):
    defaults = {
        "mode": "event",
        "event_type": "support_ticket",
        "condition": ALWAYS,
        "once_policy": "cooldown",
        "cooldown_days": 0,
    }
    return RuleFactory(**(defaults | values))


def test_an_event_of_the_rules_type_fires_it_for_that_account(app, now, acme):
    rule = event_rule()
    other = event_rule(event_type="seat_added")
    ingest(now, event("t-1", severity="high"))
    [firing] = firings(rule)
    assert (firing.account_id, firing.trigger, firing.event_id, firing.fired_at) == (
        acme.id,
        "event:support_ticket",
        "t-1",
        now,
    )
    assert firing.matched == {"segment": "Mid-Market"}
    assert firings(other) == []


def test_a_resent_event_fires_nothing_again(app, now, acme):
    rule = event_rule()
    ingest(now, event("t-1"))
    result = ingest(now + timedelta(minutes=5), event("t-1"))
    assert result.duplicates == 1
    assert len(firings(rule)) == 1


def test_a_batch_nobody_listens_to_costs_one_query(app, now, acme, count_queries):
    event_rule()
    rows = [
        {
            "event_id": "l-1",
            "account_id": acme.id,
            "event_type": "login",
            "occurred_at": now,
            "properties": {},
        }
    ]
    with count_queries() as counter:
        counts = evaluate_event_rules(rows, now=now)
    assert counter.count == 1
    assert counts["firings_created"] == 0


def test_property_filters_keep_only_the_listed_values(app, now, acme):
    rule = event_rule(event_properties={"severity": ["high", "urgent"]})
    seats = event_rule(event_type="seat_added", event_properties={"count": ["5"]})
    ingest(
        now,
        event("t-low", severity="normal"),
        event("t-none"),
        event("s-2", kind="seat_added", count=2),
    )
    assert firings(rule) == [] and firings(seats) == []
    ingest(now, event("t-urgent", severity="urgent"), event("s-5", kind="seat_added", count=5))
    assert [f.event_id for f in firings(rule)] == ["t-urgent"]
    assert [f.event_id for f in firings(seats)] == ["s-5"]  # 5 matches the text "5"


def test_first_event_only_fires_on_the_accounts_first_event_of_the_type(app, now, acme):
    rule = event_rule(event_type="feature_used", first_event_only=True)
    ingest(
        now,
        event("f-2", kind="feature_used", at="2026-11-21T08:40:00Z", feature="api"),
        event("f-1", kind="feature_used", at="2026-11-21T08:20:00Z", feature="reports"),
    )
    assert [f.event_id for f in firings(rule)] == ["f-1"]
    ingest(
        now + timedelta(hours=1),
        event("f-3", kind="feature_used", at="2026-11-21T09:30:00Z", feature="alerts"),
    )
    assert [f.event_id for f in firings(rule)] == ["f-1"]


def test_the_condition_reads_the_accounts_current_signals(app, now, acme):
    calm = AccountFactory(external_id="CALM")
    compute_signals(now=now, account_ids=[calm.id])
    db.session.get(AccountSignals, acme.id).health_band = "critical"
    db.session.get(AccountSignals, calm.id).health_band = "healthy"
    db.session.flush()
    rule = event_rule(
        condition={"all": [{"signal": "health_band", "op": "=", "value": "critical"}]}
    )
    counts = evaluate_event_rules(
        [
            {
                "event_id": "x-1",
                "account_id": acme.id,
                "event_type": "support_ticket",
                "occurred_at": now,
                "properties": {},
            },
            {
                "event_id": "x-2",
                "account_id": calm.id,
                "event_type": "support_ticket",
                "occurred_at": now,
                "properties": {},
            },
        ],
        now=now,
    )
    db.session.expire_all()
    assert [(f.account_id, f.matched) for f in firings(rule)] == [
        (acme.id, {"health_band": "critical"})
    ]
    assert counts["events"] == 2 and counts["matched"] == 1


def test_an_account_without_signals_yet_is_evaluated_on_signals_computed_now(app, now):
    AccountFactory(external_id="NEW", segment="SMB")
    rule = event_rule(condition={"all": [{"signal": "segment", "op": "=", "value": "SMB"}]})
    ingest(now, event("n-1", account="NEW"))
    assert [f.matched for f in firings(rule)] == [{"segment": "SMB"}]
    assert db.session.scalar(select(AccountSignals.account_id)) is None  # nothing stored


def test_a_routed_firing_stays_open_and_refuses_the_next_event(app, now, acme):
    pool = PoolFactory(key="escalations")
    PoolMemberFactory(pool=pool)
    rule = event_rule(
        once_policy="while_open",
        actions=[
            {"type": "route_to_pool", "pool": "escalations", "priority": "high", "sla_hours": 4}
        ],
    )
    ingest(now, event("t-1"))
    [firing] = firings(rule)
    assert firing.status == "open"
    item = db.session.scalars(select(QueueItem)).one()
    assert item.firing_id == firing.id
    ingest(now + timedelta(hours=1), event("t-2", at="2026-11-21T09:30:00Z"))
    assert len(firings(rule)) == 1


def test_an_unrouted_event_firing_closes_after_its_actions_and_the_policy_still_holds(
    app, now, acme
):
    rule = event_rule(
        once_policy="cooldown", cooldown_days=7, actions=[{"type": "set_stage", "stage": "renewal"}]
    )
    ingest(now, event("t-1"))
    [firing] = firings(rule)
    assert (firing.status, firing.closed_at) == ("closed", now)
    assert firing.action_results == [{"type": "set_stage", "stage": "renewal", "changed": True}]
    ingest(now + timedelta(days=3), event("t-2", at="2026-11-24T08:00:00Z"))
    assert len(firings(rule)) == 1  # within the cooldown
    ingest(now + timedelta(days=8), event("t-3", at="2026-11-29T08:00:00Z"))
    assert len(firings(rule)) == 2


def test_once_ever_holds_against_earlier_firings(app, now, acme):
    rule = event_rule(once_policy="once_ever")
    RuleFiringFactory(
        rule=rule,
        account=acme,
        status="closed",
        fired_at=now - timedelta(days=400),
        trigger="event:support_ticket",
    )
    ingest(now, event("t-1"))
    assert len(firings(rule)) == 1


def test_several_events_in_one_batch_fire_a_rule_once_per_account(app, now, acme):
    rule = event_rule(once_policy="cooldown", cooldown_days=0)
    ingest(now, event("t-1", at="2026-11-21T08:10:00Z"), event("t-2", at="2026-11-21T08:05:00Z"))
    assert [f.event_id for f in firings(rule)] == ["t-2"]  # the earlier event


def test_events_from_long_ago_fire_nothing(app, now, acme):
    rule = event_rule()
    ingest(now, event("old", at="2026-10-01T08:00:00Z"))
    assert firings(rule) == []


def test_a_disabled_event_rule_fires_nothing(app, now, acme):
    rule = event_rule(enabled=False)
    ingest(now, event("t-1"))
    assert firings(rule) == []
