"""Read queries of the API: the filtered account list, health, plans and scorecards.

Each returns everything its serializer reads in a fixed number of statements, however many
rows there are: a page of accounts is one SELECT (the CSM joined) plus one COUNT, and its
health two more (the latest snapshots of the page's accounts, their active overrides).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import lazyload, selectinload

from cs_app.accounts.models import Account
from cs_app.accounts.usage_models import AccountSignals
from cs_app.api import serializers
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.health.models import HealthOverride, HealthSnapshot, Scorecard, ScorecardVersion
from cs_app.plans.models import Plan
from cs_app.sql import contains_text

PLAN_COMPONENTS = (
    Plan.outcomes,
    Plan.milestones,
    Plan.stakeholders,
    Plan.risks,
    Plan.actions,
    Plan.reviews,
)
POOLED = "none"


@dataclass(frozen=True)
class AccountFilters:
    segment: str | None = None
    csm: str | None = None  # an email, or "none" for pooled accounts
    stage: str | None = None
    engagement_model: str | None = None
    q: str | None = None
    band: str | None = None


def _latest_band_is(band: str):
    """The band of the account's latest snapshot is ``band``. Every snapshot write copies that
    band into ``account_signals.health_band`` in the same transaction (``health.recompute.
    write_snapshots``), so this reads one row per account instead of finding each account's
    newest day among all its snapshots (one to two seconds at 100,000 accounts with ten days
    of history). The accounts list page and the dashboards read the same column."""
    return Account.id.in_(
        select(AccountSignals.account_id).where(AccountSignals.health_band == band)
    )


def account_page(filters: AccountFilters, *, page: int, per_page: int) -> tuple[list[Account], int]:
    """One page of accounts matching ``filters``, ordered by name, and the total count.

    ``band`` matches the band of the account's latest snapshot; accounts never scored match
    no band."""
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
            csm_id = (
                select(User.id)
                .where(func.lower(User.email) == filters.csm.lower())
                .scalar_subquery()
            )
            conditions.append(Account.csm_id == csm_id)
    if filters.q:
        conditions.append(
            contains_text(Account.name, filters.q) | contains_text(Account.external_id, filters.q)
        )
    if filters.band:
        conditions.append(_latest_band_is(filters.band))
    total = db.session.scalar(select(func.count(Account.id)).where(*conditions)) or 0
    accounts = list(
        db.session.scalars(
            select(Account)
            .where(*conditions)
            .order_by(Account.name, Account.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return accounts, total


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
