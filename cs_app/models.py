"""Imports every feature's models so that SQLAlchemy and Alembic see the whole schema."""

from cs_app.accounts.models import Account, Contact, LifecycleStageEntry
from cs_app.accounts.usage_models import (
    AccountActivity,
    AccountSignals,
    MetricValue,
    UsageEvent,
)
from cs_app.audit.models import AuditEvent
from cs_app.auth.models import ApiToken, LoginFailure, User
from cs_app.health.models import (
    HealthOverride,
    HealthSnapshot,
    Scorecard,
    ScorecardMeasure,
    ScorecardVersion,
)
from cs_app.jobs.models import JobRun, PendingRecompute, SchedulerLease
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
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.pools.models import CsmPool, PoolMember, QueueItem
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.touchpoints.models import Touchpoint, TouchpointTemplate

__all__ = [
    "Account",
    "AccountActivity",
    "AccountSignals",
    "ActionItem",
    "Alert",
    "ApiToken",
    "AuditEvent",
    "Contact",
    "CsmPool",
    "HealthOverride",
    "HealthSnapshot",
    "JobRun",
    "LifecycleStageEntry",
    "LoginFailure",
    "MetricValue",
    "Milestone",
    "Outcome",
    "OutcomeMeasurement",
    "PendingRecompute",
    "Plan",
    "PlanChange",
    "PlanShareLink",
    "PlanTemplate",
    "PoolMember",
    "QueueItem",
    "Review",
    "Risk",
    "Rule",
    "RuleFiring",
    "SchedulerLease",
    "Scorecard",
    "ScorecardMeasure",
    "ScorecardVersion",
    "Stakeholder",
    "Touchpoint",
    "TouchpointTemplate",
    "UsageEvent",
    "User",
]
