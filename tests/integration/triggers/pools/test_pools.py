"""Pools through the service: configuration (validation, audit) and routing new firings to
members by every strategy — capacity, away members and users, segments, nobody free."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cs_app.audit.models import AuditEvent
from cs_app.errors import NotFoundError, ValidationError
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.pools import service as pools
from cs_app.triggers.pools.models import PoolMember, QueueItem
from cs_app.triggers.refs import FiringRef
from tests.conftest import TEST_DATABASE_URL
from tests.factories import (
    AccountFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    UserFactory,
)

STRATEGIES = ("round_robin", "least_loaded", "segment_first")


def fire(rule=None, *, segment="Mid-Market", matched=None) -> FiringRef:
    rule = rule or RuleFactory(name="Login drop")
    account = AccountFactory(segment=segment)
    firing = RuleFiringFactory(
        rule=rule, account=account, matched=matched or {"days_since_last_login": 21}
    )
    return FiringRef(firing.id, rule.id, rule.name, account.id, segment, firing.matched)


def route(firings, pool, now, *, priority="normal", sla_hours=None):
    return pools.route_firings(
        firings, pool_key=pool.key, priority=priority, sla_hours=sla_hours, now=now
    )


def open_items(pool, user) -> int:
    return db.session.scalar(
        select(func.count(QueueItem.id)).where(
            QueueItem.pool_id == pool.id,
            QueueItem.assignee_id == user.id,
            QueueItem.status.in_(("open", "claimed")),
        )
    )


# --- configuration --------------------------------------------------------------------------


def test_create_pool_with_members_by_email_or_id_is_audited(app, now):
    lead, ana, bo = UserFactory(role="lead"), UserFactory(), UserFactory()
    pool = pools.create_pool(
        {
            "name": "Renewal desk",
            "strategy": "round_robin",
            "lead": lead.email.upper(),
            "default_sla_hours": "48",
            "members": [
                {"user": ana.email, "capacity": 5, "segments": ["Enterprise", "SMB"]},
                {"user": bo.id, "capacity": "3", "away": True},
            ],
        },
        user=lead,
        now=now,
    )
    assert pool.key == "renewal-desk" and pool.lead_id == lead.id
    assert pool.default_sla_hours == 48 and pool.strategy == "round_robin"
    members = [(m.user_id, m.position, m.capacity, m.segments, m.away) for m in pool.members]
    # segments are kept in the catalogue's order
    assert members == [(ana.id, 0, 5, ["SMB", "Enterprise"], False), (bo.id, 1, 3, [], True)]
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_type == "pool", AuditEvent.entity_id == str(pool.id)
        )
    )
    assert event.action == "created" and event.user_id == lead.id
    assert [m["user_email"] for m in event.after["members"]] == [ana.email, bo.email]


def test_every_bad_field_is_named(app, now):
    viewer, gone = UserFactory(role="viewer"), UserFactory(active=False)
    ana = UserFactory()
    PoolFactory(key="taken")
    with pytest.raises(ValidationError) as refused:
        pools.create_pool(
            {
                "name": "",
                "key": "taken",
                "strategy": "lottery",
                "default_sla_hours": 0,
                "lead": "nobody@example.com",
                "members": [
                    {"user": viewer.email},
                    {"user": gone.id, "capacity": 2},
                    {"user": ana.email, "capacity": 0, "segments": ["Startup"]},
                    {"user": ana.email},
                    {"user": ""},
                ],
            },
            user=None,
            now=now,
        )
    fields = refused.value.fields
    assert fields["name"] == "Give the pool a name."
    assert "taken" in fields["key"]
    assert fields["strategy"] == "Choose round-robin, least loaded or segment first."
    assert "from 1 to 8760" in fields["default_sla_hours"]
    assert fields["lead"] == "No user with the email nobody@example.com."
    assert "viewers cannot work a queue" in fields["members.0.user"]
    assert "deactivated" in fields["members.1.user"]
    assert "from 1 to 500" in fields["members.2.capacity"]
    assert fields["members.2.segments"].startswith("Unknown segment 'Startup'")
    assert fields["members.3.user"] == f"{ana.name} is listed twice."
    assert fields["members.4.user"] == "Choose a person."


def test_a_bad_key_is_refused(app, now):
    with pytest.raises(ValidationError) as refused:
        pools.create_pool({"name": "X", "key": "Has Spaces"}, user=None, now=now)
    assert "lowercase letters" in refused.value.fields["key"]


def test_update_keeps_member_rows_removes_the_left_out_and_audits(app, now):
    lead, ana, bo, cy = (UserFactory(role="lead"), UserFactory(), UserFactory(), UserFactory())
    pool = pools.create_pool(
        {
            "name": "Pool A",
            "members": [{"user": ana.id, "capacity": 2}, {"user": bo.id, "capacity": 2}],
        },
        user=lead,
        now=now,
    )
    ana_row = pool.members[0].id
    pools.update_pool(
        pool,
        {
            "name": "Pool A",
            "strategy": "segment_first",
            "members": [
                {"user": cy.id, "capacity": 4},
                {"user": ana.id, "capacity": 6, "away": True},
            ],
        },
        user=lead,
        now=now + timedelta(minutes=1),
    )
    db.session.expire_all()
    rows = db.session.scalars(
        select(PoolMember).where(PoolMember.pool_id == pool.id).order_by(PoolMember.position)
    ).all()
    assert [(r.user_id, r.capacity, r.away) for r in rows] == [(cy.id, 4, False), (ana.id, 6, True)]
    assert rows[1].id == ana_row  # the same membership, changed in place
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "pool", AuditEvent.action == "updated")
    ).one()
    assert event.before["strategy"] == "least_loaded"
    assert event.after["strategy"] == "segment_first"


def test_the_key_cannot_change(app, now):
    pool = PoolFactory(key="csm-desk")
    with pytest.raises(ValidationError) as refused:
        pools.update_pool(pool, {"name": "Desk", "key": "other"}, user=None, now=now)
    assert "stays 'csm-desk'" in refused.value.fields["key"]


def test_saving_without_a_change_writes_no_audit_event(app, now):
    pool = pools.create_pool({"name": "Quiet"}, user=None, now=now)
    pools.update_pool(pool, {"name": "Quiet"}, user=None, now=now)
    assert (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.entity_type == "pool", AuditEvent.action == "updated"
            )
        )
        == 0
    )


# --- routing --------------------------------------------------------------------------------


def test_items_carry_the_firing_rule_reason_priority_and_sla(app, now):
    pool = PoolFactory(default_sla_hours=24)
    ana = PoolMemberFactory(pool=pool).user
    firing = fire(matched={"days_since_last_login": 21, "segment": "Mid-Market"})
    item = route([firing], pool, now, priority="high", sla_hours=4)[firing.firing_id]
    assert (item.pool_id, item.account_id, item.rule_id, item.firing_id) == (
        pool.id,
        firing.account_id,
        firing.rule_id,
        firing.firing_id,
    )
    assert item.title == "Login drop"
    assert item.reason == {"days_since_last_login": 21, "segment": "Mid-Market"}
    assert (item.priority, item.status, item.assignee_id) == ("high", "open", ana.id)
    assert item.sla_due_at == now + timedelta(hours=4) and item.assigned_at == now
    other = fire()
    assert route([other], pool, now)[other.firing_id].sla_due_at == now + timedelta(hours=24)


def test_an_unknown_pool_is_refused(app, now):
    with pytest.raises(NotFoundError, match="no-such-pool"):
        pools.route_firings(
            [fire()], pool_key="no-such-pool", priority="normal", sla_hours=None, now=now
        )


def test_least_loaded_counts_only_this_pools_open_items(app, now):
    pool, other_pool = PoolFactory(strategy="least_loaded"), PoolFactory()
    ana = PoolMemberFactory(pool=pool, position=0).user
    bo = PoolMemberFactory(pool=pool, position=1).user
    QueueItemFactory(pool=pool, assignee=ana, status="claimed")
    QueueItemFactory(pool=pool, assignee=bo, status="resolved")  # done: no load
    for _ in range(3):
        QueueItemFactory(pool=other_pool, assignee=bo)  # another pool's capacity
    items = route([fire(), fire(), fire()], pool, now)
    assert [i.assignee_id for i in items.values()] == [bo.id, ana.id, bo.id]


def test_round_robin_continues_after_the_last_assignee_and_remembers(app, now):
    pool = PoolFactory(strategy="round_robin")
    users = [PoolMemberFactory(pool=pool, position=n).user for n in range(3)]
    pool.last_assigned_user_id = users[1].id
    db.session.flush()
    first = route([fire(), fire()], pool, now)
    assert [i.assignee_id for i in first.values()] == [users[2].id, users[0].id]
    assert pool.last_assigned_user_id == users[0].id
    second = route([fire()], pool, now)
    assert [i.assignee_id for i in second.values()] == [users[1].id]


def test_segment_first_prefers_members_covering_the_segment(app, now):
    pool = PoolFactory(strategy="segment_first")
    smb = PoolMemberFactory(pool=pool, position=0, segments=["SMB"]).user
    ent = PoolMemberFactory(pool=pool, position=1, segments=["Enterprise"]).user
    QueueItemFactory(pool=pool, assignee=ent)  # ent is busier, yet covers Enterprise
    items = route(
        [fire(segment="Enterprise"), fire(segment="SMB"), fire(segment="Mid-Market")], pool, now
    )
    assert [i.assignee_id for i in items.values()] == [ent.id, smb.id, smb.id]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_full_members_are_skipped(app, now, strategy):
    pool = PoolFactory(strategy=strategy)
    full = PoolMemberFactory(pool=pool, position=0, capacity=1, segments=["SMB"]).user
    free = PoolMemberFactory(pool=pool, position=1, capacity=5).user
    QueueItemFactory(pool=pool, assignee=full)
    items = route([fire(segment="SMB"), fire(segment="SMB")], pool, now)
    assert {i.assignee_id for i in items.values()} == {free.id}
    assert open_items(pool, full) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_away_members_and_away_users_are_skipped(app, now, strategy):
    pool = PoolFactory(strategy=strategy)
    PoolMemberFactory(pool=pool, position=0, away=True, segments=["SMB"])
    PoolMemberFactory(pool=pool, position=1, user=UserFactory(away=True), segments=["SMB"])
    PoolMemberFactory(pool=pool, position=2, user=UserFactory(active=False))
    free = PoolMemberFactory(pool=pool, position=3).user
    items = route([fire(segment="SMB") for _ in range(3)], pool, now)
    assert {i.assignee_id for i in items.values()} == {free.id}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_capacity_fills_within_one_batch_then_items_wait(app, now, strategy):
    pool = PoolFactory(strategy=strategy, lead=UserFactory(role="lead"))
    ana = PoolMemberFactory(pool=pool, position=0, capacity=2).user
    bo = PoolMemberFactory(pool=pool, position=1, capacity=1).user
    items = list(route([fire() for _ in range(5)], pool, now).values())
    assert sorted(i.assignee_id or 0 for i in items) == sorted([ana.id, ana.id, bo.id, 0, 0])
    assert open_items(pool, ana) == 2 and open_items(pool, bo) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_nobody_free_leaves_items_unassigned_and_alerts_the_pool_lead(app, now, strategy):
    lead = UserFactory(role="lead")
    UserFactory(role="lead")  # another CS lead: the pool has its own, so not them
    pool = PoolFactory(strategy=strategy, lead=lead, name="Rescue")
    PoolMemberFactory(pool=pool, away=True)
    firing = fire()
    item = route([firing], pool, now)[firing.firing_id]
    assert item.assignee_id is None and item.assigned_at is None and item.status == "open"
    alerts = db.session.scalars(select(Alert)).all()
    assert [(a.user_id, a.kind, a.dedupe_key, a.queue_item_id) for a in alerts] == [
        (lead.id, "unassigned_item", f"queue_item:{item.id}", item.id)
    ]
    assert alerts[0].title.startswith("Unassigned in Rescue: Account")
    assert alerts[0].account_id == firing.account_id


def test_a_pool_without_a_lead_alerts_every_active_cs_lead(app, now):
    leads = [UserFactory(role="lead"), UserFactory(role="lead")]
    UserFactory(role="lead", active=False)
    UserFactory(role="admin")
    pool = PoolFactory(lead=None)  # and no members at all
    items = route([fire(), fire()], pool, now)
    alerted = db.session.execute(select(Alert.user_id, Alert.queue_item_id)).all()
    assert sorted(alerted) == sorted(
        (lead.id, item.id) for lead in leads for item in items.values()
    )


def test_routing_reads_members_and_loads_in_a_fixed_number_of_statements(app, now, count_queries):
    def pool_of_four():
        pool = PoolFactory(strategy="least_loaded")
        for position in range(4):
            PoolMemberFactory(pool=pool, position=position, capacity=50)
        return pool

    small_pool, large_pool = pool_of_four(), pool_of_four()
    few, many = [fire() for _ in range(2)], [fire() for _ in range(20)]
    db.session.flush()
    with count_queries() as small:
        route(few, small_pool, now)
    with count_queries() as large:
        route(many, large_pool, now)
    selects = [s for s in large.statements if s.lstrip().upper().startswith("SELECT")]
    # the locked pool, the accounts' open items in it, then members with their loads
    assert len(selects) == 3, selects
    if db.session.get_bind().dialect.name == "postgresql":
        # the items go in as one multi-row INSERT; SQLite's driver inserts row by row
        assert small.count == large.count, large.statements


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgres"),
    reason="SQLite has one writer at a time; the race needs PostgreSQL",
)
def test_concurrent_routing_into_one_pool_never_overfills(throwaway_database, now):
    """Two evaluations route into the same pool at the same moment, each in its own
    transaction: the pool lock makes the second read the first one's items."""
    from flask_migrate import upgrade

    from cs_app import create_app
    from cs_app.config import TestConfig

    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": throwaway_database()})
    capacity, per_batch = 5, 5
    with app.app_context():
        upgrade()
        pool = PoolFactory(key="race", strategy="least_loaded")
        member = PoolMemberFactory(pool=pool, capacity=capacity)
        rule = RuleFactory()
        batches = [[fire(rule) for _ in range(per_batch)] for _ in range(2)]
        db.session.commit()
        member_id = member.user_id
        db.session.remove()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def evaluate(firings):
        try:
            with app.app_context():
                barrier.wait()
                pools.route_firings(
                    firings, pool_key="race", priority="normal", sla_hours=None, now=now
                )
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=evaluate, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with app.app_context():
        assigned = db.session.scalar(
            select(func.count(QueueItem.id)).where(QueueItem.assignee_id == member_id)
        )
        waiting = db.session.scalar(
            select(func.count(QueueItem.id)).where(QueueItem.assignee_id.is_(None))
        )
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    assert (assigned, waiting) == (capacity, 2 * per_batch - capacity)
