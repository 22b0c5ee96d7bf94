"""Trigger rules and their firings.

A rule's ``condition`` is the JSON tree of ``triggers.rules.rules``; its ``actions`` a list of
action objects (``triggers.rules.actions``). A firing records the signal values that matched.
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
    false,
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
    # resolving a queue item this rule opened (or joined) stops the rule firing for that
    # account for this many days; churned accounts are skipped unless the rule targets them
    snooze_days: Mapped[int] = mapped_column(Integer, default=14, server_default=text("14"))
    include_churned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
