"""Resolving a queue item closes every firing behind it and snoozes each of their rules for
the account for the days the rule sets; reopening is explicit, ends the snooze, and is
refused while the item is open, to outsiders and viewers, and while the account already has
another open item in the pool."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.errors import ConflictError, PermissionDenied
from cs_app.extensions import db
from cs_app.triggers.pools import service as pools
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.refs import FiringRef
from cs_app.triggers.rules.models import RuleFiring
from tests.factories import (
    AccountFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    UserFactory,
)


@pytest.fixture
def merged(app, now):
    """Ana's pool holds one item for Acme, opened by a 14-day rule and joined by a 3-day one."""
    pool = PoolFactory(name="Rescue")
    ana = PoolMemberFactory(pool=pool, user=UserFactory(name="Ana")).user
    account = AccountFactory(name="Acme")
    rules = [RuleFactory(name="Login drop"), RuleFactory(name="Ticket spike", snooze_days=3)]
    firings = [RuleFiringFactory(rule=rule, account=account) for rule in rules]
    items = {}
    for rule, firing in zip(rules, firings, strict=True):
        ref = FiringRef(firing.id, rule.id, rule.name, account.id, account.segment, {"x": 1})
        items.update(
            pools.route_firings(
                [ref], pool_key=pool.key, priority="normal", sla_hours=None, now=now
            )
        )
    (item,) = set(items.values())
    db.session.expire(item)
    return {
        "pool": pool,
        "ana": ana,
        "account": account,
        "item": item,
        "firings": firings,
        "rules": rules,
    }


def resolve(merged, now):
    return pools.resolve_item(
        merged["item"], outcome="saved", notes=None, user=merged["ana"], now=now
    )


def test_resolving_closes_every_firing_and_snoozes_each_rule_for_its_days(merged, now):
    resolve(merged, now)
    assert [f.status for f in merged["firings"]] == ["closed", "closed"]
    assert [r.snoozed_until for r in merged["item"].reasons] == [
        now + timedelta(days=14),
        now + timedelta(days=3),
    ]
    assert pools.snoozed_until(merged["item"], now) == now + timedelta(days=14)
    assert pools.snoozed_until(merged["item"], now + timedelta(days=15)) is None


def test_a_rule_with_no_snooze_days_is_not_snoozed(merged, now):
    merged["rules"][1].snooze_days = 0
    resolve(merged, now)
    assert merged["item"].reasons[1].snoozed_until is None


def test_reopening_opens_the_item_and_ends_the_snooze(merged, now):
    resolve(merged, now)
    later = now + timedelta(days=1)
    pools.reopen_item(merged["item"], user=merged["ana"], now=later, version=merged["item"].version)
    item = merged["item"]
    assert (item.status, item.outcome, item.resolved_at, item.assignee_id) == (
        "open",
        None,
        None,
        merged["ana"].id,
    )
    assert [r.snoozed_until for r in item.reasons] == [None, None]
    assert item.sla_due_at == later + timedelta(hours=merged["pool"].default_sla_hours)
    assert pools.item_history(item)[1][-1]["text"] == "reopened it"


def test_an_open_item_cannot_be_reopened(merged, now):
    with pytest.raises(ConflictError, match="only a resolved item can be reopened"):
        pools.reopen_item(merged["item"], user=merged["ana"], now=now)


def test_outsiders_and_viewers_may_not_reopen(merged, now):
    resolve(merged, now)
    with pytest.raises(PermissionDenied, match="Only members of Rescue"):
        pools.reopen_item(merged["item"], user=UserFactory(), now=now)
    with pytest.raises(PermissionDenied, match="Viewers"):
        pools.reopen_item(merged["item"], user=UserFactory(role="viewer"), now=now)
    assert merged["item"].status == "resolved"


def test_reopening_with_a_stale_version_is_a_conflict(merged, now):
    resolve(merged, now)
    with pytest.raises(ConflictError, match="Someone changed this item"):
        pools.reopen_item(merged["item"], user=merged["ana"], now=now, version=1)


def test_reopening_is_refused_while_the_account_has_another_open_item(merged, now):
    resolve(merged, now)
    newer = QueueItemFactory(pool=merged["pool"], account=merged["account"])
    with pytest.raises(
        ConflictError, match=rf"Acme already has an open item in Rescue \(#{newer.id}\)"
    ):
        pools.reopen_item(merged["item"], user=merged["ana"], now=now)
    assert merged["item"].status == "resolved"


def test_an_item_made_before_reasons_were_listed_snoozes_its_own_rule(app, now):
    pool = PoolFactory()
    ana = PoolMemberFactory(pool=pool).user
    firing = RuleFiringFactory()
    item = QueueItemFactory(pool=pool, assignee=ana, rule=firing.rule, firing_id=firing.id)
    pools.resolve_item(item, outcome="saved", notes=None, user=ana, now=now)
    assert [(r.rule_id, r.snoozed_until) for r in item.reasons] == [
        (firing.rule_id, now + timedelta(days=14))
    ]
    assert (
        db.session.scalar(select(RuleFiring.status).where(RuleFiring.id == firing.id)) == "closed"
    )
    assert db.session.scalar(select(QueueItem.status).where(QueueItem.id == item.id)) == "resolved"
