"""Backtest a scorecard version: replay it over stored snapshots and compare the bands it would
have given with what then happened (accounts that churned or expanded).

The replay reads the signal values recorded in each snapshot's measures, so a version that
uses a signal no earlier version scored has no history for it: that measure counts as missing
and the result names it. Nothing is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select

from cs_app.accounts.models import Account, LifecycleStageEntry
from cs_app.extensions import db
from cs_app.health import scoring
from cs_app.health.models import HealthSnapshot, ScorecardVersion
from cs_app.health.recompute import active_scorecards, band_limits, pure_measures, scope_of
from cs_app.sql import chunks

OUTCOMES = ("churned", "expansion")
WORRY_BANDS = (scoring.AT_RISK, scoring.CRITICAL)


@dataclass
class GroupResult:
    accounts: int = 0
    bands: Counter = field(default_factory=Counter)

    def share(self, bands: tuple[str, ...]) -> float | None:
        scored = self.accounts - self.bands.get("no_history", 0)
        if scored <= 0:
            return None
        return sum(self.bands.get(b, 0) for b in bands) / scored


@dataclass
class BacktestResult:
    version: ScorecardVersion
    window_days: int
    lead_days: int
    groups: dict[str, GroupResult]
    signals_without_history: list[str]

    @property
    def churn_caught(self) -> float | None:
        """Share of churned accounts that were at risk or critical ``lead_days`` before."""
        return self.groups["churned"].share(WORRY_BANDS)

    @property
    def false_alarms(self) -> float | None:
        """Share of accounts that stayed and were flagged anyway."""
        return self.groups["retained"].share(WORRY_BANDS)

    @property
    def expansion_healthy(self) -> float | None:
        return self.groups["expanded"].share((scoring.HEALTHY,))

    def as_dict(self) -> dict:
        return {
            "scorecard_version": self.version.number,
            "window_days": self.window_days,
            "lead_days": self.lead_days,
            "groups": {
                name: {"accounts": g.accounts, "bands": dict(g.bands)}
                for name, g in self.groups.items()
            },
            "churn_caught": self.churn_caught,
            "false_alarms": self.false_alarms,
            "expansion_healthy": self.expansion_healthy,
            "signals_without_history": self.signals_without_history,
        }


def _replay(
    version: ScorecardVersion, snapshot_measures: list[dict], day: date, now: datetime
) -> str:
    values = {
        m.get("signal"): scoring.SignalValue(m.get("value"), day)
        for m in snapshot_measures or []
        if m.get("signal")
    }
    result = scoring.compute_health(
        pure_measures(version), values, today=day, now=now, limits=band_limits(version)
    )
    return result.band


def backtest(
    version: ScorecardVersion, *, now: datetime, window_days: int = 180, lead_days: int = 30
) -> BacktestResult:
    today = now.date()
    since = today - timedelta(days=window_days)
    cards = active_scorecards()
    scope = scope_of(version.scorecard, cards)
    outcomes: dict[int, tuple[str, date]] = {}
    for account_id, stage, entered_on in db.session.execute(
        select(
            LifecycleStageEntry.account_id,
            LifecycleStageEntry.stage,
            func.min(LifecycleStageEntry.entered_on),
        )
        .join(Account, Account.id == LifecycleStageEntry.account_id)
        .where(
            LifecycleStageEntry.stage.in_(OUTCOMES), LifecycleStageEntry.entered_on > since, scope
        )
        .group_by(LifecycleStageEntry.account_id, LifecycleStageEntry.stage)
    ).all():
        if account_id not in outcomes or entered_on < outcomes[account_id][1]:
            outcomes[account_id] = (stage, entered_on)
    recorded = {
        m.get("signal")
        for (measures,) in db.session.execute(
            select(HealthSnapshot.measures).where(HealthSnapshot.day > since).limit(200)
        )
        for m in measures or []
    }
    groups = {"churned": GroupResult(), "expanded": GroupResult(), "retained": GroupResult()}
    reference_day = today - timedelta(days=lead_days)
    snapshot_day = (
        select(HealthSnapshot.account_id, func.max(HealthSnapshot.day).label("day"))
        .where(
            HealthSnapshot.day <= reference_day,
            HealthSnapshot.day > reference_day - timedelta(days=30),
        )
        .group_by(HealthSnapshot.account_id)
        .subquery()
    )
    retained_rows = db.session.execute(
        select(Account.id, HealthSnapshot.measures, HealthSnapshot.day)
        .outerjoin(snapshot_day, snapshot_day.c.account_id == Account.id)
        .outerjoin(
            HealthSnapshot,
            and_(HealthSnapshot.account_id == Account.id, HealthSnapshot.day == snapshot_day.c.day),
        )
        .where(scope, Account.lifecycle_stage != "churned")
    ).all()
    for account_id, measures, day in retained_rows:
        if account_id in outcomes:
            continue
        group = groups["retained"]
        group.accounts += 1
        group.bands[_replay(version, measures, day, now) if day else "no_history"] += 1
    history: dict[int, list[tuple[date, list]]] = {}
    ids = list(outcomes)
    for chunk in chunks(ids):
        for account_id, day, measures in db.session.execute(
            select(HealthSnapshot.account_id, HealthSnapshot.day, HealthSnapshot.measures).where(
                HealthSnapshot.account_id.in_(chunk),
                HealthSnapshot.day > since - timedelta(days=lead_days + 30),
            )
        ).all():
            history.setdefault(account_id, []).append((day, measures))
    for account_id, (stage, entered_on) in outcomes.items():
        before = entered_on - timedelta(days=lead_days)
        candidates = [
            (day, measures)
            for day, measures in history.get(account_id, [])
            if before - timedelta(days=30) < day <= before
        ]
        group = groups["churned" if stage == "churned" else "expanded"]
        group.accounts += 1
        if candidates:
            day, measures = max(candidates, key=lambda item: item[0])
            group.bands[_replay(version, measures, day, now)] += 1
        else:
            group.bands["no_history"] += 1
    missing = sorted({m.signal for m in version.measures} - recorded)
    return BacktestResult(version, window_days, lead_days, groups, missing)
