"""The SQL recompute: snapshots, idempotence, overrides, and agreement with the pure module."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from cs_app.accounts.signals import compute_signals
from cs_app.accounts.usage_models import AccountSignals, MetricValue
from cs_app.extensions import db
from cs_app.health import scoring
from cs_app.health.models import (
    HealthOverride,
    HealthSnapshot,
    Scorecard,
    ScorecardMeasure,
    ScorecardVersion,
)
from cs_app.health.recompute import band_limits, pure_measures, recompute, write_snapshots
from tests.factories import AccountFactory, UserFactory


def snapshot_of(account, day):
    db.session.expire_all()
    return db.session.scalar(
        select(HealthSnapshot).where(
            HealthSnapshot.account_id == account.id, HealthSnapshot.day == day
        )
    )


def card(key):
    return db.session.scalar(select(Scorecard).where(Scorecard.key == key))


def test_builtin_scorecards_apply_by_segment(app, now):
    smb, mid = AccountFactory(segment="SMB"), AccountFactory(segment="Mid-Market")
    recompute(now=now)
    assert (
        snapshot_of(smb, now.date()).scorecard_version_id
        == card("health-indicators").current_version.id
    )
    assert (
        snapshot_of(mid, now.date()).scorecard_version_id
        == card("mid-market-weighted").current_version.id
    )


def test_recompute_twice_the_same_day_keeps_one_identical_snapshot(app, now):
    account = AccountFactory(segment="SMB")
    recompute(now=now)
    first = snapshot_of(account, now.date())
    values = (first.id, first.score, first.band, first.coverage, first.measures)
    recompute(now=now)
    again = snapshot_of(account, now.date())
    assert (again.id, again.score, again.band, again.coverage, again.measures) == values
    assert db.session.scalar(select(func.count(HealthSnapshot.id))) == 1


def test_account_without_data_is_insufficient_data(app, now):
    account = AccountFactory(segment="SMB")
    recompute(now=now)
    snapshot = snapshot_of(account, now.date())
    assert (snapshot.band, snapshot.score, snapshot.coverage) == ("insufficient_data", None, 0)


def test_active_override_wins_and_expired_one_does_not(app, now):
    account = AccountFactory(segment="SMB")
    lead = UserFactory(role="lead")
    db.session.add(
        HealthOverride(
            account_id=account.id,
            band="healthy",
            score=None,
            reason="Exec sponsor re-engaged",
            created_by_id=lead.id,
            expires_at=now + timedelta(days=7),
            created_at=now,
        )
    )
    db.session.flush()
    recompute(now=now)
    held = snapshot_of(account, now.date())
    assert (held.band, held.computed_band, held.overridden) == (
        "healthy",
        "insufficient_data",
        True,
    )
    later = now + timedelta(days=8)
    recompute(now=later)
    assert snapshot_of(account, later.date()).band == "insufficient_data"


def test_health_signals_follow_the_new_snapshot(app, now):
    account = AccountFactory(segment="SMB")
    recompute(now=now)
    db.session.expire_all()
    assert db.session.get(AccountSignals, account.id).health_band == "insufficient_data"


def _random_version(rng):
    """A scorecard version over signals of every kind, with random thresholds."""
    scorecard = Scorecard(
        key=f"gen-{rng.randrange(10**9)}",
        name="Generated",
        segment="Enterprise",
        active=True,
        priority=1,
    )
    version = ScorecardVersion(
        scorecard=scorecard,
        number=1,
        healthy_min=rng.choice([60, 70]),
        at_risk_min=rng.choice([30, 40]),
        coverage_floor=rng.choice([0.3, 0.5, 0.7]),
    )
    h, c = rng.randint(5, 30), rng.randint(0, 4)
    version.measures = [
        ScorecardMeasure(
            position=0,
            key="logins",
            label="Logins",
            signal="logins_30d",
            weight=30,
            higher_is_better=True,
            healthy=h,
            critical=c,
        ),
        ScorecardMeasure(
            position=1,
            key="dark",
            label="Dark",
            signal="days_since_last_login",
            weight=20,
            higher_is_better=False,
            healthy=7,
            critical=30,
        ),
        ScorecardMeasure(
            position=2,
            key="nps",
            label="NPS",
            signal="nps_category",
            weight=25,
            categories={"promoter": "healthy", "passive": "at_risk", "detractor": "critical"},
            freshness_days=60,
        ),
        ScorecardMeasure(
            position=3,
            key="pipe",
            label="Pipeline",
            signal="metric.pipeline",
            weight=15,
            higher_is_better=False,
            healthy=2,
            critical=14,
            freshness_days=7,
        ),
        ScorecardMeasure(
            position=4,
            key="departed",
            label="Champion",
            weight=10,
            signal="champion_departed",
            higher_is_better=False,
            healthy=0,
            critical=1,
        ),
    ]
    db.session.add(scorecard)
    db.session.flush()
    return version


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_and_pure_module_agree_on_generated_inputs(app, now, seed):
    rng = random.Random(seed)
    version = _random_version(rng)
    accounts = [AccountFactory(segment="Enterprise") for _ in range(40)]
    compute_signals(now=now)
    today = now.date()
    expected = {}
    for account in accounts:
        signals = db.session.get(AccountSignals, account.id)
        signals.logins_30d = rng.choice([None, 0, 1, 3, 8, 15, 40])
        signals.days_since_last_login = rng.choice([None, 0, 5, 7, 12, 29, 30, 60])
        signals.nps_category = rng.choice([None, "promoter", "passive", "detractor"])
        signals.last_nps_on = today - timedelta(days=rng.choice([1, 59, 61, 200]))
        signals.champion_departed = rng.choice([None, True, False])
        pipeline_day = today - timedelta(days=rng.choice([0, 6, 8]))
        pipeline = rng.choice([None, 1.0, 2.0, 5.5, 14.0, 20.0])
        if pipeline is not None:
            db.session.add(
                MetricValue(
                    account_id=account.id,
                    metric_key="pipeline",
                    measured_on=pipeline_day,
                    value=pipeline,
                )
            )
        values = {
            "logins_30d": scoring.SignalValue(signals.logins_30d),
            "days_since_last_login": scoring.SignalValue(signals.days_since_last_login),
            "nps_category": scoring.SignalValue(signals.nps_category, signals.last_nps_on),
            "metric.pipeline": scoring.SignalValue(pipeline, pipeline_day),
            "champion_departed": scoring.SignalValue(
                None if signals.champion_departed is None else int(signals.champion_departed)
            ),
        }
        expected[account.id] = scoring.compute_health(
            pure_measures(version), values, today=today, now=now, limits=band_limits(version)
        )
    db.session.flush()
    write_snapshots(now=now)
    for account in accounts:
        got = snapshot_of(account, today)
        want = expected[account.id]
        assert got.band == want.band
        assert got.coverage == pytest.approx(want.coverage)
        if want.score is None:
            assert got.score is None
        else:
            assert got.score == pytest.approx(want.score)
        for measure_json, measure in zip(got.measures, want.measures, strict=True):
            assert measure_json["key"] == measure.key
            assert bool(measure_json["stale"]) == measure.stale
            if measure.score is None:
                assert measure_json["score"] is None
            else:
                assert measure_json["score"] == pytest.approx(measure.score)
                assert measure_json["points_lost"] == pytest.approx(measure.points_lost)


def test_snapshot_day_is_the_recompute_day(app, now):
    account = AccountFactory(segment="SMB")
    recompute(now=now)
    assert snapshot_of(account, date(2026, 11, 21)) is not None
