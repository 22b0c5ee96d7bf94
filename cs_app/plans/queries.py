"""Read-side queries for the plan list: its filters, its sorts, and one page of plans with
their overdue counts in two statements (count and page) whatever the page size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager, raiseload

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.paging import Page, clamp_page, offset
from cs_app.plans.models import PLAN_STATUSES, PLAN_TYPES, ActionItem, Milestone, Plan
from cs_app.request_args import database_id, page_number
from cs_app.sql import contains_text


@dataclass
class PlanListFilters:
    status: str = ""
    plan_type: str = ""
    owner_id: int | None = None
    review_overdue: bool = False
    query: str = ""
    sort: str = "next_review"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> PlanListFilters:
        sort = args.get("sort", "next_review")
        return cls(
            status=args.get("status", "")
            if args.get("status", "") in ("", "all", *PLAN_STATUSES)
            else "",
            plan_type=args.get("type", "") if args.get("type", "") in PLAN_TYPES else "",
            owner_id=database_id(args.get("owner")),
            review_overdue=args.get("review") == "overdue",
            query=args.get("q", "").strip(),
            sort=sort if sort in PLAN_SORTS else "next_review",
            direction="desc" if args.get("dir") == "desc" else "asc",
            page=page_number(args),
        )

    def args(self) -> dict[str, Any]:
        """The filters as query-string arguments (what sort links and the pager keep)."""
        values = {
            "status": self.status,
            "type": self.plan_type,
            "owner": self.owner_id,
            "review": "overdue" if self.review_overdue else None,
            "q": self.query,
            "sort": self.sort,
            "dir": self.direction,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def narrowed(self) -> bool:
        return bool(
            self.status or self.plan_type or self.owner_id or self.review_overdue or self.query
        )


def _overdue_count(model, due_column, today: date):
    return (
        select(func.count(model.id))
        .where(model.plan_id == Plan.id, due_column < today, model.status != "done")
        .correlate(Plan)
        .scalar_subquery()
    )


PLAN_SORTS: dict[str, Callable[[], list] | None] = {
    "plan": lambda: [func.lower(Plan.title)],
    "account": lambda: [func.lower(Account.name)],
    "type": lambda: [Plan.plan_type],
    "status": lambda: [Plan.status],
    "owner": lambda: [func.lower(User.name)],
    "next_review": lambda: [Plan.next_review_on.is_(None), Plan.next_review_on],
    "updated": lambda: [Plan.updated_at],
    "overdue": None,  # by the overdue counts, which only plan_list knows
}


def plan_list(
    filters: PlanListFilters, *, today: date, per_page: int
) -> Page[tuple[Plan, int, int]]:
    """One page of plans with their overdue action and milestone counts: two statements
    (count and page) whatever the page size."""
    overdue_actions = _overdue_count(ActionItem, ActionItem.due_date, today).label("actions")
    overdue_milestones = _overdue_count(Milestone, Milestone.target_date, today).label("milestones")
    conditions = []
    if filters.status == "":
        conditions.append(Plan.status != "archived")
    elif filters.status != "all":
        conditions.append(Plan.status == filters.status)
    if filters.plan_type:
        conditions.append(Plan.plan_type == filters.plan_type)
    if filters.owner_id:
        conditions.append(Plan.owner_id == filters.owner_id)
    if filters.review_overdue:
        conditions += [Plan.status == "active", Plan.next_review_on < today]
    if filters.query:
        conditions.append(
            or_(
                contains_text(Plan.title, filters.query), contains_text(Account.name, filters.query)
            )
        )
    base = select(Plan).join(Plan.account).join(Plan.owner).where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page = clamp_page(filters.page, total, per_page)
    sort_columns = PLAN_SORTS[filters.sort]
    order = sort_columns() if sort_columns else [overdue_actions + overdue_milestones]
    if filters.direction == "desc":
        order = [column.desc() for column in order]
    statement = (
        base.add_columns(overdue_actions, overdue_milestones)
        .options(
            contains_eager(Plan.account).lazyload(Account.csm),
            contains_eager(Plan.owner),
            raiseload("*"),
        )
        .order_by(*order, Plan.id)
        .limit(per_page)
        .offset(offset(page, per_page))
    )
    rows = [
        (plan, actions or 0, milestones or 0)
        for plan, actions, milestones in db.session.execute(statement)
    ]
    return Page(rows, total, page, per_page)


def plan_owner_choices() -> list[User]:
    """Who may own a plan (everyone but viewers), the active first, for the owner filter."""
    return list(
        db.session.scalars(
            select(User).where(User.role != "viewer").order_by(User.active.desc(), User.name)
        )
    )
