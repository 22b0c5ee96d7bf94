"""A queue item's life through the service: claim, reassign, resolve, and every refusal
(not a member, viewer, wrong outcome, stale version, resolving twice); the queues."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.audit.models import AuditEvent
from cs_app.errors import ConflictError, PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.triggers.pools import service as pools
from tests.factories import (
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFiringFactory,
    UserFactory,
)


@pytest.fixture
def team(app):
    """A pool led by Lena with members Ana and Bo, and Cy who is in no pool."""
    lead = UserFactory(role="lead", name="Lena")
    pool = PoolFactory(lead=lead, name="Rescue")
    ana = PoolMemberFactory(pool=pool, position=0, capacity=3, user=UserFactory(name="Ana")).user
    bo = PoolMemberFactory(pool=pool, position=1, capacity=1, user=UserFactory(name="Bo")).user
    return {
        "pool": pool,
        "lead": lead,
        "ana": ana,
        "bo": bo,
        "cy": UserFactory(name="Cy"),
        "viewer": UserFactory(role="viewer"),
    }


def events(item) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "queue_item", AuditEvent.entity_id == str(item.id))
            .order_by(AuditEvent.id)
        )
    )


# --- who works an item ---------------------------------------------------------------------


def test_who_may_work_an_item(team):
    outsider_lead = UserFactory(role="lead")
    admin = UserFactory(role="admin")
    item = QueueItemFactory(pool=team["pool"], assignee=team["cy"])  # Cy is in no pool
    allowed = {
        name: pools.can_work(item, user)
        for name, user in {**team, "other lead": outsider_lead, "admin": admin}.items()
        if name != "pool"
    }
    assert allowed == {
        "lead": True,  # the pool's lead
        "ana": True,  # members
        "bo": True,
        "cy": True,  # the assignee, though outside the pool
        "viewer": False,
        "other lead": True,  # every CS lead and admin manages every pool
        "admin": True,
    }
    assert pools.can_work(QueueItemFactory(pool=team["pool"], assignee=None), team["cy"]) is False


# --- claim ----------------------------------------------------------------------------------


def test_the_assignee_claims_their_item(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    pools.claim_item(item, user=team["ana"], now=now, version=item.version)
    assert (item.status, item.claimed_at, item.assignee_id) == ("claimed", now, team["ana"].id)
    assert events(item) == ["claimed"]
    pools.claim_item(item, user=team["ana"], now=now)  # again: nothing changes
    assert events(item) == ["claimed"]


def test_a_member_claiming_an_unassigned_item_takes_it(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=None)
    pools.claim_item(item, user=team["bo"], now=now)
    assert (item.status, item.assignee_id, item.assigned_at) == ("claimed", team["bo"].id, now)


def test_a_member_may_claim_beyond_their_capacity(team, now):
    QueueItemFactory(pool=team["pool"], assignee=team["bo"])  # Bo's capacity is 1
    item = QueueItemFactory(pool=team["pool"], assignee=None)
    pools.claim_item(item, user=team["bo"], now=now)
    assert item.assignee_id == team["bo"].id


def test_the_pool_lead_may_claim_an_unassigned_item(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=None)
    pools.claim_item(item, user=team["lead"], now=now)
    assert item.assignee_id == team["lead"].id


def test_claiming_someone_elses_item_is_a_conflict(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    with pytest.raises(ConflictError, match="assigned to Ana; reassign it"):
        pools.claim_item(item, user=team["bo"], now=now)
    assert item.status == "open"


def test_someone_outside_the_pool_may_not_claim(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=None)
    with pytest.raises(PermissionDenied, match="Only members of Rescue"):
        pools.claim_item(item, user=team["cy"], now=now)
    with pytest.raises(PermissionDenied, match="read-only"):
        pools.claim_item(item, user=team["viewer"], now=now)
    assert item.assignee_id is None and item.status == "open"


def test_claiming_with_a_stale_version_is_a_conflict(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    with pytest.raises(ConflictError) as refused:
        pools.claim_item(item, user=team["ana"], now=now, version=item.version - 1)
    assert "version" in refused.value.fields
    assert item.status == "open"


# --- reassign -------------------------------------------------------------------------------


def test_the_lead_reassigns_and_the_new_assignee_must_claim(team, now):
    item = QueueItemFactory(
        pool=team["pool"], assignee=team["ana"], status="claimed", claimed_at=now
    )
    pools.reassign_item(item, to_user=team["bo"], user=team["lead"], now=now, version=item.version)
    assert (item.assignee_id, item.status, item.claimed_at, item.assigned_at) == (
        team["bo"].id,
        "open",
        None,
        now,
    )
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "reassigned")).one()
    assert event.before["assignee"] == team["ana"].email
    assert event.after["assignee"] == team["bo"].email


def test_the_assignee_may_hand_their_item_on(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["bo"])
    pools.reassign_item(item, to_user=team["ana"], user=team["bo"], now=now)
    assert item.assignee_id == team["ana"].id


def test_only_the_lead_or_the_assignee_reassigns(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    for who in ("bo", "cy", "viewer"):
        with pytest.raises(PermissionDenied):
            pools.reassign_item(item, to_user=team["bo"], user=team[who], now=now)
    assert item.assignee_id == team["ana"].id


def test_the_target_must_be_a_member(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    with pytest.raises(ValidationError) as refused:
        pools.reassign_item(item, to_user=team["cy"], user=team["lead"], now=now)
    assert refused.value.fields["assignee"] == "Cy is not a member of Rescue."
    with pytest.raises(ValidationError) as refused:
        pools.reassign_item(item, to_user=None, user=team["lead"], now=now)
    assert refused.value.fields["assignee"] == "Choose a member of the pool."
    with pytest.raises(ValidationError, match="already assigned to Ana"):
        pools.reassign_item(item, to_user=team["ana"], user=team["lead"], now=now)


def test_a_full_or_away_target_is_refused_unless_the_lead_forces(team, now):
    QueueItemFactory(pool=team["pool"], assignee=team["bo"])  # Bo: 1 of 1
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    with pytest.raises(ValidationError) as refused:
        pools.reassign_item(item, to_user=team["bo"], user=team["ana"], now=now, force=True)
    assert refused.value.fields["assignee"] == (
        "Bo is full (1 of 1 open items). Only the pool's lead can assign to someone away or full."
    )
    with pytest.raises(ValidationError, match="Tick “Assign anyway”"):
        pools.reassign_item(item, to_user=team["bo"], user=team["lead"], now=now)
    pools.reassign_item(item, to_user=team["bo"], user=team["lead"], now=now, force=True)
    assert item.assignee_id == team["bo"].id
    assert (
        db.session.scalars(select(AuditEvent.after).where(AuditEvent.action == "reassigned")).one()[
            "forced"
        ]
        is True
    )


def test_an_away_user_is_away_in_every_pool(team, now):
    team["bo"].away = True
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    with pytest.raises(ValidationError, match="Bo is away"):
        pools.reassign_item(item, to_user=team["bo"], user=team["ana"], now=now)


# --- resolve --------------------------------------------------------------------------------


def test_resolving_closes_the_item_and_its_firing(team, now):
    firing = RuleFiringFactory()
    item = QueueItemFactory(
        pool=team["pool"],
        assignee=team["ana"],
        status="claimed",
        firing_id=firing.id,
        rule=firing.rule,
    )
    pools.resolve_item(
        item,
        outcome="saved",
        notes="  Call booked; exec sponsor back.  ",
        user=team["ana"],
        now=now + timedelta(hours=1),
        version=item.version,
    )
    assert (item.status, item.outcome, item.notes, item.resolved_by_id, item.resolved_at) == (
        "resolved",
        "saved",
        "Call booked; exec sponsor back.",
        team["ana"].id,
        now + timedelta(hours=1),
    )
    assert (firing.status, firing.closed_at) == ("closed", now + timedelta(hours=1))
    assert events(item) == ["resolved"]


def test_a_member_resolving_an_unassigned_item_becomes_its_assignee(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=None)
    pools.resolve_item(item, outcome="no_action", notes=None, user=team["bo"], now=now)
    assert item.assignee_id == team["bo"].id and item.status == "resolved"


def test_an_outcome_is_required_and_must_be_known(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    for outcome in (None, "", "won"):
        with pytest.raises(ValidationError) as refused:
            pools.resolve_item(item, outcome=outcome, notes="x", user=team["ana"], now=now)
        assert refused.value.fields == {
            "outcome": "Choose an outcome: saved, churned, expanded or no action."
        }
    assert item.status == "open"


def test_notes_have_a_limit(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    with pytest.raises(ValidationError) as refused:
        pools.resolve_item(item, outcome="saved", notes="x" * 5001, user=team["ana"], now=now)
    assert "5000" in refused.value.fields["notes"]


def test_resolving_twice_is_a_conflict(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    pools.resolve_item(item, outcome="churned", notes=None, user=team["ana"], now=now)
    with pytest.raises(ConflictError, match="already resolved by Ana \\(Churned\\)"):
        pools.resolve_item(item, outcome="saved", notes=None, user=team["lead"], now=now)
    with pytest.raises(ConflictError):
        pools.claim_item(item, user=team["ana"], now=now)
    with pytest.raises(ConflictError):
        pools.reassign_item(item, to_user=team["bo"], user=team["lead"], now=now)
    assert item.outcome == "churned"


def test_resolving_with_a_stale_version_changes_nothing(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    read = item.version
    pools.claim_item(item, user=team["ana"], now=now)
    with pytest.raises(ConflictError, match="Someone changed this item"):
        pools.resolve_item(
            item, outcome="saved", notes=None, user=team["ana"], now=now, version=read
        )
    assert item.status == "claimed"


def test_others_may_not_resolve_an_assigned_item(team, now):
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    for who in ("bo", "cy"):
        with pytest.raises(PermissionDenied, match="Only Ana or the lead of Rescue"):
            pools.resolve_item(item, outcome="saved", notes=None, user=team[who], now=now)
    with pytest.raises(PermissionDenied, match="read-only"):
        pools.resolve_item(item, outcome="saved", notes=None, user=team["viewer"], now=now)
    pools.resolve_item(item, outcome="saved", notes=None, user=UserFactory(role="admin"), now=now)
    assert item.status == "resolved"


def test_a_change_made_meanwhile_by_someone_else_is_a_conflict(team, now):
    """The version column catches a write that happened after this session read the item."""
    item = QueueItemFactory(pool=team["pool"], assignee=team["ana"])
    db.session.execute(
        pools.QueueItem.__table__.update()
        .where(pools.QueueItem.__table__.c.id == item.id)
        .values(version=item.version + 1)
    )
    with pytest.raises(ConflictError, match="at the same moment"):
        pools.claim_item(item, user=team["ana"], now=now)


# --- the queues -----------------------------------------------------------------------------


def test_my_queue_has_my_open_items_breached_first(team, now):
    ana = team["ana"]
    later = QueueItemFactory(pool=team["pool"], assignee=ana, sla_due_at=now + timedelta(hours=5))
    sooner = QueueItemFactory(
        pool=team["pool"], assignee=ana, status="claimed", sla_due_at=now + timedelta(hours=1)
    )
    late = QueueItemFactory(pool=team["pool"], assignee=ana, sla_due_at=now - timedelta(hours=1))
    flagged = QueueItemFactory(
        pool=team["pool"], assignee=ana, breached_at=now, sla_due_at=now + timedelta(hours=9)
    )
    QueueItemFactory(pool=team["pool"], assignee=ana, status="resolved")
    QueueItemFactory(pool=team["pool"], assignee=team["bo"])
    assert pools.my_queue(ana, now=now) == [late, flagged, sooner, later]


def test_claimable_items_are_the_unassigned_ones_of_my_pools(team, now):
    mine = QueueItemFactory(pool=team["pool"], assignee=None)
    QueueItemFactory(pool=team["pool"], assignee=None, status="resolved")
    QueueItemFactory(pool=PoolFactory(), assignee=None)  # a pool Ana is not in
    assert pools.claimable(team["ana"], now=now) == [mine]
    assert pools.claimable(team["lead"], now=now) == [mine]  # she leads it
    assert pools.claimable(team["cy"], now=now) == []


def test_the_pool_queue_filters_sorts_and_counts(team, now):
    pool = team["pool"]
    high = QueueItemFactory(
        pool=pool,
        priority="high",
        assignee=team["ana"],
        sla_due_at=now + timedelta(hours=8),
        created_at=now,
    )
    low = QueueItemFactory(
        pool=pool,
        priority="low",
        assignee=None,
        status="open",
        sla_due_at=now - timedelta(hours=1),
        created_at=now - timedelta(days=2),
    )
    claimed = QueueItemFactory(
        pool=pool,
        status="claimed",
        assignee=team["bo"],
        sla_due_at=now + timedelta(hours=2),
        created_at=now - timedelta(days=1),
    )
    done = QueueItemFactory(
        pool=pool,
        status="resolved",
        assignee=team["bo"],
        breached_at=now - timedelta(days=1),
        outcome="saved",
    )

    def ids(status="active", sort="sla"):
        return [i.id for i in pools.pool_queue(pool, status=status, sort=sort, now=now).items]

    assert ids() == [low.id, claimed.id, high.id]
    assert ids(sort="priority") == [high.id, claimed.id, low.id]
    assert ids(sort="created") == [high.id, claimed.id, low.id]
    assert ids("unassigned") == [low.id]
    assert ids("breached") == [low.id, done.id]
    assert ids("resolved") == [done.id]
    assert ids("claimed") == [claimed.id]
    page = pools.pool_queue(pool, now=now)
    assert page.counts == {
        "active": 3,
        "open": 2,
        "claimed": 1,
        "unassigned": 1,
        "breached": 2,
        "resolved": 1,
        "all": 4,
    }


def test_the_pool_queue_pages(team, now):
    for hours in range(5):
        QueueItemFactory(pool=team["pool"], sla_due_at=now + timedelta(hours=hours))
    page = pools.pool_queue(team["pool"], per_page=2, page=3, now=now)
    assert (len(page.items), page.page, page.pages, page.total) == (1, 3, 3, 5)
    past = pools.pool_queue(team["pool"], per_page=2, page=9, now=now)
    assert past.page == 3
    assert pools.pool_queue(team["pool"], per_page=2, page=9, now=now, clamp=False).items == []


def test_pool_summaries_count_loads_unassigned_and_breaches(team, now, count_queries):
    pool = team["pool"]
    QueueItemFactory(pool=pool, assignee=team["ana"])
    QueueItemFactory(pool=pool, assignee=team["ana"], status="claimed")
    QueueItemFactory(pool=pool, assignee=None, sla_due_at=now - timedelta(minutes=5))
    QueueItemFactory(
        pool=pool, assignee=team["bo"], status="resolved", breached_at=now - timedelta(days=3)
    )
    team["bo"].away = True
    db.session.flush()
    db.session.expire_all()
    with count_queries() as counter:
        summaries = {s.pool.id: s for s in pools.pool_summaries(now=now)}
    assert counter.count <= 5, counter.statements
    summary = summaries[pool.id]
    assert (summary.active, summary.unassigned, summary.breached) == (3, 1, 1)
    lines = {m.name: (m.load, m.capacity, m.away, m.full) for m in summary.members}
    assert lines == {"Ana": (2, 3, False, False), "Bo": (0, 1, True, False)}
