"""Write audit events; callers pass plain JSON-able before/after dictionaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from cs_app.audit.models import AuditEvent
from cs_app.extensions import db


def record(
    entity_type: str,
    entity_id: Any,
    action: str,
    *,
    user,
    now: datetime,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=now,
        user_id=user.id if user else None,
        entity_type=entity_type,
        entity_id=str(entity_id),
        action=action,
        before=before,
        after=after,
    )
    db.session.add(event)
    db.session.flush()
    return event


def events_for(entity_type: str, entity_id: Any, limit: int = 100) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
