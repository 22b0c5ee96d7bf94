"""Imports every feature's models so that SQLAlchemy and Alembic see the whole schema."""

from cs_app.accounts.models import Account, Contact, LifecycleStageEntry
from cs_app.auth.models import ApiToken, LoginThrottle, User
from cs_app.plans.models import (
    ActionItem,
    Milestone,
    Outcome,
    OutcomeMeasurement,
    Plan,
    PlanChange,
    PlanShareLink,
    PlanTemplate,
    Review,
    Risk,
    Stakeholder,
)

__all__ = [
    "Account", "ActionItem", "ApiToken", "Contact", "LifecycleStageEntry", "LoginThrottle",
    "Milestone", "Outcome", "OutcomeMeasurement", "Plan", "PlanChange", "PlanShareLink",
    "PlanTemplate", "Review", "Risk", "Stakeholder", "User",
]
