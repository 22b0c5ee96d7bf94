"""Health-scoring semantics (pure, no Flask)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cs_app.health.scoring import (
    AT_RISK,
    CRITICAL,
    HEALTHY,
    INSUFFICIENT,
    BandLimits,
    Measure,
    Override,
    SignalValue,
    band_for,
    band_move,
    compute_health,
    measure_score,
    what_changed,
)

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 9, tzinfo=UTC)
LOGINS = Measure("logins", "logins_30d", 50, True, healthy=20, critical=0)
RESOLUTION = Measure("resolution", "resolution_hours", 25, False, healthy=8, critical=24)
NPS = Measure(
    "nps",
    "nps_category",
    25,
    categories={"promoter": HEALTHY, "passive": AT_RISK, "detractor": CRITICAL},
)


@pytest.mark.parametrize(("value", "score"), [(20, 100), (35, 100), (10, 50), (0, 0), (-3, 0)])
def test_linear_between_thresholds_higher_is_better(value, score):
    assert measure_score(LOGINS, value) == pytest.approx(score)


@pytest.mark.parametrize(("value", "score"), [(8, 100), (4, 100), (16, 50), (24, 0), (30, 0)])
def test_linear_between_thresholds_lower_is_better(value, score):
    assert measure_score(RESOLUTION, value) == pytest.approx(score)


def test_categorical_bands():
    assert [measure_score(NPS, c) for c in ("promoter", "passive", "detractor", "other")] == [
        100,
        50,
        0,
        None,
    ]


def test_composite_is_weighted_mean_and_points_lost_sum_to_the_gap():
    result = compute_health(
        [LOGINS, RESOLUTION, NPS],
        {
            "logins_30d": SignalValue(10, TODAY),
            "resolution_hours": SignalValue(8, TODAY),
            "nps_category": SignalValue("detractor", TODAY),
        },
        today=TODAY,
        now=NOW,
    )
    assert result.score == pytest.approx((50 * 50 + 25 * 100 + 25 * 0) / 100)
    assert result.coverage == 1.0
    assert sum(m.points_lost for m in result.measures) == pytest.approx(100 - result.score)
    assert result.band == AT_RISK


def test_missing_data_is_reweighted_and_reported():
    result = compute_health(
        [LOGINS, RESOLUTION, NPS],
        {"logins_30d": SignalValue(20, TODAY), "resolution_hours": SignalValue(24, TODAY)},
        today=TODAY,
        now=NOW,
    )
    assert result.coverage == pytest.approx(0.75)
    assert result.score == pytest.approx((50 * 100 + 25 * 0) / 75)
    nps = next(m for m in result.measures if m.key == "nps")
    assert nps.missing and not nps.stale and nps.points_lost is None


def test_stale_value_counts_as_missing():
    fresh_logins = Measure("logins", "logins_30d", 50, True, 20, 0, freshness_days=7)
    result = compute_health(
        [fresh_logins, RESOLUTION],
        {
            "logins_30d": SignalValue(20, TODAY - timedelta(days=8)),
            "resolution_hours": SignalValue(8, TODAY),
        },
        today=TODAY,
        now=NOW,
    )
    logins = result.measures[0]
    assert logins.stale and logins.missing and logins.score is None
    assert result.coverage == pytest.approx(25 / 75)
    assert result.band == INSUFFICIENT


def test_coverage_floor_gives_insufficient_data_never_a_colour():
    assert band_for(95, 0.49, BandLimits()) == INSUFFICIENT
    assert band_for(95, 0.5, BandLimits()) == HEALTHY
    assert band_for(None, 1.0, BandLimits()) == INSUFFICIENT


@pytest.mark.parametrize(
    ("score", "band"), [(70, HEALTHY), (69.9, AT_RISK), (40, AT_RISK), (39.9, CRITICAL)]
)
def test_band_limits(score, band):
    assert band_for(score, 1.0, BandLimits()) == band


def test_configurable_band_limits():
    assert band_for(65, 1.0, BandLimits(healthy=60, at_risk=30)) == HEALTHY


def test_override_applies_until_it_expires():
    signals = {"logins_30d": SignalValue(0, TODAY)}
    override = Override(
        band=HEALTHY, score=None, reason="Exec call went well", expires_at=NOW + timedelta(days=1)
    )
    held = compute_health([LOGINS], signals, today=TODAY, now=NOW, override=override)
    assert (held.band, held.computed_band, held.score) == (HEALTHY, CRITICAL, 0)
    expired = compute_health(
        [LOGINS], signals, today=TODAY, now=NOW + timedelta(days=2), override=override
    )
    assert expired.band == CRITICAL and expired.override is None


def test_override_score_without_band_derives_the_band():
    override = Override(band=None, score=55, reason="r", expires_at=NOW + timedelta(days=1))
    result = compute_health(
        [LOGINS], {"logins_30d": SignalValue(20, TODAY)}, today=TODAY, now=NOW, override=override
    )
    assert (result.score, result.band, result.computed_score) == (55, AT_RISK, 100)


def test_what_changed_per_measure():
    assert what_changed({"a": 50, "b": 80, "c": None}, {"a": 70, "b": 80}) == {
        "a": -20,
        "b": 0,
        "c": None,
    }


@pytest.mark.parametrize(
    "before, after, move",
    [
        ("healthy", "at_risk", "worsened"),
        ("at_risk", "critical", "worsened"),
        ("critical", "healthy", "improved"),
        ("at_risk", "at_risk", "unchanged"),
        ("insufficient_data", "critical", "unknown"),
        (None, "healthy", "unknown"),
    ],
)
def test_band_move_compares_confident_bands_only(before, after, move):
    assert band_move(before, after) == move
