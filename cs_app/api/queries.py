"""Read queries of the API: the filtered account list and an account's plans.

Each returns everything its serializer reads in a fixed number of statements, however many
rows there are: a page of accounts is one SELECT (the CSM joined) plus one COUNT.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, func, select
from sqlalchemy.orm import lazyload

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.plans.models import Plan

PLAN_COMPONENTS = (Plan.outcomes, Plan.milestones, Plan.stakeholders, Plan.risks, Plan.actions,
                   Plan.reviews)
POOLED = "none"


@dataclass(frozen=True)
class AccountFilters:
    segment: str | None = None
    csm: str | None = None  # an email, or "none" for pooled accounts
    stage: str | None = None
    engagement_model: str | None = None
    q: str | None = None
    band: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def account_page(filters: AccountFilters, *, page: int,
                 per_page: int) -> tuple[list[Account], int]:
    """One page of accounts matching ``filters``, ordered by name, and the total count."""
    conditions = []
    if filters.segment:
        conditions.append(Account.segment == filters.segment)
    if filters.stage:
        conditions.append(Account.lifecycle_stage == filters.stage)
    if filters.engagement_model:
        conditions.append(Account.engagement_model == filters.engagement_model)
    if filters.csm:
        if filters.csm.lower() == POOLED:
            conditions.append(Account.csm_id.is_(None))
        else:
            csm_id = (select(User.id).where(func.lower(User.email) == filters.csm.lower())
                      .scalar_subquery())
            conditions.append(Account.csm_id == csm_id)
    if filters.q:
        pattern = _like_pattern(filters.q.lower())
        conditions.append(func.lower(Account.name).like(pattern, escape="\\")
                          | func.lower(Account.external_id).like(pattern, escape="\\"))
    if filters.band:
        # No health scores are computed yet: no account has a band, so none can match.
        conditions.append(false())
    total = db.session.scalar(select(func.count(Account.id)).where(*conditions)) or 0
    accounts = list(db.session.scalars(
        select(Account).where(*conditions).order_by(Account.name, Account.id)
        .limit(per_page).offset((page - 1) * per_page)
    ))
    return accounts, total


def account_plans(account: Account) -> list[Plan]:
    """The account's plans, newest first, without loading their components."""
    return list(db.session.scalars(
        select(Plan).where(Plan.account_id == account.id)
        .options(*(lazyload(component) for component in PLAN_COMPONENTS))
        .order_by(Plan.created_at.desc(), Plan.id.desc())
    ))
