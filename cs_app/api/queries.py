"""Read queries of the API: the filtered account list, health, plans and scorecards.

Each returns everything its serializer reads in a fixed number of statements, however many
rows there are: a page of accounts is one SELECT (the CSM joined) plus one COUNT, and its
health two more (the latest snapshots of the page's accounts, their active overrides).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import lazyload, selectinload

from cs_app.accounts.models import Account
from cs_app.accounts.queries import AccountScope, account_conditions
from cs_app.api import serializers
from cs_app.extensions import db
from cs_app.health.models import HealthOverride, HealthSnapshot, Scorecard, ScorecardVersion
from cs_app.paging import Page, offset
from cs_app.plans.models import Plan

PLAN_COMPONENTS = (
    Plan.outcomes,
    Plan.milestones,
    Plan.stakeholders,
    Plan.risks,
    Plan.actions,
    Plan.reviews,
)
POOLED = "none"  # the csm argument that lists the accounts no CSM owns


def account_scope(
    *,
    segment: str | None = None,
    csm: str | None = None,
    stage: str | None = None,
    engagement_model: str | None = None,
    q: str | None = None,
    band: str | None = None,
) -> AccountScope:
    """The API's list arguments as the account filter reads them: ``csm`` is an email, or
    ``none`` for pooled accounts; ``band`` matches the band of the account's latest snapshot,
    so accounts never scored match no band."""
    pooled = (csm or "").lower() == POOLED
    return AccountScope(
        q=q or "",
        segment=segment or "",
        stage=stage or "",
        engagement=engagement_model or "",
        csm_email="" if pooled else csm or "",
        unassigned=pooled,
        band=band or "",
    )


def account_page(scope: AccountScope, *, page: int, per_page: int) -> Page[Account]:
    """One page of the accounts in ``scope``, ordered by name, and their total count. A page
    past the end is empty (API clients page until they get an empty one)."""
    conditions = account_conditions(scope)
    total = db.session.scalar(select(func.count(Account.id)).where(*conditions)) or 0
    accounts = list(
        db.session.scalars(
            select(Account)
            .where(*conditions)
            .order_by(Account.name, Account.id)
            .limit(per_page)
            .offset(offset(page, per_page))
        )
    )
    return Page(accounts, total, page, per_page)


def account_plans(account: Account) -> list[Plan]:
    """The account's plans, newest first, without loading their components."""
    return list(
        db.session.scalars(
            select(Plan)
            .where(Plan.account_id == account.id)
            .options(*(lazyload(component) for component in PLAN_COMPONENTS))
            .order_by(Plan.created_at.desc(), Plan.id.desc())
        )
    )


def latest_health(account_ids: Sequence[int], *, now: datetime) -> dict[int, dict[str, Any]]:
    """The health object (``serializers.health_summary``) of each account that has a snapshot,
    by account id: one statement for the latest snapshots (with their scorecard version and
    key) and one for the active overrides, however many accounts."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    today = now.date()
    newest = (
        select(HealthSnapshot.account_id, func.max(HealthSnapshot.day).label("day"))
        .where(HealthSnapshot.account_id.in_(ids), HealthSnapshot.day <= today)
        .group_by(HealthSnapshot.account_id)
        .subquery("newest")
    )
    rows = db.session.execute(
        select(HealthSnapshot, ScorecardVersion.number, Scorecard.key)
        .join(
            newest,
            and_(
                newest.c.account_id == HealthSnapshot.account_id, newest.c.day == HealthSnapshot.day
            ),
        )
        .outerjoin(ScorecardVersion, ScorecardVersion.id == HealthSnapshot.scorecard_version_id)
        .outerjoin(Scorecard, Scorecard.id == ScorecardVersion.scorecard_id)
    ).all()
    overrides: dict[int, HealthOverride] = {}
    for override in db.session.scalars(
        select(HealthOverride)
        .where(
            HealthOverride.account_id.in_(ids),
            HealthOverride.cleared_at.is_(None),
            HealthOverride.expires_at > now,
        )
        .order_by(
            HealthOverride.account_id, HealthOverride.created_at.desc(), HealthOverride.id.desc()
        )
    ):
        overrides.setdefault(override.account_id, override)  # the newest one is in force
    return {
        snapshot.account_id: serializers.health_summary(
            snapshot,
            version_number=number,
            scorecard_key=key,
            active_override=overrides.get(snapshot.account_id),
        )
        for snapshot, number, key in rows
    }


def all_scorecards() -> list[Scorecard]:
    """Every scorecard, in the order the recompute tries them, with versions and measures
    loaded in two more statements."""
    return list(
        db.session.scalars(
            select(Scorecard)
            .options(selectinload(Scorecard.versions))
            .order_by(Scorecard.priority, Scorecard.id)
        )
    )
