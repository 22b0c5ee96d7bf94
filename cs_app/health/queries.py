"""Read-side queries of the health pages: the scorecard list, version labels for trend
markers, and how many accounts a proposed scorecard would move between bands.

Each runs a fixed number of statements however many scorecards, versions or accounts exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.health import service
from cs_app.health.models import Scorecard, ScorecardMeasure, ScorecardVersion
from cs_app.health.recompute import active_scorecards, scope_of, scores_select


@dataclass
class ScorecardRow:
    id: int
    name: str
    segment: str | None
    active: bool
    priority: int
    version: int | None
    measures: int
    changed_at: datetime | None
    changed_by: str | None


def scorecard_rows() -> list[ScorecardRow]:
    """Every scorecard with its current version, its measure count and who saved it: one
    statement."""
    newest = (
        select(ScorecardVersion.scorecard_id, func.max(ScorecardVersion.number).label("number"))
        .group_by(ScorecardVersion.scorecard_id)
        .subquery("newest")
    )
    measure_counts = (
        select(ScorecardMeasure.version_id, func.count().label("measures"))
        .group_by(ScorecardMeasure.version_id)
        .subquery("measure_counts")
    )
    statement = (
        select(
            Scorecard.id,
            Scorecard.name,
            Scorecard.segment,
            Scorecard.active,
            Scorecard.priority,
            ScorecardVersion.number.label("version"),
            func.coalesce(measure_counts.c.measures, 0).label("measures"),
            ScorecardVersion.created_at.label("changed_at"),
            User.name.label("changed_by"),
        )
        .outerjoin(newest, newest.c.scorecard_id == Scorecard.id)
        .outerjoin(
            ScorecardVersion,
            and_(
                ScorecardVersion.scorecard_id == Scorecard.id,
                ScorecardVersion.number == newest.c.number,
            ),
        )
        .outerjoin(measure_counts, measure_counts.c.version_id == ScorecardVersion.id)
        .outerjoin(User, User.id == ScorecardVersion.created_by_id)
        .order_by(Scorecard.active.desc(), Scorecard.priority, Scorecard.name, Scorecard.id)
    )
    return [ScorecardRow(**row._mapping) for row in db.session.execute(statement)]


def version_labels(version_ids: Iterable[int]) -> dict[int, str]:
    """``{version id: "Health Indicators v2"}`` for trend-chart markers, in one statement."""
    ids = sorted({i for i in version_ids if i is not None})
    if not ids:
        return {}
    return {
        version_id: f"{name} v{number}"
        for version_id, number, name in db.session.execute(
            select(ScorecardVersion.id, ScorecardVersion.number, Scorecard.name)
            .join(Scorecard, Scorecard.id == ScorecardVersion.scorecard_id)
            .where(ScorecardVersion.id.in_(ids))
        )
    }


def band_movements(
    scorecard: Scorecard, values: dict[str, Any], *, now: datetime
) -> dict[tuple[str, str], int]:
    """``{(current band, proposed band): accounts}`` for the accounts whose band the proposed
    definition would change, by the recompute's SQL, in one statement. Nothing is saved."""
    current = scorecard.current_version
    if current is None or scorecard.id is None:
        return {}
    proposed = service._build_version(service.validate_scorecard(values), 0)
    scope = scope_of(scorecard, active_scorecards())
    now_scores = scores_select(current, now=now, account_filter=scope).subquery("now_scores")
    new_scores = scores_select(proposed, now=now, account_filter=scope).subquery("new_scores")
    rows = db.session.execute(
        select(now_scores.c.band, new_scores.c.band, func.count())
        .join(new_scores, new_scores.c.account_id == now_scores.c.account_id)
        .where(now_scores.c.band != new_scores.c.band)
        .group_by(now_scores.c.band, new_scores.c.band)
    ).all()
    return {(before, after): count for before, after, count in rows}
