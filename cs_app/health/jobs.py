"""Health jobs: the daily full recompute and the catch-up after ingestion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from cs_app.extensions import db
from cs_app.health.recompute import recompute
from cs_app.jobs.models import PendingRecompute

PENDING_BATCH = 5_000


def recompute_health(*, now: datetime) -> dict[str, int]:
    """Every account: signals, then one snapshot each for today (re-running replaces it)."""
    counts = recompute(now=now)
    db.session.execute(delete(PendingRecompute).where(PendingRecompute.since <= now))
    return counts


def recompute_pending_health(*, now: datetime) -> dict[str, int]:
    """Only the accounts that received events or metrics since their last recompute."""
    ids = list(
        db.session.scalars(
            select(PendingRecompute.account_id)
            .where(PendingRecompute.since <= now)
            .order_by(PendingRecompute.since)
            .limit(PENDING_BATCH)
        )
    )
    if not ids:
        return {"signals": 0, "snapshots": 0}
    counts = recompute(now=now, account_ids=ids)
    db.session.execute(
        delete(PendingRecompute).where(
            PendingRecompute.account_id.in_(ids), PendingRecompute.since <= now
        )
    )
    return counts
