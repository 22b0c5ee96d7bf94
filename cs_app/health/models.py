"""Scorecards (versioned), their measures, daily snapshots and manual overrides."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cs_app.auth.models import User
from cs_app.db_types import UTCDateTime, utcnow
from cs_app.extensions import db


class Scorecard(db.Model):
    """A named health model for a segment (or every account when ``segment`` is empty)."""

    __tablename__ = "scorecards"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[ScorecardVersion]] = relationship(
        back_populates="scorecard",
        order_by="ScorecardVersion.number.desc()",
        lazy="select",
    )

    @property
    def current_version(self) -> ScorecardVersion | None:
        """The newest version is the one in force; older ones stay for history and backtests."""
        return self.versions[0] if self.versions else None


class ScorecardVersion(db.Model):
    """An immutable version of a scorecard: saving a change makes a new one."""

    __tablename__ = "scorecard_versions"
    __table_args__ = (UniqueConstraint("scorecard_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    healthy_min: Mapped[float] = mapped_column(Float, default=70.0)
    at_risk_min: Mapped[float] = mapped_column(Float, default=40.0)
    coverage_floor: Mapped[float] = mapped_column(Float, default=0.5)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    scorecard: Mapped[Scorecard] = relationship(back_populates="versions", lazy="joined")
    measures: Mapped[list[ScorecardMeasure]] = relationship(
        back_populates="version",
        order_by="ScorecardMeasure.position",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    created_by: Mapped[User | None] = relationship(lazy="joined")


class ScorecardMeasure(db.Model):
    __tablename__ = "scorecard_measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("scorecard_versions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(200))
    signal: Mapped[str] = mapped_column(String(80))
    weight: Mapped[float] = mapped_column(Float)
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    healthy: Mapped[float | None] = mapped_column(Float)
    critical: Mapped[float | None] = mapped_column(Float)
    categories: Mapped[dict | None] = mapped_column(JSON)
    freshness_days: Mapped[int | None] = mapped_column(Integer)

    version: Mapped[ScorecardVersion] = relationship(back_populates="measures")


class HealthSnapshot(db.Model):
    """One account's health on one day; a recompute the same day replaces it."""

    __tablename__ = "health_snapshots"
    __table_args__ = (
        UniqueConstraint("account_id", "day"),
        Index("ix_health_snapshots_day_band", "day", "band"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    scorecard_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("scorecard_versions.id", ondelete="SET NULL")
    )
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20))
    coverage: Mapped[float] = mapped_column(Float)
    computed_score: Mapped[float | None] = mapped_column(Float)
    computed_band: Mapped[str] = mapped_column(String(20))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    measures: Mapped[list | None] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HealthOverride(db.Model):
    """A person's judgement over the computed score: band and/or score, a reason, an expiry."""

    __tablename__ = "health_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    band: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship(lazy="joined")
