"""Touchpoint templates and touchpoints: scheduled messages that the ``deliver-touchpoints``
job claims and sends, so that no message is sent twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cs_app.accounts.models import Account
from cs_app.db_types import UTCDateTime, utcnow
from cs_app.extensions import db
from cs_app.triggers.rules.models import Rule

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
TOUCHPOINT_STATUSES = {
    "scheduled": "Scheduled",
    "sent": "Sent",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "dead": "Dead",
}


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


class OutboxMessage(db.Model):
    """An email as it would have been sent, kept when no SMTP host is configured (a demo, a
    development machine): the ``deliver-touchpoints`` job writes it in place of the SMTP send,
    in the same transaction that marks its touchpoint sent, and admins read it at
    ``/admin/outbox``."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_touchpoint", "touchpoint_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("touchpoints.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(200))
    mail_from: Mapped[str] = mapped_column(Text)
    to: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text)  # one "Name: value" per line, as sent
    raw: Mapped[str] = mapped_column(Text)  # the whole message as SMTP would have carried it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
