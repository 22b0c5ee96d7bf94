"""Trigger rules and their firings, CSM pools and their queues, touchpoint templates and
touchpoints, and in-app alerts.

A rule's ``condition`` is the JSON tree of ``triggers.rules``; its ``actions`` a list of action
objects (``triggers.actions``). A firing records the signal values that matched. Routed
firings become queue items in a pool; scheduled touchpoints are delivered by the
``deliver-touchpoints`` job, which claims due rows so that no message is sent twice.
"""

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

RULE_KINDS = {
    "risk": "Risk",
    "expansion": "Expansion",
    "lifecycle": "Lifecycle",
    "renewal": "Renewal",
}
RULE_MODES = {"scheduled": "Scheduled (every evaluation)", "event": "On an event"}
CHANNELS = {
    "email": "Email",
    "in_app": "In-app",
    "internal_alert": "Internal alert",
    "call_task": "Call task",
}
RECIPIENTS = {
    "primary_contact": "Primary contact",
    "executive_sponsor": "Executive sponsor",
    "owning_csm": "Owning CSM",
    "pool_assignee": "Pool assignee",
}
PRIORITIES = {"high": "High", "normal": "Normal", "low": "Low"}
QUEUE_STATUSES = {"open": "Open", "claimed": "Claimed", "resolved": "Resolved"}
OUTCOMES = {
    "saved": "Saved",
    "churned": "Churned",
    "expanded": "Expanded",
    "no_action": "No action",
}
TOUCHPOINT_STATUSES = {
    "scheduled": "Scheduled",
    "sent": "Sent",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "dead": "Dead",
}


class Rule(db.Model):
    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(80), unique=True)  # shipped defaults only
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # RULE_KINDS
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str] = mapped_column(String(20), default="scheduled")  # RULE_MODES
    # event rules: the event type, optional property filters {"severity": ["high"]}, and
    # whether only the account's first event of that type counts ("first feature activated")
    event_type: Mapped[str | None] = mapped_column(String(60), index=True)
    event_properties: Mapped[dict | None] = mapped_column(JSON)
    first_event_only: Mapped[bool] = mapped_column(Boolean, default=False)
    condition: Mapped[dict] = mapped_column(JSON)
    actions: Mapped[list] = mapped_column(JSON, default=list)
    once_policy: Mapped[str] = mapped_column(String(30), default="while_open")
    cooldown_days: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    created_by: Mapped[User | None] = relationship(lazy="joined")


class RuleFiring(db.Model):
    """One rule matching one account. Open until its queue item is resolved or, for a firing
    without a queue item, until the condition stops matching; a partial unique index keeps at
    most one open firing per rule and account even when two evaluations race."""

    __tablename__ = "rule_firings"
    __table_args__ = (
        Index("ix_rule_firings_rule_account", "rule_id", "account_id", "fired_at"),
        Index("ix_rule_firings_account", "account_id", "fired_at"),
        Index(
            "uq_rule_firings_open",
            "rule_id",
            "account_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open, closed
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(80))  # "schedule" or "event:<type>"
    event_id: Mapped[str | None] = mapped_column(String(100))
    matched: Mapped[dict | None] = mapped_column(JSON)  # signal → value at firing time
    actions_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    action_results: Mapped[list | None] = mapped_column(JSON)  # what each action did

    rule: Mapped[Rule] = relationship(lazy="joined")
    account: Mapped[Account] = relationship(lazy="select")


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


class TouchpointTemplate(db.Model):
    """Subject and body in Jinja, rendered in a sandbox with account, contact and CSM fields."""

    __tablename__ = "touchpoint_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))  # CHANNELS
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Touchpoint(db.Model):
    """A scheduled message or task. ``message_id`` is made once, when it is scheduled, and
    every send and re-send carries it, so a receiver can drop a duplicate; ``claimed_by`` and
    ``claimed_until`` are the delivery lease of the worker that is sending it."""

    __tablename__ = "touchpoints"
    __table_args__ = (
        Index("ix_touchpoints_status_due", "status", "due_at"),
        # what the delivery claim reads: due rows by their next attempt
        Index("ix_touchpoints_status_next", "status", "next_attempt_at"),
        Index("ix_touchpoints_account", "account_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    firing_id: Mapped[int | None] = mapped_column(
        ForeignKey("rule_firings.id", ondelete="SET NULL"), index=True
    )
    queue_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("queue_items.id", ondelete="SET NULL")
    )
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("touchpoint_templates.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(20))
    recipient_kind: Mapped[str] = mapped_column(String(30))  # RECIPIENTS
    recipient_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    recipient_email: Mapped[str | None] = mapped_column(String(255))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(300))  # as rendered when sent
    body: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(lazy="joined")
    template: Mapped[TouchpointTemplate | None] = relationship(lazy="joined")
    rule: Mapped[Rule | None] = relationship(lazy="select")


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
