"""Read-side queries for the account pages: the filtered, sorted, paged list and the choices
the forms offer. One statement for a page of rows and one for the count, whatever the size of
the portfolio."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

from sqlalchemy import case, exists, func, select

from cs_app.accounts.models import ENGAGEMENT_MODELS, LIFECYCLE_STAGES, SEGMENTS, Account
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.plans.models import PLAN_STATUSES, Plan, PlanTemplate

UNASSIGNED = "none"
SORTS = ("name", "arr", "renewal", "stage", "segment", "csm")
STAGE_ORDER = case({stage: index for index, stage in enumerate(LIFECYCLE_STAGES)},
                   value=Account.lifecycle_stage, else_=len(LIFECYCLE_STAGES))
SEGMENT_ORDER = case({segment: index for index, segment in enumerate(SEGMENTS)},
                     value=Account.segment, else_=len(SEGMENTS))


@dataclass
class AccountFilters:
    """What the list shows; unknown values are dropped so a stale link still works."""

    q: str = ""
    segment: str = ""
    stage: str = ""
    csm: str = ""
    engagement: str = ""
    sort: str = "name"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> AccountFilters:
        def pick(name: str, allowed) -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""

        csm = (args.get("csm") or "").strip()
        if csm != UNASSIGNED and not csm.isdigit():
            csm = ""
        page = args.get("page", "1")
        sort = args.get("sort", "name")
        return cls(
            q=(args.get("q") or "").strip()[:200],
            segment=pick("segment", SEGMENTS),
            stage=pick("stage", LIFECYCLE_STAGES),
            csm=csm,
            engagement=pick("engagement", ENGAGEMENT_MODELS),
            sort=sort if sort in SORTS else "name",
            direction="desc" if args.get("dir") == "desc" else "asc",
            page=max(1, int(page)) if str(page).isdigit() else 1,
        )

    @property
    def filtering(self) -> bool:
        return bool(self.q or self.segment or self.stage or self.csm or self.engagement)

    def filter_args(self) -> dict[str, str]:
        """The query-string arguments that narrow the list (not sort or page)."""
        names = ("q", "segment", "stage", "csm", "engagement")
        return {name: getattr(self, name) for name in names if getattr(self, name)}

    def link_args(self) -> dict[str, str]:
        """Arguments kept by sort headers and the pager."""
        return {**self.filter_args(), "sort": self.sort, "dir": self.direction}


@dataclass
class AccountRow:
    id: int
    external_id: str
    name: str
    segment: str
    engagement_model: str
    lifecycle_stage: str
    arr_minor: int
    currency: str
    renewal_date: object
    csm_name: str | None
    has_active_plan: bool


@dataclass
class AccountPage:
    rows: list[AccountRow]
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def _where(filters: AccountFilters) -> list:
    clauses = []
    if filters.q:
        term = filters.q.lower()
        clauses.append(
            func.lower(Account.name).contains(term, autoescape=True)
            | func.lower(Account.external_id).contains(term, autoescape=True)
        )
    if filters.segment:
        clauses.append(Account.segment == filters.segment)
    if filters.stage:
        clauses.append(Account.lifecycle_stage == filters.stage)
    if filters.engagement:
        clauses.append(Account.engagement_model == filters.engagement)
    if filters.csm == UNASSIGNED:
        clauses.append(Account.csm_id.is_(None))
    elif filters.csm:
        clauses.append(Account.csm_id == int(filters.csm))
    return clauses


def _order(filters: AccountFilters) -> list:
    descending = filters.direction == "desc"

    def directed(column):
        return column.desc() if descending else column.asc()

    name = directed(Account.name)
    if filters.sort == "arr":
        keys = [directed(Account.arr_minor), name]
    elif filters.sort == "renewal":
        # accounts without a renewal date come last either way
        keys = [directed(Account.renewal_date).nulls_last(), name]
    elif filters.sort == "stage":
        keys = [directed(STAGE_ORDER), name]
    elif filters.sort == "segment":
        keys = [directed(SEGMENT_ORDER), name]
    elif filters.sort == "csm":
        keys = [directed(User.name).nulls_last(), name]
    else:
        keys = [name]
    return [*keys, directed(Account.id)]


def list_accounts(filters: AccountFilters, per_page: int) -> AccountPage:
    """One page of accounts with their CSM's name and whether an active plan exists.

    The page's ids are picked first in a subquery that carries only the sort keys; the CSM
    name and the active-plan check then run for those rows alone, not for every row the sort
    or the offset passes over.
    """
    where = _where(filters)
    total = db.session.scalar(select(func.count(Account.id)).where(*where)) or 0
    pages = max(1, ceil(total / per_page))
    page = min(filters.page, pages)
    page_ids = select(Account.id).where(*where)
    if filters.sort == "csm":
        page_ids = page_ids.outerjoin(User, User.id == Account.csm_id)
    page_ids = (page_ids.order_by(*_order(filters)).limit(per_page)
                .offset((page - 1) * per_page).subquery())
    has_active_plan = exists().where(Plan.account_id == Account.id, Plan.status == "active")
    statement = (
        select(Account.id, Account.external_id, Account.name, Account.segment,
               Account.engagement_model, Account.lifecycle_stage, Account.arr_minor,
               Account.currency, Account.renewal_date, User.name.label("csm_name"),
               has_active_plan.label("has_active_plan"))
        .join(page_ids, page_ids.c.id == Account.id)
        .outerjoin(User, User.id == Account.csm_id)
        .order_by(*_order(filters))
    )
    rows = [AccountRow(**row._mapping) for row in db.session.execute(statement)]
    for row in rows:
        row.has_active_plan = bool(row.has_active_plan)
    return AccountPage(rows=rows, total=total, page=page, per_page=per_page)


def csm_choices() -> list[tuple[int, str]]:
    """People who can own accounts and plans: active, not viewers."""
    return [(user_id, name) for user_id, name in db.session.execute(
        select(User.id, User.name).where(User.active.is_(True), User.role != "viewer")
        .order_by(User.name)
    )]


def csm_filter_choices() -> list[tuple[int, str]]:
    """Everyone who owns at least one account, or could."""
    owners = select(Account.csm_id).where(Account.csm_id.is_not(None)).distinct()
    return [(user_id, name) for user_id, name in db.session.execute(
        select(User.id, User.name)
        .where((User.active.is_(True) & (User.role != "viewer")) | User.id.in_(owners))
        .order_by(User.name)
    )]


@dataclass
class PlanRow:
    id: int
    title: str
    plan_type: str
    status: str
    owner_name: str
    next_review_on: object
    template_key: str | None


def account_plans(account: Account) -> list[PlanRow]:
    """The account's plans, active first, without loading their components."""
    status_order = case({status: index for index, status in enumerate(PLAN_STATUSES)},
                        value=Plan.status, else_=len(PLAN_STATUSES))
    active_first = case((Plan.status == "active", 0), else_=1)
    statement = (
        select(Plan.id, Plan.title, Plan.plan_type, Plan.status, User.name.label("owner_name"),
               Plan.next_review_on, Plan.template_key)
        .join(User, User.id == Plan.owner_id)
        .where(Plan.account_id == account.id)
        .order_by(active_first, status_order, Plan.next_review_on, Plan.id)
    )
    return [PlanRow(**row._mapping) for row in db.session.execute(statement)]


def template_choices() -> list[tuple[str, str, str]]:
    """``(key, name, plan_type)`` of every template: built-in ones first, then the team's."""
    return [(key, name, plan_type) for key, name, plan_type in db.session.execute(
        select(PlanTemplate.key, PlanTemplate.name, PlanTemplate.plan_type)
        .order_by(PlanTemplate.built_in.desc(), PlanTemplate.name)
    )]
