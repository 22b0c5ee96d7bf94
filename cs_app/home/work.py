""" "My work": what the signed-in user should look at today.

A CSM sees their own accounts, the plans that need a review, their overdue and upcoming
actions and milestones, their coming renewals, their queue (routed accounts assigned to them,
breached first) and their unread alerts. Leads, admins and viewers who own no accounts
see the same sections across the whole portfolio. Every section is one or two set-based
statements (a list with a limit and an aggregate), never a loop over accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from cs_app.accounts.models import Account, Contact
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.plans.models import ActionItem, Milestone, Plan
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.pools.models import CsmPool, QueueItem

ACTION_HORIZON_DAYS = 14
REVIEW_HORIZON_DAYS = 7
RENEWAL_HORIZON_DAYS = 90
LIST_LIMIT = 10
ALERT_LIMIT = 5
QUEUE_STATUSES = ("open", "claimed")
OPEN_PLAN_STATUSES = ("draft", "active")


@dataclass
class AccountLine:
    external_id: str
    name: str
    arr_minor: int
    currency: str
    renewal_date: date | None
    lifecycle_stage: str
    csm_name: str | None
    days_to_renewal: int | None = None


@dataclass
class PlanLine:
    id: int
    title: str
    status: str
    next_review_on: date | None
    account_name: str
    account_external_id: str
    owner_name: str
    overdue: bool = False


@dataclass
class ItemLine:
    """An action or a milestone with the plan and account it belongs to."""

    id: int
    title: str
    due: date
    status: str
    plan_id: int
    plan_title: str
    account_name: str
    account_external_id: str
    owner_name: str
    overdue: bool = False


@dataclass
class QueueLine:
    """A queue item assigned to the user, with the account and pool it belongs to."""

    id: int
    title: str
    status: str
    priority: str
    sla_due_at: datetime
    breached: bool
    account_name: str
    account_external_id: str
    pool_name: str


@dataclass
class AlertLine:
    id: int
    kind: str
    title: str
    created_at: datetime
    queue_item_id: int | None
    account_external_id: str | None


@dataclass
class Section:
    items: list = field(default_factory=list)
    total: int = 0
    overdue: int = 0

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.items))


@dataclass
class MyWork:
    user_id: int
    scope: str  # "mine": the user's own accounts; "portfolio": every account
    today: date
    account_count: int
    arr_by_currency: list[tuple[str, int]]
    accounts_without_active_plan: int
    accounts: list[AccountLine]
    plans_due: Section
    actions: Section
    milestones: Section
    renewals: Section
    renewal_arr_by_currency: list[tuple[str, int]]
    action_horizon_days: int = ACTION_HORIZON_DAYS
    review_horizon_days: int = REVIEW_HORIZON_DAYS
    renewal_horizon_days: int = RENEWAL_HORIZON_DAYS
    queue: Section = field(default_factory=Section)  # overdue: items past their SLA
    alerts: Section = field(default_factory=Section)  # unread alerts

    @property
    def mine(self) -> bool:
        return self.scope == "mine"


def _scope_for(user) -> str:
    if user.role == "csm":
        return "mine"
    owns = db.session.scalar(select(Account.id).where(Account.csm_id == user.id).limit(1))
    return "mine" if owns is not None else "portfolio"


def my_work(user, *, today: date, now: datetime) -> MyWork:
    """``now`` decides which queue items are past their SLA."""
    scope = _scope_for(user)
    mine = scope == "mine"
    account_scope = [Account.csm_id == user.id] if mine else []

    totals = db.session.execute(
        select(
            Account.currency,
            func.count(Account.id),
            func.coalesce(func.sum(Account.arr_minor), 0),
            func.coalesce(func.sum(case((Account.lifecycle_stage != "churned", 1), else_=0)), 0),
        )
        .where(*account_scope)
        .group_by(Account.currency)
        .order_by(Account.currency)
    ).all()
    account_count = sum(count for _, count, _, _ in totals)
    arr_by_currency = [(currency, int(arr)) for currency, _, arr, _ in totals]
    not_churned = sum(int(live) for _, _, _, live in totals)
    covered = (
        db.session.scalar(
            select(func.count(func.distinct(Plan.account_id)))
            .join(Account, Account.id == Plan.account_id)
            .where(*account_scope, Plan.status == "active", Account.lifecycle_stage != "churned")
        )
        or 0
    )
    without_plan = not_churned - covered

    renewals, renewal_arr = _renewals(account_scope, today)
    return MyWork(
        user_id=user.id,
        scope=scope,
        today=today,
        account_count=account_count,
        arr_by_currency=arr_by_currency,
        accounts_without_active_plan=without_plan,
        accounts=_accounts_by_renewal(account_scope, today),
        plans_due=_plans_due(user, mine, today),
        actions=_items(ActionItem, ActionItem.due_date, user, mine, today),
        milestones=_items(Milestone, Milestone.target_date, user, mine, today),
        renewals=renewals,
        renewal_arr_by_currency=renewal_arr,
        queue=_my_queue(user, now),
        alerts=_unread_alerts(user),
    )


def _account_lines(statement, today: date) -> list[AccountLine]:
    lines = [AccountLine(**row._mapping) for row in db.session.execute(statement)]
    for line in lines:
        if line.renewal_date is not None:
            line.days_to_renewal = (line.renewal_date - today).days
    return lines


def _account_columns():
    return select(
        Account.external_id,
        Account.name,
        Account.arr_minor,
        Account.currency,
        Account.renewal_date,
        Account.lifecycle_stage,
        User.name.label("csm_name"),
    ).outerjoin(User, User.id == Account.csm_id)


def _accounts_by_renewal(account_scope: list, today: date) -> list[AccountLine]:
    """The accounts whose renewal comes first (past-due renewals first of all)."""
    statement = (
        _account_columns()
        .where(*account_scope, Account.lifecycle_stage != "churned")
        .order_by(Account.renewal_date.asc().nulls_last(), Account.name)
        .limit(LIST_LIMIT)
    )
    return _account_lines(statement, today)


def _renewal_window(account_scope: list, today: date) -> list:
    return [
        *account_scope,
        Account.lifecycle_stage != "churned",
        Account.renewal_date >= today,
        Account.renewal_date <= today + timedelta(days=RENEWAL_HORIZON_DAYS),
    ]


def _renewals(account_scope: list, today: date) -> tuple[Section, list[tuple[str, int]]]:
    """The coming renewals, and their ARR per currency."""
    where = _renewal_window(account_scope, today)
    statement = (
        _account_columns()
        .where(*where)
        .order_by(Account.renewal_date, Account.arr_minor.desc(), Account.name)
        .limit(LIST_LIMIT)
    )
    items = _account_lines(statement, today)
    totals = db.session.execute(
        select(Account.currency, func.count(Account.id), func.sum(Account.arr_minor))
        .where(*where)
        .group_by(Account.currency)
        .order_by(Account.currency)
    ).all()
    section = Section(items=items, total=sum(count for _, count, _ in totals))
    return section, [(currency, int(arr or 0)) for currency, _, arr in totals]


def _plans_due(user, mine: bool, today: date) -> Section:
    horizon = today + timedelta(days=REVIEW_HORIZON_DAYS)
    owner = aliased(User)
    where = [
        Plan.status.in_(OPEN_PLAN_STATUSES),
        Plan.next_review_on.is_not(None),
        Plan.next_review_on <= horizon,
    ]
    if mine:
        where.append(or_(Plan.owner_id == user.id, Account.csm_id == user.id))
    statement = (
        select(
            Plan.id,
            Plan.title,
            Plan.status,
            Plan.next_review_on,
            Account.name.label("account_name"),
            Account.external_id.label("account_external_id"),
            owner.name.label("owner_name"),
        )
        .join(Account, Account.id == Plan.account_id)
        .join(owner, owner.id == Plan.owner_id)
        .where(*where)
        .order_by(Plan.next_review_on, Plan.id)
        .limit(LIST_LIMIT)
    )
    items = [PlanLine(**row._mapping) for row in db.session.execute(statement)]
    for item in items:
        item.overdue = item.next_review_on < today
    total, overdue = _count_with_overdue(
        select(func.count(Plan.id), _overdue_sum(Plan.next_review_on, today))
        .join(Account, Account.id == Plan.account_id)
        .where(*where)
    )
    return Section(items=items, total=total, overdue=overdue)


def _overdue_sum(due_column, today: date):
    return func.coalesce(func.sum(case((due_column < today, 1), else_=0)), literal(0))


def _count_with_overdue(statement) -> tuple[int, int]:
    total, overdue = db.session.execute(statement).one()
    return int(total or 0), int(overdue or 0)


def _items(model, due_column, user, mine: bool, today: date) -> Section:
    """Open actions (or milestones) due within the horizon or overdue: the user's own, or
    everyone's across the portfolio."""
    horizon = today + timedelta(days=ACTION_HORIZON_DAYS)
    finished = ("done",) if model is ActionItem else ("done", "missed")
    where = [model.status.not_in(finished), due_column.is_not(None), due_column <= horizon]
    if mine:
        where.append(model.owner_user_id == user.id)
    # pick the listed rows first from the items table alone, then fetch what they show
    listed = (
        select(model.id)
        .join(Plan, and_(Plan.id == model.plan_id, Plan.status.in_(OPEN_PLAN_STATUSES)))
        .where(*where)
        .order_by(due_column, model.id)
        .limit(LIST_LIMIT)
        .subquery()
    )
    owner_user = aliased(User)
    owner_contact = aliased(Contact)
    statement = (
        select(
            model.id,
            model.title,
            due_column.label("due"),
            model.status,
            Plan.id.label("plan_id"),
            Plan.title.label("plan_title"),
            Account.name.label("account_name"),
            Account.external_id.label("account_external_id"),
            func.coalesce(owner_user.name, owner_contact.name, "").label("owner_name"),
        )
        .join(listed, listed.c.id == model.id)
        .join(Plan, Plan.id == model.plan_id)
        .join(Account, Account.id == Plan.account_id)
        .outerjoin(owner_user, owner_user.id == model.owner_user_id)
        .outerjoin(owner_contact, owner_contact.id == model.owner_contact_id)
        .order_by(due_column, model.id)
    )
    items = [ItemLine(**row._mapping) for row in db.session.execute(statement)]
    for item in items:
        item.overdue = item.due < today
    total, overdue = _count_with_overdue(
        select(func.count(model.id), _overdue_sum(due_column, today))
        .join(Plan, and_(Plan.id == model.plan_id, Plan.status.in_(OPEN_PLAN_STATUSES)))
        .where(*where)
    )
    return Section(items=items, total=total, overdue=overdue)


def _my_queue(user, now: datetime) -> Section:
    """The user's open and claimed queue items, breached first, then by SLA: one statement,
    whose window totals give the count and the breached count."""
    breached = or_(QueueItem.breached_at.is_not(None), QueueItem.sla_due_at < now)
    is_breached = case((breached, 1), else_=0)
    statement = (
        select(
            QueueItem.id,
            QueueItem.title,
            QueueItem.status,
            QueueItem.priority,
            QueueItem.sla_due_at,
            is_breached.label("breached"),
            Account.name.label("account_name"),
            Account.external_id.label("account_external_id"),
            CsmPool.name.label("pool_name"),
            func.count().over().label("total"),
            func.sum(is_breached).over().label("breached_total"),
        )
        .join(Account, Account.id == QueueItem.account_id)
        .join(CsmPool, CsmPool.id == QueueItem.pool_id)
        .where(QueueItem.assignee_id == user.id, QueueItem.status.in_(QUEUE_STATUSES))
        .order_by(is_breached.desc(), QueueItem.sla_due_at, QueueItem.id)
        .limit(LIST_LIMIT)
    )
    rows = db.session.execute(statement).all()
    items = [
        QueueLine(**{k: v for k, v in row._mapping.items() if k not in ("total", "breached_total")})
        for row in rows
    ]
    for item in items:
        item.breached = bool(item.breached)
    if not rows:
        return Section()
    return Section(items=items, total=int(rows[0].total), overdue=int(rows[0].breached_total or 0))


def _unread_alerts(user) -> Section:
    """The newest unread alerts and, by a window count, how many are unread in all."""
    rows = db.session.execute(
        select(
            Alert.id,
            Alert.kind,
            Alert.title,
            Alert.created_at,
            Alert.queue_item_id,
            Account.external_id.label("account_external_id"),
            func.count().over().label("total"),
        )
        .outerjoin(Account, Account.id == Alert.account_id)
        .where(Alert.user_id == user.id, Alert.read_at.is_(None))
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(ALERT_LIMIT)
    ).all()
    items = [AlertLine(**{k: v for k, v in row._mapping.items() if k != "total"}) for row in rows]
    return Section(items=items, total=int(rows[0].total) if rows else 0)
