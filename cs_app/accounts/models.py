"""Accounts, their lifecycle stages and their contacts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cs_app.auth.models import User
from cs_app.db_types import UTCDateTime, utcnow
from cs_app.extensions import db

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
ENGAGEMENT_MODELS = ("high-touch", "low-touch", "hybrid", "joint")
LIFECYCLE_STAGES = (
    "onboarding",
    "activation",
    "adoption",
    "optimization",
    "renewal",
    "expansion",
    "churned",
)
CONTACT_ROLES = {
    "executive_sponsor": "Executive sponsor",
    "champion": "Champion / day-to-day contact",
    "technical_admin": "Technical admin",
    "end_user": "End user",
    "billing": "Billing",
}
INFLUENCE_LEVELS = {
    "decision_maker": "Decision maker",
    "champion": "Champion",
    "influencer": "Influencer",
    "user": "User",
}
ENGAGEMENT_LEVELS = {"high": "High", "medium": "Medium", "low": "Low"}
CONTACT_STATUSES = {"active": "Active", "departed": "Departed"}


# The accounts list's indexes. Name then external id (unique) end every sort of the list, so
# an index that leads with the sort column and goes on with name and external id delivers the
# whole order and needs no sorting step; with the search (name, external id) in it too, a page
# is read straight off it. A filter is found through an index that leads with the filtered
# column and carries every other column the list filters or sorts on (LIST_COLUMNS), so that
# the count and the page are read from that index alone, never from the table's wide rows: on
# SQLite, visiting a row costs as much as reading some hundred index entries, which is what
# made filtered and sorted pages slow at 100,000 accounts.
LIST_COLUMNS = (
    "name",
    "external_id",
    "segment",
    "lifecycle_stage",
    "engagement_model",
    "csm_id",
    "arr_minor",
    "renewal_date",
)


def _sort_index(name: str, column: str) -> Index:
    return Index(name, *dict.fromkeys((column, "name", "external_id")))


def _filter_index(name: str, *first: str) -> Index:
    return Index(name, *first, *(column for column in LIST_COLUMNS if column not in first))


def _postgresql_only(index: Index) -> Index:
    """An index only PostgreSQL gets; ``cs_app.sql.for_this_dialect`` keeps autogenerate from
    reporting it missing on SQLite."""
    index.info["only_on"] = "postgresql"
    return index.ddl_if(dialect="postgresql")


class Account(db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        _sort_index("ix_accounts_list_name", "name"),
        _sort_index("ix_accounts_list_arr", "arr_minor"),
        _sort_index("ix_accounts_list_renewal", "renewal_date"),
        _filter_index("ix_accounts_list_segment", "segment"),
        _filter_index("ix_accounts_list_stage", "lifecycle_stage"),
        _filter_index("ix_accounts_list_engagement", "engagement_model"),
        _filter_index("ix_accounts_list_csm", "csm_id"),  # also serves the foreign key
        # a segment's accounts in a stage by ARR (say its renewals by value)
        _filter_index(
            "ix_accounts_list_segment_stage_arr", "segment", "lifecycle_stage", "arr_minor"
        ),
        # search: substring of the name or the external id, any case (ILIKE)
        _postgresql_only(
            Index(
                "ix_accounts_name_trgm",
                "name",
                postgresql_using="gin",
                postgresql_ops={"name": "gin_trgm_ops"},
            )
        ),
        _postgresql_only(
            Index(
                "ix_accounts_external_id_trgm",
                "external_id",
                postgresql_using="gin",
                postgresql_ops={"external_id": "gin_trgm_ops"},
            )
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(100))
    employees: Mapped[int | None] = mapped_column(Integer)
    segment: Mapped[str] = mapped_column(String(20), default="SMB")
    engagement_model: Mapped[str] = mapped_column(String(20), default="low-touch")
    arr_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    contract_start: Mapped[date | None] = mapped_column(Date)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    csm_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="onboarding")
    stage_entered_on: Mapped[date | None] = mapped_column(Date)
    product_plan: Mapped[str | None] = mapped_column(String(100))
    seats_purchased: Mapped[int | None] = mapped_column(Integer)
    trial_ends_on: Mapped[date | None] = mapped_column(Date)
    primary_use_case: Mapped[str | None] = mapped_column(Text)
    purchase_trigger: Mapped[str | None] = mapped_column(Text)
    previous_solutions: Mapped[str | None] = mapped_column(Text)
    strategic_priorities: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    csm: Mapped[User | None] = relationship(lazy="joined")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="account", order_by="Contact.name", lazy="select"
    )
    stages: Mapped[list[LifecycleStageEntry]] = relationship(
        order_by="LifecycleStageEntry.entered_on", lazy="select"
    )


class LifecycleStageEntry(db.Model):
    """The date an account entered each lifecycle stage: the journey so far."""

    __tablename__ = "lifecycle_stage_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(20))
    entered_on: Mapped[date] = mapped_column(Date)


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(30), default="end_user")
    influence: Mapped[str] = mapped_column(String(30), default="user")
    engagement: Mapped[str] = mapped_column(String(10), default="medium")
    last_contact_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")

    account: Mapped[Account] = relationship(back_populates="contacts", lazy="joined")

    @property
    def role_label(self) -> str:
        return CONTACT_ROLES.get(self.role, self.role)
