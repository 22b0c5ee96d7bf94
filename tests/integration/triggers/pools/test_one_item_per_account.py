"""One open queue item per account and pool: a second rule's firing joins the open item as a
reason (priority raised to the highest, no new alert), and routing offers a new item to the
account's own CSM first."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.pools import service as pools
from cs_app.triggers.pools.models import QueueItem, QueueItemReason
from cs_app.triggers.refs import FiringRef
from tests.factories import (
    AccountFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    UserFactory,
)


def fire(rule, account, matched=None) -> FiringRef:
    firing = RuleFiringFactory(rule=rule, account=account, matched=matched or {"x": 1})
    return FiringRef(
        firing.id,
        rule.id,
        rule.name,
        account.id,
        account.segment,
        firing.matched,
        owner_id=account.csm_id,
    )


def route(firings, pool, now, priority="normal"):
    return pools.route_firings(
        firings, pool_key=pool.key, priority=priority, sla_hours=None, now=now
    )


def items_of(pool) -> int:
    return db.session.scalar(select(func.count(QueueItem.id)).where(QueueItem.pool_id == pool.id))


def test_a_second_rule_joins_the_open_item_with_its_reason_and_the_higher_priority(app, now):
    pool = PoolFactory()
    PoolMemberFactory(pool=pool)
    account = AccountFactory()
    login, tickets = RuleFactory(name="Login drop"), RuleFactory(name="Ticket spike")
    first = fire(login, account, {"days_since_last_login": 21})
    item = route([first], pool, now, priority="normal")[first.firing_id]
    second = fire(tickets, account, {"open_tickets": 9})
    joined = route([second], pool, now, priority="high")[second.firing_id]
    assert joined.id == item.id and items_of(pool) == 1
    assert item.priority == "high"
    db.session.expire(item, ["reasons"])
    assert [(r.title, r.matched, r.priority, r.firing_id) for r in item.reasons] == [
        ("Login drop", {"days_since_last_login": 21}, "normal", first.firing_id),
        ("Ticket spike", {"open_tickets": 9}, "high", second.firing_id),
    ]


def test_a_lower_priority_reason_keeps_the_higher_one(app, now):
    pool = PoolFactory()
    account = AccountFactory()
    first = fire(RuleFactory(), account)
    item = route([first], pool, now, priority="high")[first.firing_id]
    second = fire(RuleFactory(), account)
    route([second], pool, now, priority="low")
    assert item.priority == "high"


def test_joining_an_item_alerts_nobody_again(app, now):
    lead = UserFactory(role="lead")
    pool = PoolFactory(lead=lead)  # no members: every new item waits and alerts the lead
    account = AccountFactory()
    route([fire(RuleFactory(), account)], pool, now)
    route([fire(RuleFactory(), account)], pool, now)
    assert db.session.scalar(select(func.count(Alert.id))) == 1


def test_a_claimed_item_is_joined_too_and_other_pools_get_their_own(app, now):
    pool, other_pool = PoolFactory(), PoolFactory()
    account = AccountFactory()
    claimed = QueueItemFactory(pool=pool, account=account, status="claimed")
    joined = route([fire(RuleFactory(), account)], pool, now)
    assert [i.id for i in joined.values()] == [claimed.id]
    elsewhere = route([fire(RuleFactory(), account)], other_pool, now)
    assert [i.pool_id for i in elsewhere.values()] == [other_pool.id]


def test_a_resolved_item_is_not_joined(app, now):
    pool = PoolFactory()
    account = AccountFactory()
    resolved = QueueItemFactory(pool=pool, account=account, status="resolved")
    made = route([fire(RuleFactory(), account)], pool, now)
    assert [i.id for i in made.values()] != [resolved.id] and items_of(pool) == 2


def test_the_database_refuses_a_second_open_item_for_an_account(app):
    pool, account = PoolFactory(), AccountFactory()
    QueueItemFactory(pool=pool, account=account)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        QueueItemFactory(pool=pool, account=account, status="claimed")


def test_joining_many_accounts_takes_a_fixed_number_of_statements(app, now, count_queries):
    pool = PoolFactory()
    PoolMemberFactory(pool=pool, capacity=500)

    def batch(size):
        accounts = [AccountFactory() for _ in range(size)]
        first_rule, second_rule = RuleFactory(), RuleFactory()
        route([fire(first_rule, a) for a in accounts], pool, now)
        return [fire(second_rule, a) for a in accounts]

    few, many = batch(2), batch(20)
    db.session.flush()
    with count_queries() as small:
        route(few, pool, now, priority="high")
    with count_queries() as large:
        route(many, pool, now, priority="high")
    assert small.count == large.count, large.statements
    assert db.session.scalar(select(func.count(QueueItemReason.id))) == 44


# --- owner first ----------------------------------------------------------------------------


def test_the_owner_in_the_pool_gets_their_accounts_item(app, now):
    pool = PoolFactory(strategy="least_loaded")
    busy_owner = PoolMemberFactory(pool=pool, position=0, capacity=5).user
    PoolMemberFactory(pool=pool, position=1, capacity=5)
    QueueItemFactory(pool=pool, assignee=busy_owner)  # least loaded would pick the other one
    account = AccountFactory(csm=busy_owner)
    firing = fire(RuleFactory(), account)
    assert route([firing], pool, now)[firing.firing_id].assignee_id == busy_owner.id


def test_an_owner_outside_the_pool_or_away_leaves_it_to_the_strategy(app, now):
    pool = PoolFactory(strategy="least_loaded")
    away = PoolMemberFactory(pool=pool, position=0, away=True).user
    member = PoolMemberFactory(pool=pool, position=1).user
    outsider = UserFactory()
    for owner in (away, outsider):
        firing = fire(RuleFactory(), AccountFactory(csm=owner))
        assert route([firing], pool, now)[firing.firing_id].assignee_id == member.id


def test_waiting_items_go_to_their_owner_when_they_have_room(app, now):
    pool = PoolFactory(strategy="least_loaded")
    owner_member = PoolMemberFactory(pool=pool, position=1, capacity=5)
    PoolMemberFactory(pool=pool, position=0, capacity=5)
    item = QueueItemFactory(pool=pool, account=AccountFactory(csm=owner_member.user))
    assert pools.assign_waiting_items(now=now) == 1
    assert item.assignee_id == owner_member.user_id
