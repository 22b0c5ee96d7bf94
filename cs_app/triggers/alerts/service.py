"""In-app alerts: what a person must see (an unassigned queue item, an SLA breach, a dead
touchpoint, a review reminder), listed on ``/alerts`` and counted in the top bar.

An alert is written at most once per user, kind and subject: ``uq_alerts_dedupe`` is the
guard and every insert here is an insert-ignore on it, so a job that runs again (or two that
race) alerts nobody twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update

from cs_app.errors import NotFoundError, PermissionDenied
from cs_app.extensions import db
from cs_app.paging import Page, clamp_page, offset
from cs_app.sql import insert_for, on_postgresql
from cs_app.triggers.alerts.models import Alert

DEDUPE_CONSTRAINT = "uq_alerts_dedupe"
DEDUPE_COLUMNS = ("user_id", "kind", "dedupe_key")
BATCH_ROWS = 500  # rows per multi-row INSERT: far below SQLite's bound-parameter limit
ALERTS_PER_PAGE = 50
ALERT_KINDS = {
    "unassigned_item": "Unassigned item",
    "sla_breach": "SLA breach",
    "dead_touchpoint": "Touchpoint failed",
    "internal_alert": "Internal alert",
    "call_task": "Call task",
    "review_due": "Review due",
    "job_failing": "Job failing",
}


def insert_ignoring_duplicates(table=Alert.__table__):
    """``INSERT … ON CONFLICT DO NOTHING`` on the dedupe key, in this database's dialect."""
    if on_postgresql():
        return insert_for(table).on_conflict_do_nothing(constraint=DEDUPE_CONSTRAINT)
    return insert_for(table).on_conflict_do_nothing(index_elements=list(DEDUPE_COLUMNS))


def create_alert(
    *,
    user_id: int,
    kind: str,
    dedupe_key: str,
    title: str,
    body: str | None = None,
    account_id: int | None = None,
    queue_item_id: int | None = None,
    touchpoint_id: int | None = None,
    now: datetime,
) -> Alert | None:
    """The new alert, or None when this user already had one of this kind for this subject."""
    db.session.flush()
    statement = (
        insert_ignoring_duplicates()
        .values(
            user_id=user_id,
            kind=kind,
            dedupe_key=dedupe_key,
            title=title[:300],
            body=body,
            account_id=account_id,
            queue_item_id=queue_item_id,
            touchpoint_id=touchpoint_id,
            created_at=now,
        )
        .returning(Alert.__table__.c.id)
    )
    alert_id = db.session.execute(statement).scalar()
    return None if alert_id is None else db.session.get(Alert, alert_id)


def create_alerts(rows: list[dict[str, Any]], *, now: datetime) -> int:
    """Many alerts in a few multi-row statements (``create_alert``'s keys per row); answers
    how many were new."""
    if not rows:
        return 0
    db.session.flush()
    columns = (
        "user_id",
        "kind",
        "dedupe_key",
        "title",
        "body",
        "account_id",
        "queue_item_id",
        "touchpoint_id",
    )
    values = [
        {**{c: row.get(c) for c in columns}, "title": row["title"][:300], "created_at": now}
        for row in rows
    ]
    created = 0
    for start in range(0, len(values), BATCH_ROWS):
        created += len(
            db.session.execute(
                insert_ignoring_duplicates()
                .values(values[start : start + BATCH_ROWS])
                .returning(Alert.__table__.c.id)
            ).all()
        )
    return created


def list_alerts(
    user, *, unread_only: bool = False, page: int = 1, per_page: int = ALERTS_PER_PAGE
) -> Page[Alert]:
    """The user's alerts, unread first, newest first within each."""
    where = [Alert.user_id == user.id]
    if unread_only:
        where.append(Alert.read_at.is_(None))
    total, unread = db.session.execute(
        select(
            func.count(Alert.id),
            func.coalesce(func.sum(case((Alert.read_at.is_(None), 1), else_=0)), 0),
        ).where(Alert.user_id == user.id)
    ).one()
    if unread_only:
        total = unread
    page = clamp_page(page, int(total), per_page)
    items = list(
        db.session.scalars(
            select(Alert)
            .where(*where)
            .order_by(Alert.read_at.is_not(None), Alert.created_at.desc(), Alert.id.desc())
            .offset(offset(page, per_page))
            .limit(per_page)
        )
    )
    return Page(
        items=items, total=int(total), page=page, per_page=per_page, counts={"unread": int(unread)}
    )


def get_alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"No alert {alert_id}.")
    return alert


def mark_read(alert: Alert, *, user, now: datetime) -> bool:
    """True when the alert was unread. Alerts are personal: nobody marks another's."""
    if alert.user_id != user.id:
        raise PermissionDenied("This alert belongs to someone else.")
    if alert.read_at is not None:
        return False
    alert.read_at = now
    db.session.flush()
    return True


def mark_all_read(user, *, now: datetime) -> int:
    result = db.session.execute(
        update(Alert.__table__)
        .where(Alert.__table__.c.user_id == user.id, Alert.__table__.c.read_at.is_(None))
        .values(read_at=now)
    )
    return result.rowcount or 0


def unread_count(user) -> int:
    return (
        db.session.scalar(
            select(func.count(Alert.id)).where(Alert.user_id == user.id, Alert.read_at.is_(None))
        )
        or 0
    )
