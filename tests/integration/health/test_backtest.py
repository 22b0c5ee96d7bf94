"""Scorecard backtest: replay over stored snapshots against churn and expansion."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cs_app.accounts.models import LifecycleStageEntry
from cs_app.extensions import db
from cs_app.health.backtest import backtest
from cs_app.health.models import HealthSnapshot, Scorecard
from tests.factories import AccountFactory


def _snapshot(account, day, days_since_login, features):
    db.session.add(
        HealthSnapshot(
            account_id=account.id,
            day=day,
            score=None,
            band="insufficient_data",
            coverage=0,
            computed_score=None,
            computed_band="insufficient_data",
            measures=[
                {
                    "key": "login_frequency",
                    "signal": "days_since_last_login",
                    "value": days_since_login,
                    "score": None,
                    "weight": 25,
                    "stale": 0,
                },
                {
                    "key": "feature_adoption",
                    "signal": "features_used_30d",
                    "value": features,
                    "score": None,
                    "weight": 25,
                    "stale": 0,
                },
            ],
        )
    )


def test_backtest_separates_churned_from_retained(app, now):
    version = db.session.scalar(
        select(Scorecard).where(Scorecard.key == "health-indicators")
    ).current_version
    today = now.date()
    churned = AccountFactory(segment="SMB", lifecycle_stage="churned")
    db.session.add(
        LifecycleStageEntry(
            account_id=churned.id, stage="churned", entered_on=today - timedelta(days=10)
        )
    )
    _snapshot(churned, today - timedelta(days=45), 40, 0)  # dark and unused: critical
    expanded = AccountFactory(segment="SMB", lifecycle_stage="expansion")
    db.session.add(
        LifecycleStageEntry(
            account_id=expanded.id, stage="expansion", entered_on=today - timedelta(days=5)
        )
    )
    _snapshot(expanded, today - timedelta(days=40), 1, 5)
    retained = [AccountFactory(segment="SMB") for _ in range(3)]
    for n, account in enumerate(retained):
        _snapshot(account, today - timedelta(days=31), 2 if n else 40, 4 if n else 0)
    AccountFactory(segment="SMB")  # no history at all
    db.session.flush()
    result = backtest(version, now=now)
    assert dict(result.groups["churned"].bands) == {"critical": 1}
    assert dict(result.groups["expanded"].bands) == {"healthy": 1}
    assert dict(result.groups["retained"].bands) == {"healthy": 2, "critical": 1, "no_history": 1}
    assert result.churn_caught == 1.0
    assert result.false_alarms == 1 / 3
    assert result.expansion_healthy == 1.0
    assert result.signals_without_history == ["nps_category", "support_sentiment"]
