"""The dashboard's view of trigger rules and CSM pools: rule firings per week by kind, routing
SLA attainment per week, the queue right now, and open items and SLA breaches per assignee.

Grouped statements over firings and queue items joined to the accounts in scope (the same
filters as every other widget); nothing loops over accounts in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import case, func, select

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.sql import to_date
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.rules.models import RULE_KINDS, Rule, RuleFiring

OPEN_STATUSES = ("open", "claimed")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass
class FiringWeeks:
    weeks: list[date]
    by_kind: dict[str, list[int]]  # kind → firings per week

    @property
    def total(self) -> int:
        return sum(sum(values) for values in self.by_kind.values())


def firings_per_week(filters, weeks: list[date]) -> FiringWeeks:
    """Firings of every rule per week (weeks start on the given Mondays), by rule kind."""
    day = to_date(RuleFiring.fired_at)
    statement = (
        select(Rule.kind, day, func.count(RuleFiring.id))
        .join(Rule, Rule.id == RuleFiring.rule_id)
        .join(Account, Account.id == RuleFiring.account_id)
        .where(RuleFiring.fired_at >= _start_of(weeks[0]), *filters.where())
        .group_by(Rule.kind, day)
    )
    by_kind = {kind: [0] * len(weeks) for kind in RULE_KINDS}
    for kind, fired_on, count in db.session.execute(statement):
        index = min((_as_date(fired_on) - weeks[0]).days // 7, len(weeks) - 1)
        by_kind.setdefault(kind, [0] * len(weeks))[index] += count
    return FiringWeeks(weeks=weeks, by_kind=by_kind)


@dataclass
class SlaWeek:
    start: date
    resolved: int = 0
    within_sla: int = 0

    @property
    def attainment(self) -> float | None:
        return self.within_sla / self.resolved if self.resolved else None


@dataclass
class RoutingSummary:
    weeks: list[SlaWeek]
    open_items: int
    unassigned: int
    breached: int

    @property
    def resolved(self) -> int:
        return sum(week.resolved for week in self.weeks)

    @property
    def attainment(self) -> float | None:
        within = sum(week.within_sla for week in self.weeks)
        return within / self.resolved if self.resolved else None


def routing_summary(filters, weeks: list[date]) -> RoutingSummary:
    """Per week, the queue items resolved and how many of them within their SLA; and the
    queue now: open items, unassigned ones and those the ``check-slas`` job flagged."""
    day = to_date(QueueItem.resolved_at)
    resolved = (
        select(
            day,
            func.count(QueueItem.id),
            func.sum(case((QueueItem.resolved_at <= QueueItem.sla_due_at, 1), else_=0)),
        )
        .join(Account, Account.id == QueueItem.account_id)
        .where(
            QueueItem.status == "resolved",
            QueueItem.resolved_at >= _start_of(weeks[0]),
            *filters.where(),
        )
        .group_by(day)
    )
    rows = [SlaWeek(start) for start in weeks]
    for resolved_on, count, within in db.session.execute(resolved):
        row = rows[min((_as_date(resolved_on) - weeks[0]).days // 7, len(rows) - 1)]
        row.resolved += count
        row.within_sla += int(within or 0)
    open_items, unassigned, breached = db.session.execute(
        select(
            func.count(QueueItem.id),
            func.coalesce(func.sum(case((QueueItem.assignee_id.is_(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((QueueItem.breached_at.is_not(None), 1), else_=0)), 0),
        )
        .join(Account, Account.id == QueueItem.account_id)
        .where(QueueItem.status.in_(OPEN_STATUSES), *filters.where())
    ).one()
    return RoutingSummary(
        weeks=rows, open_items=open_items, unassigned=int(unassigned), breached=int(breached)
    )


@dataclass
class AssigneeLoad:
    open_items: int = 0
    breached: int = 0


@dataclass
class QueueLoads:
    by_user: dict[int, AssigneeLoad] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


def queue_loads(filters) -> QueueLoads:
    """Open queue items and flagged SLA breaches per assignee, for the CSM workload table."""
    statement = (
        select(
            QueueItem.assignee_id,
            User.name,
            func.count(QueueItem.id),
            func.sum(case((QueueItem.breached_at.is_not(None), 1), else_=0)),
        )
        .join(User, User.id == QueueItem.assignee_id)
        .join(Account, Account.id == QueueItem.account_id)
        .where(QueueItem.status.in_(OPEN_STATUSES), *filters.where())
        .group_by(QueueItem.assignee_id, User.name)
    )
    loads = QueueLoads()
    for user_id, name, count, breached in db.session.execute(statement):
        loads.by_user[user_id] = AssigneeLoad(open_items=count, breached=int(breached or 0))
        loads.names[user_id] = name
    return loads
