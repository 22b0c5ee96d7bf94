"""Success plans and their components.

Every component row carries a ``version`` that SQLAlchemy bumps on each update, so two people
editing the same row cannot silently overwrite each other; the plan has its own ``version``
that bumps on any change to the plan or its components (the API's optimistic lock).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from cs_app.accounts.models import Account, Contact
from cs_app.auth.models import User
from cs_app.db_types import UTCDateTime, utcnow
from cs_app.extensions import db

PLAN_TYPES = {
    "high-touch": "High-touch",
    "low-touch": "Low-touch",
    "hybrid": "Hybrid",
    "joint": "Joint",
}
PLAN_STATUSES = {
    "draft": "Draft",
    "active": "Active",
    "completed": "Completed",
    "archived": "Archived",
}
REVIEW_CADENCES = {"weekly": "Weekly", "monthly": "Monthly", "quarterly": "Quarterly"}
OUTCOME_STATUSES = {
    "on_track": "On track",
    "at_risk": "At risk",
    "achieved": "Achieved",
    "missed": "Missed",
}
MILESTONE_PHASES = ("implementation", "adoption", "value", "expansion")
MILESTONE_STATUSES = {
    "planned": "Planned",
    "in_progress": "In progress",
    "done": "Done",
    "missed": "Missed",
}
RISK_CATEGORIES = {
    "executive_sponsor_departure": "Executive sponsor departure",
    "budget_cuts": "Budget cuts",
    "competing_priorities": "Competing internal priorities",
    "integration_complexity": "Integration complexity",
    "single_threaded_champion": "Single-threaded champion",
    "adoption_stall": "Adoption stall",
    "other": "Other",
}
LEVELS = {"high": "High", "medium": "Medium", "low": "Low"}
RISK_STATUSES = {
    "open": "Open",
    "mitigating": "Mitigating",
    "closed": "Closed",
    "realized": "Realized",
}
ACTION_STATUSES = {"open": "Open", "done": "Done", "blocked": "Blocked"}
STAKEHOLDER_ROLES = {
    "executive_sponsor": "Executive sponsor",
    "champion": "Champion / day-to-day contact",
    "technical_admin": "Technical admin",
    "end_user": "End user",
    "billing": "Billing",
    "csm": "CSM",
    "implementation_lead": "Implementation lead",
    "support_escalation": "Support escalation contact",
    "executive_owner": "Internal executive owner",
    "other": "Other",
}


class OwnedMixin:
    """A named individual owns the row: exactly one of an internal user or a contact."""

    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    owner_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT")
    )

    @declared_attr
    def owner_user(cls) -> Mapped[User | None]:
        return relationship(User, foreign_keys=[cls.owner_user_id], lazy="joined")

    @declared_attr
    def owner_contact(cls) -> Mapped[Contact | None]:
        return relationship(Contact, foreign_keys=[cls.owner_contact_id], lazy="joined")

    @declared_attr.directive
    def __table_args__(cls):
        return (
            CheckConstraint(
                "(owner_user_id IS NULL) <> (owner_contact_id IS NULL)", name="one_owner"
            ),
        )

    @property
    def owner_name(self) -> str:
        if self.owner_user is not None:
            return self.owner_user.name
        if self.owner_contact is not None:
            return self.owner_contact.name
        return ""

    @property
    def owner_ref(self) -> str:
        """The owner as the select fields spell it: ``user:ID`` or ``contact:ID``."""
        if self.owner_user_id:
            return f"user:{self.owner_user_id}"
        if self.owner_contact_id:
            return f"contact:{self.owner_contact_id}"
        return ""


class Plan(db.Model):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    plan_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    review_cadence: Mapped[str] = mapped_column(String(20), default="monthly")
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    next_review_on: Mapped[date | None] = mapped_column(Date, index=True)
    template_key: Mapped[str | None] = mapped_column(String(60))
    summary: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __mapper_args__ = {"version_id_col": version}

    account: Mapped[Account] = relationship(lazy="joined")
    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined")
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id], lazy="joined")
    outcomes: Mapped[list[Outcome]] = relationship(
        back_populates="plan",
        order_by="Outcome.id",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="plan",
        order_by="(Milestone.target_date, Milestone.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    stakeholders: Mapped[list[Stakeholder]] = relationship(
        back_populates="plan",
        order_by="Stakeholder.id",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    risks: Mapped[list[Risk]] = relationship(
        back_populates="plan", order_by="Risk.id", lazy="selectin", cascade="all, delete-orphan"
    )
    actions: Mapped[list[ActionItem]] = relationship(
        back_populates="plan",
        order_by="(ActionItem.due_date, ActionItem.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )
    reviews: Mapped[list[Review]] = relationship(
        back_populates="plan",
        order_by="(Review.held_on.desc(), Review.id.desc())",
        lazy="selectin",
        cascade="all, delete-orphan",
    )


class Outcome(db.Model):
    __tablename__ = "plan_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(30))
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float | None] = mapped_column(Float)
    current_value: Mapped[float | None] = mapped_column(Float)
    target_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="on_track")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    plan: Mapped[Plan] = relationship(back_populates="outcomes")
    measurements: Mapped[list[OutcomeMeasurement]] = relationship(
        back_populates="outcome",
        order_by="OutcomeMeasurement.measured_on",
        lazy="selectin",
        cascade="all, delete-orphan",
    )


class OutcomeMeasurement(db.Model):
    """A value of an outcome's metric on a day: the outcome's progress over time."""

    __tablename__ = "plan_outcome_measurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(
        ForeignKey("plan_outcomes.id", ondelete="CASCADE"), index=True
    )
    measured_on: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)

    outcome: Mapped[Outcome] = relationship(back_populates="measurements")


class Milestone(OwnedMixin, db.Model):
    __tablename__ = "plan_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    target_date: Mapped[date | None] = mapped_column(Date)
    success_criteria: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    completed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    plan: Mapped[Plan] = relationship(back_populates="milestones")


class Stakeholder(db.Model):
    """A person on the plan's stakeholder map: a customer contact or an internal owner.

    For contacts, influence, engagement and last contact are the contact's own (one truth per
    person); internal owners carry only their role on this plan.
    """

    __tablename__ = "plan_stakeholders"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (contact_id IS NULL)", name="one_person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30))
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    plan: Mapped[Plan] = relationship(back_populates="stakeholders")
    contact: Mapped[Contact | None] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(lazy="joined")

    @property
    def person_name(self) -> str:
        return self.contact.name if self.contact else self.user.name

    @property
    def person_ref(self) -> str:
        return f"contact:{self.contact_id}" if self.contact_id else f"user:{self.user_id}"


class Risk(OwnedMixin, db.Model):
    __tablename__ = "plan_risks"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), default="other")
    likelihood: Mapped[str] = mapped_column(String(10), default="medium")
    impact: Mapped[str] = mapped_column(String(10), default="medium")
    mitigation: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    plan: Mapped[Plan] = relationship(back_populates="risks")


class ActionItem(OwnedMixin, db.Model):
    __tablename__ = "plan_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    milestone_id: Mapped[int | None] = mapped_column(
        ForeignKey("plan_milestones.id", ondelete="SET NULL")
    )
    completed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    plan: Mapped[Plan] = relationship(back_populates="actions")
    milestone: Mapped[Milestone | None] = relationship(lazy="joined")


class Review(db.Model):
    __tablename__ = "plan_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    attendees: Mapped[str] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    plan: Mapped[Plan] = relationship(back_populates="reviews")
    recorded_by: Mapped[User | None] = relationship(lazy="joined")


class PlanChange(db.Model):
    """One changed field of a plan or a component: who, when, what, old → new."""

    __tablename__ = "plan_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    component: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[int | None] = mapped_column(Integer)
    item_label: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(10))
    field: Mapped[str | None] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User | None] = relationship(lazy="joined")


class PlanShareLink(db.Model):
    """A read-only link for the customer. Only the token's SHA-256 is stored."""

    __tablename__ = "plan_share_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlanTemplate(db.Model):
    """A plan blueprint; ``content`` holds milestones, outcomes, risks and actions as JSON
    with dates given as day offsets from the account's contract start."""

    __tablename__ = "plan_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    plan_type: Mapped[str] = mapped_column(String(20))
    review_cadence: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    built_in: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
