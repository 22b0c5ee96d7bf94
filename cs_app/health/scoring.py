"""Pure health-scoring semantics: measure scores, the composite, coverage, bands, overrides and
what changed. No Flask, no SQLAlchemy; the SQL recompute implements the same rules set-wise and
a test proves the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

HEALTHY = "healthy"
AT_RISK = "at_risk"
CRITICAL = "critical"
INSUFFICIENT = "insufficient_data"
BANDS = (HEALTHY, AT_RISK, CRITICAL, INSUFFICIENT)  # the bands a score gets, best first
NOT_SCORED = "not_scored"  # an account no recompute has scored yet: no band at all
BAND_LABELS = {
    HEALTHY: "Healthy",
    AT_RISK: "At risk",
    CRITICAL: "Critical",
    INSUFFICIENT: "Insufficient data",
    NOT_SCORED: "Not scored",
}
BAND_SCORES = {HEALTHY: 100.0, AT_RISK: 50.0, CRITICAL: 0.0}
# how bad a confident band is; moves to or from "insufficient data" are neither worse nor better
BAND_SEVERITY = {HEALTHY: 0, AT_RISK: 1, CRITICAL: 2}


def band_label(band: str | None) -> str:
    """How a band reads on a page; no band at all is "Not scored"."""
    return BAND_LABELS.get(band or NOT_SCORED, band or "")


def band_move(before: str | None, after: str | None) -> str:
    """ "worsened", "improved" or "unchanged" between two confident bands; "unknown" when
    either is missing or "insufficient data"."""
    if before not in BAND_SEVERITY or after not in BAND_SEVERITY:
        return "unknown"
    change = BAND_SEVERITY[after] - BAND_SEVERITY[before]
    return "worsened" if change > 0 else "improved" if change < 0 else "unchanged"


@dataclass(frozen=True)
class BandLimits:
    """Composite score at or above ``healthy`` is healthy, at or above ``at_risk`` is at risk,
    below is critical; below ``coverage_floor`` of the weight with data nothing is claimed."""

    healthy: float = 70.0
    at_risk: float = 40.0
    coverage_floor: float = 0.5


@dataclass(frozen=True)
class Measure:
    key: str
    signal: str
    weight: float
    higher_is_better: bool = True
    healthy: float | None = None
    critical: float | None = None
    categories: Mapping[str, str] = field(default_factory=dict)
    freshness_days: int | None = None


@dataclass(frozen=True)
class SignalValue:
    value: float | str | None
    observed_on: date | None = None


@dataclass(frozen=True)
class MeasureResult:
    key: str
    value: float | str | None
    score: float | None
    weight: float
    points_lost: float | None
    stale: bool
    missing: bool


@dataclass(frozen=True)
class Override:
    band: str | None
    score: float | None
    reason: str
    expires_at: datetime


@dataclass(frozen=True)
class HealthResult:
    score: float | None
    band: str
    coverage: float
    measures: tuple[MeasureResult, ...]
    computed_score: float | None
    computed_band: str
    override: Override | None = None


def measure_score(measure: Measure, value: float | str | None) -> float | None:
    """0–100 for one measure: 100 at or beyond the healthy threshold, 0 at or beyond the
    critical one, linear between; categories map to their band's score."""
    if value is None:
        return None
    if measure.categories:
        band = measure.categories.get(str(value))
        return BAND_SCORES.get(band) if band else None
    if measure.healthy is None or measure.critical is None:
        return None
    number = float(value)
    healthy, critical = measure.healthy, measure.critical
    if healthy == critical:
        good = number >= healthy if measure.higher_is_better else number <= healthy
        return 100.0 if good else 0.0
    if measure.higher_is_better:
        if number >= healthy:
            return 100.0
        if number <= critical:
            return 0.0
    else:
        if number <= healthy:
            return 100.0
        if number >= critical:
            return 0.0
    return 100.0 * (number - critical) / (healthy - critical)


def is_stale(measure: Measure, observed_on: date | None, today: date) -> bool:
    if measure.freshness_days is None or observed_on is None:
        return False
    return (today - observed_on).days > measure.freshness_days


def band_for(score: float | None, coverage: float, limits: BandLimits) -> str:
    if score is None or coverage < limits.coverage_floor:
        return INSUFFICIENT
    if score >= limits.healthy:
        return HEALTHY
    if score >= limits.at_risk:
        return AT_RISK
    return CRITICAL


def compute_health(
    measures: Sequence[Measure],
    signals: Mapping[str, SignalValue],
    *,
    today: date,
    now: datetime,
    limits: BandLimits = BandLimits(),
    override: Override | None = None,
) -> HealthResult:
    """The composite: the weighted mean of the measures with fresh data, re-weighted over
    the weight that had data; each measure's points lost add up to 100 − score."""
    scored: list[tuple[Measure, float | str | None, float | None, bool]] = []
    for measure in measures:
        signal = signals.get(measure.signal, SignalValue(None))
        stale = signal.value is not None and is_stale(measure, signal.observed_on, today)
        score = None if stale else measure_score(measure, signal.value)
        scored.append((measure, signal.value, score, stale))
    total_weight = sum(m.weight for m in measures)
    present_weight = sum(m.weight for m, _, s, _ in scored if s is not None)
    coverage = present_weight / total_weight if total_weight else 0.0
    composite = (
        sum(m.weight * s for m, _, s, _ in scored if s is not None) / present_weight
        if present_weight
        else None
    )
    results = tuple(
        MeasureResult(
            key=m.key,
            value=value,
            score=score,
            weight=m.weight,
            points_lost=(m.weight * (100.0 - score) / present_weight)
            if score is not None
            else None,
            stale=stale,
            missing=score is None,
        )
        for m, value, score, stale in scored
    )
    band = band_for(composite, coverage, limits)
    active = override if override is not None and override.expires_at > now else None
    final_score, final_band = composite, band
    if active is not None:
        if active.score is not None:
            final_score = active.score
            final_band = active.band or band_for(active.score, 1.0, limits)
        if active.band is not None:
            final_band = active.band
    return HealthResult(final_score, final_band, coverage, results, composite, band, active)


def what_changed(
    current: Mapping[str, float | None], earlier: Mapping[str, float | None]
) -> dict[str, float | None]:
    """Per-measure score difference against an earlier snapshot (None when either is
    missing), so "why did this account drop?" has an answer measure by measure."""
    return {
        key: (value - earlier[key]) if value is not None and earlier.get(key) is not None else None
        for key, value in current.items()
    }
