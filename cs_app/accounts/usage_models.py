"""Usage data pushed by the product: events (idempotent on their id) and daily metric values."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cs_app.db_types import UTCDateTime, utcnow
from cs_app.extensions import db

BIGINT_PK = BigInteger().with_variant(db.Integer, "sqlite")  # SQLite rowids are 64-bit anyway


class UsageEvent(db.Model):
    """One event the product sent.

    Two indexes, both cheap to keep at ingestion (a batch's events land on few pages of
    each: one account's events together, or one type's newest at the end):

    - (account, type, time) holds everything the per-account counts read, so the signals'
      counts come from the index alone in account order, and one account's events of one
      type (first-event checks, a catch-up of a few accounts) are one range;
    - (type, time) finds the events of one type across accounts (NPS, tickets, seats, an
      event rule's backtest), and as they were stored, so their rows are read in order.

    Nothing is indexed by time alone or led by the type and then the account: that index
    took a page per (type, account) of every batch and cost a third of ingestion, and SQLite
    chose the time index for the signals' 60 days and sorted ten million rows.
    """

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_account_type_at", "account_id", "event_type", "occurred_at"),
        Index("ix_usage_events_type_at", "event_type", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BIGINT_PK, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(120), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(60))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_ref: Mapped[str | None] = mapped_column(String(200))
    properties: Mapped[dict | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountActivity(db.Model):
    """First and last event and last login per account, kept current at ingestion so that
    "days since last login" never needs a scan of all history."""

    __tablename__ = "account_activity"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    first_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountUser(db.Model):
    """Every person (``user_ref``) an account's events named, with their newest event, kept
    current at ingestion: "active users in 30 days" then counts these rows instead of
    distinct values over a month of events (the costliest part of the signals).

    The count reads the primary key alone, in account order: SQLite keeps the rows in it
    (without rowid), PostgreSQL's carries ``last_seen_at`` along (INCLUDE), so the count is
    an index-only scan and not a fetch of millions of table rows in random order. No other
    index: ingestion updates these rows all the time."""

    __tablename__ = "account_users"
    __table_args__ = (
        PrimaryKeyConstraint("account_id", "user_ref", postgresql_include=["last_seen_at"]),
        {"sqlite_with_rowid": False},
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_ref: Mapped[str] = mapped_column(String(200))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AccountFeature(db.Model):
    """Every feature an account's ``feature_used`` events named, with the first and newest
    use, kept current at ingestion and stored like ``AccountUser``."""

    __tablename__ = "account_features"
    __table_args__ = (
        PrimaryKeyConstraint("account_id", "feature", postgresql_include=["last_used_at"]),
        {"sqlite_with_rowid": False},
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    feature: Mapped[str] = mapped_column(String(200))
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MetricValue(db.Model):
    """One value of a named metric for an account on a day; a later push for the same day
    replaces the earlier one."""

    __tablename__ = "metric_values"
    __table_args__ = (
        UniqueConstraint("account_id", "metric_key", "measured_on"),
        Index("ix_metric_values_key_day", "metric_key", "measured_on"),
    )

    id: Mapped[int] = mapped_column(BIGINT_PK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    metric_key: Mapped[str] = mapped_column(String(80))
    measured_on: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)


class AccountSignals(db.Model):
    """Every signal of one account as of ``computed_at``: one wide row per account, rebuilt
    set-wise by ``accounts.signals.compute_signals`` so scoring and rules read one table.

    ``*_on`` columns date the values that age (NPS, support sentiment) for freshness checks.
    """

    __tablename__ = "account_signals"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    days_since_last_login: Mapped[int | None]
    logins_7d: Mapped[int | None]
    logins_30d: Mapped[int | None]
    active_users_30d: Mapped[int | None]
    features_used_30d: Mapped[int | None]
    usage_30d: Mapped[int | None]
    usage_change_pct: Mapped[float | None]
    quota_used_pct: Mapped[float | None]
    seats_purchased: Mapped[int | None]
    seats_used: Mapped[int | None]
    seat_utilization_pct: Mapped[float | None]
    seats_added_30d: Mapped[int | None]
    open_tickets: Mapped[int | None]
    support_sentiment: Mapped[str | None] = mapped_column(String(20))
    support_sentiment_on: Mapped[date | None]
    last_nps: Mapped[int | None]
    nps_category: Mapped[str | None] = mapped_column(String(20))
    last_nps_on: Mapped[date | None]
    health_score: Mapped[float | None]
    health_band: Mapped[str | None] = mapped_column(String(20))
    health_change_30d: Mapped[float | None]
    days_to_renewal: Mapped[int | None]
    account_age_days: Mapped[int | None]
    trial_days_left: Mapped[int | None]
    lifecycle_stage: Mapped[str | None] = mapped_column(String(20))
    segment: Mapped[str | None] = mapped_column(String(20))
    arr: Mapped[int | None] = mapped_column(BigInteger)
    open_high_risks: Mapped[int | None]
    overdue_actions: Mapped[int | None]
    overdue_milestones: Mapped[int | None]
    days_since_sponsor_contact: Mapped[int | None]
    champion_departed: Mapped[bool | None]
    plan_review_overdue: Mapped[bool | None]
    feature_gate_hits_7d: Mapped[int | None]
    upgrade_intent_open: Mapped[bool | None]
