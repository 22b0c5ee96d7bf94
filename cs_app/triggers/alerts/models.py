"""In-app alerts: what a person must see (an unassigned queue item, an SLA breach, a dead
touchpoint, an internal-alert touchpoint, a review reminder)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.db_types import UTCDateTime
from cs_app.extensions import db


class Alert(db.Model):
    """Something a person must see in the app: an unassigned item, an SLA breach, a dead
    touchpoint, an internal-alert touchpoint, a review reminder."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_user_read", "user_id", "read_at", "created_at"),
        # one alert of a kind per subject, so a job that runs again alerts nobody twice
        UniqueConstraint("user_id", "kind", "dedupe_key", name="uq_alerts_dedupe"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    dedupe_key: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    queue_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("queue_items.id", ondelete="CASCADE")
    )
    touchpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("touchpoints.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="select")
    account: Mapped[Account | None] = relationship(lazy="joined")
