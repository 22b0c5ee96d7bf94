"""The ``check-slas`` job: flag queue items past their SLA and alert who must act.

Two set-based statements, whatever the size of the queues: one UPDATE stamps ``breached_at``
on every unresolved item past ``sla_due_at`` that is not flagged yet, and one INSERT … SELECT
writes a ``sla_breach`` alert (dedupe key ``queue_item:<id>``) for the pool's lead and the
item's assignee of each item flagged in this run; a pool without a lead alerts every active CS
lead instead. The alert insert ignores rows it already wrote, so running the job again flags
and alerts nothing new.

The assignee alerted is the one at the moment of the breach; someone an item is reassigned to
later sees the breach flag on the item rather than a second alert.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, and_, cast, literal, select, union, update

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.alerts.service import insert_ignoring_duplicates
from cs_app.triggers.pools.models import CsmPool, QueueItem

OPEN_STATUSES = ("open", "claimed")


def flag_sla_breaches(*, now: datetime) -> dict[str, int]:
    items = QueueItem.__table__
    flagged = (
        db.session.execute(
            update(items)
            .where(
                items.c.status.in_(OPEN_STATUSES),
                items.c.sla_due_at < now,
                items.c.breached_at.is_(None),
            )
            .values(breached_at=now)
        ).rowcount
        or 0
    )
    alerts = _alert_breaches(now) if flagged else 0
    return {"breached": flagged, "alerts": alerts}


def _alert_breaches(now: datetime) -> int:
    """One alert per item flagged at ``now`` and per person who must hear of it."""
    items, pools = QueueItem.__table__, CsmPool.__table__
    just_flagged = and_(items.c.breached_at == now, items.c.status.in_(OPEN_STATUSES))
    base = select(items.c.id.label("item_id"))
    recipients = union(
        base.add_columns(pools.c.lead_id.label("user_id"))
        .join(pools, pools.c.id == items.c.pool_id)
        .where(just_flagged, pools.c.lead_id.is_not(None)),
        base.add_columns(items.c.assignee_id.label("user_id")).where(
            just_flagged, items.c.assignee_id.is_not(None)
        ),
        base.add_columns(User.__table__.c.id.label("user_id"))
        .join(pools, pools.c.id == items.c.pool_id)
        .join(
            User.__table__, and_(User.__table__.c.role == "lead", User.__table__.c.active.is_(True))
        )
        .where(just_flagged, pools.c.lead_id.is_(None)),
    ).subquery("recipients")
    accounts = Account.__table__
    rows = (
        select(
            recipients.c.user_id,
            literal("sla_breach"),
            literal("queue_item:") + cast(items.c.id, String),
            literal("SLA breached: ")
            + accounts.c.name
            + literal(" (")
            + pools.c.name
            + literal(")"),
            items.c.title,
            items.c.account_id,
            items.c.id,
            literal(now, type_=QueueItem.__table__.c.created_at.type),
        )
        .select_from(recipients)
        .join(items, items.c.id == recipients.c.item_id)
        .join(pools, pools.c.id == items.c.pool_id)
        .join(accounts, accounts.c.id == items.c.account_id)
        .where(recipients.c.user_id.is_not(None))
    )
    created = db.session.execute(
        insert_ignoring_duplicates()
        .from_select(
            [
                "user_id",
                "kind",
                "dedupe_key",
                "title",
                "body",
                "account_id",
                "queue_item_id",
                "created_at",
            ],
            rows,
        )
        .returning(Alert.__table__.c.id)
    ).all()
    return len(created)
