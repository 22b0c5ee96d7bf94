"""The check-slas job: flags unresolved items past their SLA once, alerts the pool lead and
the assignee once, and a second run changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cs_app.audit.service import events_for
from cs_app.extensions import db
from cs_app.jobs.runner import run_job
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.pools.service import assign_waiting_items
from cs_app.triggers.pools.sla import flag_sla_breaches
from tests.factories import (
    AccountFactory,
    AlertFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    UserFactory,
)


def alerts() -> list[tuple]:
    return sorted(
        db.session.execute(
            select(Alert.user_id, Alert.kind, Alert.dedupe_key, Alert.queue_item_id)
        ).all()
    )


def test_items_past_due_are_flagged_and_alerted_once(app, now):
    lead, ana = UserFactory(role="lead"), UserFactory()
    pool = PoolFactory(lead=lead, name="Rescue")
    account = AccountFactory(name="Acme")
    late = QueueItemFactory(
        pool=pool,
        account=account,
        assignee=ana,
        status="claimed",
        sla_due_at=now - timedelta(minutes=1),
        title="Login drop",
    )
    waiting = QueueItemFactory(pool=pool, assignee=None, sla_due_at=now - timedelta(hours=3))
    on_time = QueueItemFactory(pool=pool, assignee=ana, sla_due_at=now + timedelta(hours=1))
    done = QueueItemFactory(
        pool=pool, assignee=ana, status="resolved", sla_due_at=now - timedelta(days=1)
    )
    flagged_before = QueueItemFactory(
        pool=pool,
        assignee=ana,
        sla_due_at=now - timedelta(days=2),
        breached_at=now - timedelta(days=1),
    )

    assert flag_sla_breaches(now=now) == {"breached": 2, "alerts": 3}
    db.session.expire_all()
    breached = {i.id: i.breached_at for i in db.session.scalars(select(QueueItem))}
    assert breached[late.id] == now and breached[waiting.id] == now
    assert breached[on_time.id] is None and breached[done.id] is None
    assert breached[flagged_before.id] == now - timedelta(days=1)
    assert alerts() == sorted(
        [
            (lead.id, "sla_breach", f"queue_item:{late.id}", late.id),
            (ana.id, "sla_breach", f"queue_item:{late.id}", late.id),
            (lead.id, "sla_breach", f"queue_item:{waiting.id}", waiting.id),
        ]
    )
    alert = db.session.scalars(select(Alert).where(Alert.user_id == ana.id)).one()
    assert (alert.title, alert.body, alert.account_id, alert.created_at) == (
        "SLA breached: Acme (Rescue)",
        "Login drop",
        account.id,
        now,
    )

    assert flag_sla_breaches(now=now + timedelta(minutes=10)) == {"breached": 0, "alerts": 0}
    assert len(alerts()) == 3


def test_a_second_run_at_the_same_moment_alerts_nobody_again(app, now):
    lead = UserFactory(role="lead")
    QueueItemFactory(
        pool=PoolFactory(lead=lead), assignee=lead, sla_due_at=now - timedelta(hours=1)
    )
    assert flag_sla_breaches(now=now) == {"breached": 1, "alerts": 1}  # lead is assignee too
    db.session.execute(QueueItem.__table__.update().values(breached_at=None))
    assert flag_sla_breaches(now=now) == {"breached": 1, "alerts": 0}
    assert len(alerts()) == 1


def test_an_alert_already_there_is_not_duplicated(app, now):
    ana = UserFactory()
    item = QueueItemFactory(
        pool=PoolFactory(lead=None), assignee=ana, sla_due_at=now - timedelta(hours=1)
    )
    AlertFactory(user=ana, kind="sla_breach", dedupe_key=f"queue_item:{item.id}")
    assert flag_sla_breaches(now=now)["alerts"] == 0


def test_a_pool_without_a_lead_alerts_every_active_cs_lead(app, now):
    leads = [UserFactory(role="lead"), UserFactory(role="lead")]
    UserFactory(role="lead", active=False)
    item = QueueItemFactory(
        pool=PoolFactory(lead=None), assignee=None, sla_due_at=now - timedelta(hours=1)
    )
    assert flag_sla_breaches(now=now) == {"breached": 1, "alerts": 2}
    assert alerts() == sorted(
        (lead.id, "sla_breach", f"queue_item:{item.id}", item.id) for lead in leads
    )


def test_nothing_due_means_nothing_to_do(app, now):
    QueueItemFactory(pool=PoolFactory(), sla_due_at=now + timedelta(minutes=1))
    assert flag_sla_breaches(now=now) == {"breached": 0, "alerts": 0}


def test_the_work_is_two_statements_whatever_the_size(app, now, count_queries):
    lead = UserFactory(role="lead")
    pool = PoolFactory(lead=lead)
    for _ in range(30):
        QueueItemFactory(pool=pool, assignee=UserFactory(), sla_due_at=now - timedelta(hours=1))
    db.session.flush()
    with count_queries() as counter:
        assert flag_sla_breaches(now=now) == {"breached": 30, "alerts": 60}
    assert counter.count == 2, counter.statements


def test_the_check_slas_job_runs_it(app, now):
    QueueItemFactory(
        pool=PoolFactory(lead=UserFactory(role="lead")), sla_due_at=now - timedelta(days=1)
    )
    db.session.commit()
    run = run_job("check-slas", trigger="manual", now=now)
    assert run.status == "succeeded"
    assert run.counts == {"assigned_waiting": 0, "breached": 1, "alerts": 1}
    run = run_job("check-slas", trigger="manual", now=now + timedelta(minutes=10))
    assert run.counts == {"assigned_waiting": 0, "breached": 0, "alerts": 0}


def test_waiting_items_go_to_members_who_have_room_again(app, now):
    """Ana was full; once she resolves one and Ben is back from leave, the job hands the two
    waiting items out, the high-priority one first, and the item history says so."""
    ana, ben = UserFactory(name="Ana"), UserFactory(name="Ben", away=True)
    pool = PoolFactory(strategy="least_loaded")
    PoolMemberFactory(pool=pool, user=ana, capacity=1, position=0)
    PoolMemberFactory(pool=pool, user=ben, capacity=5, position=1)
    held = QueueItemFactory(pool=pool, assignee=ana)
    normal = QueueItemFactory(
        pool=pool, assignee=None, priority="normal", sla_due_at=now + timedelta(hours=1)
    )
    urgent = QueueItemFactory(
        pool=pool, assignee=None, priority="high", sla_due_at=now + timedelta(hours=5)
    )
    db.session.flush()
    assert assign_waiting_items(now=now) == 0  # Ana is full, Ben away
    held.status = "resolved"
    db.session.flush()
    assert assign_waiting_items(now=now) == 1
    assert (urgent.assignee_id, normal.assignee_id) == (ana.id, None)
    ben.away = False
    db.session.flush()
    assert assign_waiting_items(now=now) == 1
    assert normal.assignee_id == ben.id and normal.assigned_at == now
    [event] = [e for e in events_for("queue_item", normal.id) if e.action == "reassigned"]
    assert (event.before["assignee"], event.after["assignee"]) == (None, ben.email)
