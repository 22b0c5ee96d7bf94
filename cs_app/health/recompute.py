"""Score every account set-wise in SQL: one INSERT … SELECT per scorecard version.

The rules are those of ``health.scoring`` (linear between thresholds, categories to bands,
stale values missing, re-weighting over the weight with data, coverage floor, overrides), written
as SQL expressions so 100,000 accounts cost one statement per scorecard; a test runs both on the
same generated inputs and compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    Float,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    update,
)

from cs_app.accounts.models import Account
from cs_app.accounts.signal_catalog import METRIC_PREFIX, SIGNALS
from cs_app.accounts.usage_models import AccountSignals, MetricValue
from cs_app.extensions import db
from cs_app.health import scoring
from cs_app.health.models import HealthOverride, HealthSnapshot, Scorecard, ScorecardVersion
from cs_app.sql import days_between, hold_lock, insert_for, json_array, json_object

BANDS = scoring.BANDS
RECOMPUTE_LOCK = 0x6373_6170_7072_6563  # advisory lock key of health recomputes ("csapprec")


def pure_measures(version: ScorecardVersion) -> list[scoring.Measure]:
    return [
        scoring.Measure(
            key=m.key,
            signal=m.signal,
            weight=m.weight,
            higher_is_better=m.higher_is_better,
            healthy=m.healthy,
            critical=m.critical,
            categories=dict(m.categories or {}),
            freshness_days=m.freshness_days,
        )
        for m in version.measures
    ]


def band_limits(version: ScorecardVersion) -> scoring.BandLimits:
    return scoring.BandLimits(version.healthy_min, version.at_risk_min, version.coverage_floor)


def _metric_subquery(metric_key: str, today: date, alias: str):
    m = MetricValue.__table__.c
    ranked = (
        select(
            m.account_id,
            m.value,
            m.measured_on,
            func.row_number()
            .over(partition_by=m.account_id, order_by=m.measured_on.desc())
            .label("rank"),
        )
        .where(m.metric_key == metric_key, m.measured_on <= today)
        .subquery(f"{alias}_ranked")
    )
    # One row per account after rank 1; the GROUP BY (max of one value) keeps SQLite from
    # flattening the subquery into the outer join and scanning it once per account.
    return (
        select(
            ranked.c.account_id,
            func.max(ranked.c.value).label("value"),
            func.max(ranked.c.measured_on).label("measured_on"),
        )
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.account_id)
        .subquery(alias)
    )


def _score_expression(measure: scoring.Measure, value):
    if measure.categories:
        return case(
            *(
                (value == category, scoring.BAND_SCORES[band])
                for category, band in measure.categories.items()
            ),
            else_=None,
        )
    if measure.healthy is None or measure.critical is None:
        return literal(None, Float)
    number = cast(value, Float)
    healthy, critical = float(measure.healthy), float(measure.critical)
    if healthy == critical:
        good = number >= healthy if measure.higher_is_better else number <= healthy
        return case((good, 100.0), else_=0.0)
    if measure.higher_is_better:
        return case(
            (number >= healthy, 100.0),
            (number <= critical, 0.0),
            else_=100.0 * (number - critical) / (healthy - critical),
        )
    return case(
        (number <= healthy, 100.0),
        (number >= critical, 0.0),
        else_=100.0 * (number - critical) / (healthy - critical),
    )


def scores_select(version: ScorecardVersion, *, now: datetime, account_filter=None):
    """One row per account in scope: score, band, coverage, computed values, measures JSON."""
    today = now.date()
    today_literal = literal(today, Date)
    signals = AccountSignals.__table__
    accounts = Account.__table__
    measures = pure_measures(version)
    limits = band_limits(version)
    source = accounts.join(signals, signals.c.account_id == accounts.c.id)
    inner_columns = [accounts.c.id.label("account_id")]
    for index, measure in enumerate(measures):
        if measure.signal.startswith(METRIC_PREFIX):
            metric = _metric_subquery(
                measure.signal[len(METRIC_PREFIX) :], today, f"metric_{index}"
            )
            source = source.outerjoin(metric, metric.c.account_id == accounts.c.id)
            value, observed = metric.c.value, metric.c.measured_on
        else:
            value = signals.c[measure.signal]
            if SIGNALS[measure.signal].kind == "boolean":
                value = cast(value, Integer)
            observed_column = SIGNALS[measure.signal].observed_column
            observed = signals.c[observed_column] if observed_column else None
        if measure.freshness_days is not None and observed is not None:
            stale = case(
                (
                    and_(
                        value.is_not(None),
                        observed.is_not(None),
                        days_between(today_literal, observed) > measure.freshness_days,
                    ),
                    1,
                ),
                else_=0,
            )
        else:
            stale = literal(0, Integer)
        score = case(
            (or_(value.is_(None), stale == 1), None), else_=_score_expression(measure, value)
        )
        inner_columns += [
            value.label(f"v{index}"),
            stale.label(f"st{index}"),
            score.label(f"s{index}"),
        ]
    inner = select(*inner_columns).select_from(source)
    if account_filter is not None:
        inner = inner.where(account_filter)
    inner = inner.subquery("measured")

    total_weight = sum(m.weight for m in measures) or 1.0
    present = sum(
        (
            case((inner.c[f"s{i}"].is_not(None), m.weight), else_=0.0)
            for i, m in enumerate(measures)
        ),
        literal(0.0, Float),
    )
    weighted = sum(
        (func.coalesce(inner.c[f"s{i}"] * m.weight, 0.0) for i, m in enumerate(measures)),
        literal(0.0, Float),
    )
    middle = select(inner, present.label("present"), weighted.label("weighted")).subquery("mid")
    composite = case((middle.c.present > 0, middle.c.weighted / middle.c.present))
    coverage = middle.c.present / total_weight

    def band_of(score, cover):
        return case(
            (or_(score.is_(None), cover < limits.coverage_floor), scoring.INSUFFICIENT),
            (score >= limits.healthy, scoring.HEALTHY),
            (score >= limits.at_risk, scoring.AT_RISK),
            else_=scoring.CRITICAL,
        )

    ov = HealthOverride.__table__.c
    ranked_overrides = (
        select(
            ov.account_id,
            ov.band,
            ov.score,
            func.row_number()
            .over(partition_by=ov.account_id, order_by=(ov.created_at.desc(), ov.id.desc()))
            .label("rank"),
        )
        .where(ov.cleared_at.is_(None), ov.expires_at > now)
        .subquery("ranked_overrides")
    )
    override = (
        select(
            ranked_overrides.c.account_id,
            func.max(ranked_overrides.c.band).label("band"),
            func.max(ranked_overrides.c.score).label("score"),
        )
        .where(ranked_overrides.c.rank == 1)
        .group_by(ranked_overrides.c.account_id)
        .subquery("override")
    )  # grouped for the same reason as _metric_subquery
    computed_band = band_of(composite, coverage)
    final_score = case((override.c.score.is_not(None), override.c.score), else_=composite)
    final_band = case(
        (override.c.band.is_not(None), override.c.band),
        (override.c.score.is_not(None), band_of(override.c.score, literal(1.0))),
        else_=computed_band,
    )
    measure_json = json_array(
        *(
            json_object(
                "key",
                m.key,
                "signal",
                m.signal,
                "value",
                middle.c[f"v{i}"],
                "score",
                middle.c[f"s{i}"],
                "weight",
                m.weight,
                "points_lost",
                case(
                    (
                        middle.c.present > 0,
                        m.weight * (100.0 - middle.c[f"s{i}"]) / middle.c.present,
                    )
                ),
                "stale",
                middle.c[f"st{i}"],
            )
            for i, m in enumerate(measures)
        )
    )
    return (
        select(
            middle.c.account_id,
            literal(today, Date).label("day"),
            literal(version.id, Integer).label("scorecard_version_id"),
            final_score.label("score"),
            final_band.label("band"),
            coverage.label("coverage"),
            composite.label("computed_score"),
            computed_band.label("computed_band"),
            override.c.account_id.is_not(None).label("overridden"),
            measure_json.label("measures"),
            literal(now, HealthSnapshot.__table__.c.computed_at.type).label("computed_at"),
        )
        .select_from(middle.outerjoin(override, override.c.account_id == middle.c.account_id))
        .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
        # in the order of the (account, day) unique index the rows go into: each of its
        # pages is then read and written once, not once per account in a random order
        .order_by(middle.c.account_id)
    )


SNAPSHOT_COLUMNS = (
    "account_id",
    "day",
    "scorecard_version_id",
    "score",
    "band",
    "coverage",
    "computed_score",
    "computed_band",
    "overridden",
    "measures",
    "computed_at",
)


def active_scorecards() -> list[Scorecard]:
    return list(
        db.session.scalars(
            select(Scorecard).where(Scorecard.active).order_by(Scorecard.priority, Scorecard.id)
        )
    )


def scope_of(scorecard: Scorecard, all_cards: Sequence[Scorecard]):
    """Accounts a scorecard scores: its segment, or (no segment) every account whose segment
    has no active scorecard of its own. The first active card per segment wins."""
    accounts = Account.__table__.c
    if scorecard.segment:
        return accounts.segment == scorecard.segment
    covered = sorted({c.segment for c in all_cards if c.segment})
    return not_(accounts.segment.in_(covered)) if covered else true()


def write_snapshots(*, now: datetime, account_ids: Sequence[int] | None = None) -> int:
    """Upsert today's snapshot for every account in scope; returns how many were written."""
    cards = active_scorecards()
    seen_segments: set[str | None] = set()
    written = 0
    for card in cards:
        if card.segment in seen_segments or card.current_version is None:
            continue
        seen_segments.add(card.segment)
        scope = scope_of(card, cards)
        if account_ids is not None:
            scope = and_(scope, Account.__table__.c.id.in_(list(account_ids)))
        query = scores_select(card.current_version, now=now, account_filter=scope)
        statement = insert_for(HealthSnapshot.__table__).from_select(SNAPSHOT_COLUMNS, query)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["account_id", "day"],
            set_={
                name: excluded[name]
                for name in SNAPSHOT_COLUMNS
                if name not in ("account_id", "day")
            },
        )
        db.session.execute(statement)
        count = (
            select(func.count())
            .select_from(HealthSnapshot.__table__)
            .where(
                HealthSnapshot.day == now.date(),
                HealthSnapshot.scorecard_version_id == card.current_version.id,
            )
        )
        written += db.session.scalar(count)
    refresh_health_signals(now=now, account_ids=account_ids)
    return written


def refresh_health_signals(*, now: datetime, account_ids: Sequence[int] | None = None) -> None:
    """Copy today's scores into the health columns of account_signals in one statement, so
    rules evaluated after a recompute read today's health."""
    signals = AccountSignals.__table__
    hs = HealthSnapshot.__table__

    def latest(column, on_or_before: date):
        days = hs.alias("days")
        newest_day = (
            select(func.max(days.c.day))
            .where(days.c.account_id == signals.c.account_id, days.c.day <= on_or_before)
            .correlate(signals)
            .scalar_subquery()
        )
        return (
            select(column)
            .where(hs.c.account_id == signals.c.account_id, hs.c.day == newest_day)
            .correlate(signals)
            .scalar_subquery()
        )

    month_ago = now.date() - timedelta(days=30)
    statement = update(signals)
    if account_ids is not None:
        statement = statement.where(signals.c.account_id.in_(list(account_ids)))
    db.session.execute(
        statement.values(
            health_score=latest(hs.c.score, now.date()),
            health_band=latest(hs.c.band, now.date()),
            health_change_30d=latest(hs.c.score, now.date()) - latest(hs.c.score, month_ago),
        )
    )


def recompute(*, now: datetime, account_ids: Sequence[int] | None = None) -> dict[str, int]:
    """Signals, then scores, then the health signals: what the ``recompute-health`` job runs.

    Recomputes take turns: each deletes and re-inserts its accounts' signal rows, so the nightly
    run and a catch-up run at the same moment would otherwise collide on the same accounts."""
    from cs_app.accounts.signals import compute_signals

    hold_lock(RECOMPUTE_LOCK)
    signals = compute_signals(now=now, account_ids=account_ids)
    snapshots = write_snapshots(now=now, account_ids=account_ids)
    return {"signals": signals, "snapshots": snapshots}
