"""The health card of the account page: score, band, trend chart, the reasons (measures) in
the order that cost the most points, the signals, and the override form.

The account page renders it, and the override routes re-render the page with it when a form
is refused; it lives beside the health service, not in a views module, so that neither page
imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cs_app.accounts.models import Account
from cs_app.accounts.signal_catalog import SIGNALS
from cs_app.accounts.signal_format import format_signal, signal_label
from cs_app.accounts.usage_models import AccountSignals
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health import queries, service
from cs_app.health.forms import OverrideForm
from cs_app.health.models import Scorecard
from cs_app.health.scoring import AT_RISK, BAND_LABELS, CRITICAL, HEALTHY, band_label
from cs_app.jobs.catch_up import ScoreDue, score_due
from cs_app.numbers import format_number

OVERRIDE_PREFIX = "override"
TREND_DAYS = 90


@dataclass
class MeasureLine:
    key: str
    label: str
    signal: str
    signal_label: str
    value: str
    score: float | None
    weight: float
    points_lost: float | None
    missing: bool
    stale: bool
    freshness_days: int | None
    change_7d: float | None
    change_30d: float | None


@dataclass
class SignalLine:
    key: str
    label: str
    description: str
    value: str
    used: bool


@dataclass
class HealthPanel:
    health: service.AccountHealth
    measures: list[MeasureLine]
    chart: dict[str, Any]
    signals: list[SignalLine]
    signals_computed_at: Any
    can_override: bool
    override_form: OverrideForm | None
    today: date
    score_due: ScoreDue | None = None  # only for an account without a score
    band_labels: dict[str, str] = field(default_factory=lambda: BAND_LABELS)

    @property
    def snapshot(self):
        return self.health.snapshot

    @property
    def scorecard(self) -> Scorecard | None:
        return self.health.version.scorecard if self.health.version else None

    @property
    def points_lost(self) -> float:
        return sum(m.points_lost or 0 for m in self.measures)

    @property
    def max_points_lost(self) -> float:
        """The biggest reason fills its bar; the others are drawn to the same scale."""
        return max((m.points_lost or 0 for m in self.measures), default=0) or 1.0

    @property
    def missing(self) -> list[MeasureLine]:
        return [m for m in self.measures if m.missing and not m.stale]

    @property
    def stale(self) -> list[MeasureLine]:
        return [m for m in self.measures if m.stale]


def _measure_lines(health: service.AccountHealth, currency: str) -> list[MeasureLine]:
    freshness = {m.key: m.freshness_days for m in health.version.measures} if health.version else {}
    lines = [
        MeasureLine(
            key=m.key,
            label=m.label,
            signal=m.signal,
            signal_label=signal_label(m.signal),
            value=format_signal(m.signal, m.value, currency),
            score=m.score,
            weight=m.weight,
            points_lost=m.points_lost,
            missing=m.missing,
            stale=m.stale,
            freshness_days=freshness.get(m.key),
            change_7d=m.change_7d,
            change_30d=m.change_30d,
        )
        for m in health.measures
    ]
    # the biggest reasons first; measures without data (no points either way) last
    return sorted(lines, key=lambda m: (m.points_lost is None, -(m.points_lost or 0)))


def _trend_chart(health: service.AccountHealth, today: date) -> dict[str, Any]:
    """Data for ``_charts.line_chart``: the score of each day of the last 90, the band zones
    of the version in force, and a dashed marker where the scorecard version changed."""
    start = today - timedelta(days=TREND_DAYS - 1)
    labels = queries.version_labels(s.scorecard_version_id for s in health.trend)
    points = [
        {
            "x": (s.day - start).days,
            "y": s.score,
            "label": f"{s.day.isoformat()}: "
            f"{'no score' if s.score is None else format_number(round(s.score, 1))} "
            f"({band_label(s.band)})",
        }
        for s in health.trend
    ]
    markers = []
    for earlier, later in zip(health.trend, health.trend[1:], strict=False):
        if earlier.scorecard_version_id != later.scorecard_version_id:
            label = labels.get(later.scorecard_version_id, "new scorecard")
            markers.append({"x": (later.day - start).days, "label": label})
    ticks = []
    month = date(start.year, start.month, 1)
    while month <= today:
        if month >= start:
            ticks.append({"x": (month - start).days, "label": f"{month:%b} 1"})
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    version = health.version
    zones = []
    if version is not None:
        zones = [
            {"from": version.healthy_min, "to": 100, "tone": "green", "label": band_label(HEALTHY)},
            {
                "from": version.at_risk_min,
                "to": version.healthy_min,
                "tone": "amber",
                "label": band_label(AT_RISK),
            },
            {"from": 0, "to": version.at_risk_min, "tone": "red", "label": band_label(CRITICAL)},
        ]
    return {
        "series": [{"name": "Health score", "tone": "blue", "points": points}],
        "x_min": 0,
        "x_max": TREND_DAYS - 1,
        "x_ticks": ticks,
        "markers": markers,
        "zones": zones,
        "start": start,
        "days": len(points),
    }


def _signal_lines(account: Account, used: set[str]) -> tuple[list[SignalLine], Any]:
    row = db.session.get(AccountSignals, account.id)
    if row is None:
        return [], None
    return [
        SignalLine(
            key,
            s.label,
            s.description,
            format_signal(key, getattr(row, key), account.currency),
            key in used,
        )
        for key, s in SIGNALS.items()
    ], row.computed_at


def account_health_context(
    account: Account, *, can_edit: bool, override_form: OverrideForm | None = None
) -> dict[str, Any]:
    """What ``templates/health/_account_health.html`` needs, for the account page. A fixed
    number of statements: the trend, the snapshots 7 and 30 days back, the version, the
    override, the version labels and the signals row; for an account not scored yet, when its
    score is due."""
    now = utcnow()
    health = service.account_health(account, now=now, trend_days=TREND_DAYS)
    if can_edit and override_form is None:
        override_form = OverrideForm(prefix=OVERRIDE_PREFIX, formdata=None)
        if health.override is not None:
            override_form.load(health.override)
    signals, computed_at = _signal_lines(account, {m.signal for m in health.measures})
    panel = HealthPanel(
        health=health,
        measures=_measure_lines(health, account.currency),
        chart=_trend_chart(health, now.date()),
        signals=signals,
        signals_computed_at=computed_at,
        can_override=can_edit,
        override_form=override_form if can_edit else None,
        today=now.date(),
        score_due=score_due(account.id, now=now) if health.snapshot is None else None,
    )
    return {"health_panel": panel}
