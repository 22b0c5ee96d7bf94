"""CSM pools, their members and their queues: routed firings become queue items in a pool."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.db_types import UTCDateTime, utcnow
from cs_app.extensions import db
from cs_app.triggers.rules.models import Rule

PRIORITIES = {"high": "High", "normal": "Normal", "low": "Low"}
QUEUE_STATUSES = {"open": "Open", "claimed": "Claimed", "resolved": "Resolved"}
OUTCOMES = {
    "saved": "Saved",
    "churned": "Churned",
    "expanded": "Expanded",
    "no_action": "No action",
}


class CsmPool(db.Model):
    __tablename__ = "csm_pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    strategy: Mapped[str] = mapped_column(String(20), default="least_loaded")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    default_sla_hours: Mapped[int] = mapped_column(Integer, default=24)
    last_assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lead: Mapped[User | None] = relationship(foreign_keys=[lead_id], lazy="joined")
    members: Mapped[list[PoolMember]] = relationship(
        back_populates="pool",
        order_by="PoolMember.position",
        lazy="selectin",
        cascade="all, delete-orphan",
    )


class PoolMember(db.Model):
    __tablename__ = "pool_members"
    __table_args__ = (UniqueConstraint("pool_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("csm_pools.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int] = mapped_column(Integer, default=20)  # maximum open items
    segments: Mapped[list] = mapped_column(JSON, default=list)
    away: Mapped[bool] = mapped_column(Boolean, default=False)

    pool: Mapped[CsmPool] = relationship(back_populates="members")
    user: Mapped[User] = relationship(lazy="joined")


class QueueItem(db.Model):
    """A routed account waiting for a person: open → claimed → resolved (or reassigned)."""

    __tablename__ = "queue_items"
    __table_args__ = (
        Index("ix_queue_items_pool_status", "pool_id", "status", "sla_due_at"),
        Index("ix_queue_items_assignee_status", "assignee_id", "status"),
        Index("ix_queue_items_status_sla", "status", "sla_due_at"),
        # one open (or claimed) item per account and pool: a second rule's reason joins it
        Index(
            "uq_queue_items_open_account",
            "pool_id",
            "account_id",
            unique=True,
            sqlite_where=text("status IN ('open', 'claimed')"),
            postgresql_where=text("status IN ('open', 'claimed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("csm_pools.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    firing_id: Mapped[int | None] = mapped_column(
        ForeignKey("rule_firings.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    reason: Mapped[dict | None] = mapped_column(JSON)  # the matched signal values
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set by check-slas
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    pool: Mapped[CsmPool] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="joined")
    rule: Mapped[Rule | None] = relationship(lazy="select")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    reasons: Mapped[list[QueueItemReason]] = relationship(
        back_populates="item",
        order_by="QueueItemReason.id",
        lazy="selectin",  # one query per page of items: the queues list every reason
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def reason_list(self) -> list[QueueItemReason | dict]:
        """Why the item is open, one entry per rule that fired for the account: its reason
        rows, or for an item made before reasons were listed, its own title and reason."""
        if self.reasons:
            return list(self.reasons)
        return [{"title": self.title, "matched": self.reason or {}, "snoozed_until": None}]


class QueueItemReason(db.Model):
    """One rule firing behind a queue item. The first is the one that opened the item; each
    later rule that fires for the same account while the item is open adds a row instead of a
    second item. Resolving the item snoozes each row's rule for the account until
    ``snoozed_until`` (the rule's ``snooze_days`` later); reopening the item ends the snooze."""

    __tablename__ = "queue_item_reasons"
    __table_args__ = (
        Index("ix_queue_item_reasons_item", "queue_item_id"),
        Index("ix_queue_item_reasons_rule_snooze", "rule_id", "snoozed_until"),
        Index("ix_queue_item_reasons_firing", "firing_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_item_id: Mapped[int] = mapped_column(ForeignKey("queue_items.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    firing_id: Mapped[int | None] = mapped_column(
        ForeignKey("rule_firings.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(300))  # the rule's name when it fired
    matched: Mapped[dict | None] = mapped_column(JSON)  # the matched signal values
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    item: Mapped[QueueItem] = relationship(back_populates="reasons")
