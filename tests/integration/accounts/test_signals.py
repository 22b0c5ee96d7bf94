"""Signals computed set-wise in SQL, checked value by value on hand-made data."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import insert, select

from cs_app.accounts.ingest import ingest_events, ingest_metrics
from cs_app.accounts.models import Account
from cs_app.accounts.signal_catalog import SIGNALS
from cs_app.accounts.signals import compute_signals
from cs_app.accounts.usage_models import (
    AccountActivity,
    AccountFeature,
    AccountSignals,
    AccountUser,
    UsageEvent,
)
from cs_app.config import TestConfig
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from tests.factories import (
    AccountFactory,
    ActionFactory,
    ContactFactory,
    MilestoneFactory,
    PlanFactory,
    RiskFactory,
)


def at(now, days_ago, hour=10):
    return (now - timedelta(days=days_ago)).replace(hour=hour).isoformat()


@pytest.fixture
def busy_account(app, now):
    account = AccountFactory(
        external_id="BUSY",
        seats_purchased=20,
        renewal_date=date(2027, 1, 20),
        contract_start=date(2026, 1, 15),
        trial_ends_on=date(2026, 11, 24),
        segment="SMB",
        arr_minor=1_200_000,
        lifecycle_stage="adoption",
    )
    events = []
    for n in range(3):
        events.append(
            {"id": f"l7-{n}", "account": "BUSY", "type": "login", "at": at(now, 2), "user": f"u{n}"}
        )
    for n in range(2):
        events.append(
            {"id": f"l30-{n}", "account": "BUSY", "type": "login", "at": at(now, 20), "user": "u9"}
        )
    for n in range(10):
        events.append(
            {"id": f"old-{n}", "account": "BUSY", "type": "login", "at": at(now, 45), "user": "u1"}
        )
    events += [
        {
            "id": "f1",
            "account": "BUSY",
            "type": "feature_used",
            "at": at(now, 3),
            "properties": {"feature": "reports"},
        },
        {
            "id": "f2",
            "account": "BUSY",
            "type": "feature_used",
            "at": at(now, 4),
            "properties": {"feature": "reports"},
        },
        {
            "id": "f3",
            "account": "BUSY",
            "type": "feature_used",
            "at": at(now, 5),
            "properties": {"feature": "export"},
        },
        {
            "id": "f-old",
            "account": "BUSY",
            "type": "feature_used",
            "at": at(now, 40),
            "properties": {"feature": "sso"},
        },
        {
            "id": "seat",
            "account": "BUSY",
            "type": "seat_added",
            "at": at(now, 6),
            "properties": {"count": 3},
        },
        {
            "id": "gate",
            "account": "BUSY",
            "type": "feature_gate_hit",
            "at": at(now, 1),
            "properties": {"feature": "sso"},
        },
        {
            "id": "t1",
            "account": "BUSY",
            "type": "support_ticket",
            "at": at(now, 9),
            "properties": {"sentiment": "negative"},
        },
        {
            "id": "t2",
            "account": "BUSY",
            "type": "support_ticket",
            "at": at(now, 3),
            "properties": {"sentiment": "positive", "status": "closed"},
        },
        {
            "id": "nps-old",
            "account": "BUSY",
            "type": "nps_response",
            "at": at(now, 50),
            "properties": {"score": 10},
        },
        {
            "id": "nps",
            "account": "BUSY",
            "type": "nps_response",
            "at": at(now, 8),
            "properties": {"score": 6},
        },
        {"id": "up", "account": "BUSY", "type": "upgrade_viewed", "at": at(now, 2)},
    ]
    result = ingest_events(events, now=now)
    assert result.errors == []
    ingest_metrics(
        [
            {"account": "BUSY", "key": "quota_used_pct", "value": 85, "date": "2026-11-20"},
            {"account": "BUSY", "key": "quota_used_pct", "value": 60, "date": "2026-11-01"},
        ],
        now=now,
    )
    return account


def signals_of(account):
    db.session.expire_all()
    return db.session.get(AccountSignals, account.id)


def test_event_window_signals(busy_account, now):
    compute_signals(now=now)
    s = signals_of(busy_account)
    assert (s.logins_7d, s.logins_30d) == (3, 5)
    assert s.days_since_last_login == 2
    assert s.active_users_30d == 4  # u0 u1 u2 u9 (events without a user are not people)
    assert s.features_used_30d == 2
    assert s.usage_30d == 8  # 5 logins + 3 feature uses
    assert s.usage_change_pct == pytest.approx((8 - 11) / 11 * 100)
    assert s.seats_added_30d == 3
    assert s.feature_gate_hits_7d == 1
    assert s.open_tickets == 1
    assert (s.support_sentiment, s.support_sentiment_on) == ("positive", date(2026, 11, 18))
    assert (s.last_nps, s.nps_category, s.last_nps_on) == (6, "detractor", date(2026, 11, 13))
    assert s.quota_used_pct == 85
    assert s.seats_used == 4 and s.seat_utilization_pct == pytest.approx(20.0)
    assert s.upgrade_intent_open is True


def test_active_users_and_features_as_of_any_time_match_distinct_counts_over_events(app, now):
    """The two counts come from account_users / account_features, not from the events; they
    must equal the distinct users (features) of the events in the 30 days up to ``now``, also
    when recomputed as of an earlier time, with newer events already stored (a user whose
    newest event is after ``now`` may or may not have had one in the window)."""
    rng = random.Random(5)
    items = []
    for name in ("A", "B", "C", "D"):
        AccountFactory(external_id=name)
        for n in range(60):
            kind = rng.choice(("login", "feature_used", "feature_gate_hit"))
            item = {
                "id": f"{name}{n}",
                "account": name,
                "type": kind,
                "at": (now - timedelta(hours=rng.randint(-20 * 24, 50 * 24))).isoformat(),
                "user": rng.choice(("ann", "bob", "cy", "dee", "eve", "fay")),
            }
            if kind != "login":
                item["properties"] = {"feature": rng.choice(("reports", "api", "sso", "alerts"))}
            items.append(item)
    rng.shuffle(items)
    assert ingest_events(items, now=now).errors == []
    for as_of in (now, now - timedelta(days=10), now - timedelta(days=3, hours=5)):
        window = [
            i
            for i in items
            if as_of - timedelta(days=30) <= datetime.fromisoformat(i["at"]) <= as_of
        ]
        compute_signals(now=as_of)
        for account in ("A", "B", "C", "D"):
            mine = [i for i in window if i["account"] == account]
            s = signals_of(db.session.scalar(select(Account).filter_by(external_id=account)))
            assert s.active_users_30d == len({i["user"] for i in mine}), (as_of, account)
            assert s.features_used_30d == len(
                {i["properties"]["feature"] for i in mine if i["type"] == "feature_used"}
            ), (as_of, account)
    assert any(datetime.fromisoformat(i["at"]) > now for i in items)


def test_account_signals(busy_account, now):
    compute_signals(now=now)
    s = signals_of(busy_account)
    assert s.days_to_renewal == (date(2027, 1, 20) - date(2026, 11, 21)).days
    assert s.account_age_days == (date(2026, 11, 21) - date(2026, 1, 15)).days
    assert s.trial_days_left == 3
    assert (s.segment, s.lifecycle_stage, s.arr, s.seats_purchased) == (
        "SMB",
        "adoption",
        1_200_000,
        20,
    )


def test_account_without_events_has_no_usage_data_rather_than_zero(app, now):
    quiet = AccountFactory()
    compute_signals(now=now)
    s = signals_of(quiet)
    assert s.logins_30d is None and s.usage_30d is None and s.days_since_last_login is None
    assert s.last_nps is None and s.champion_departed is None


def test_plan_and_contact_signals(app, now):
    plan = PlanFactory(status="active", next_review_on=date(2026, 11, 1))
    ActionFactory(plan=plan, due_date=date(2026, 11, 20))
    ActionFactory(plan=plan, due_date=date(2026, 11, 20), status="done")
    ActionFactory(plan=plan, due_date=date(2026, 12, 20))
    MilestoneFactory(plan=plan, target_date=date(2026, 10, 1))
    RiskFactory(plan=plan, likelihood="high", impact="medium")
    RiskFactory(plan=plan, likelihood="medium", impact="medium")
    RiskFactory(plan=plan, likelihood="high", impact="high", status="closed")
    draft = PlanFactory(account=plan.account, status="draft", next_review_on=date(2026, 1, 1))
    ActionFactory(plan=draft, due_date=date(2026, 1, 1))
    ContactFactory(
        account=plan.account, role="executive_sponsor", last_contact_on=date(2026, 10, 22)
    )
    ContactFactory(account=plan.account, role="champion", status="departed")
    compute_signals(now=now)
    s = signals_of(plan.account)
    assert (s.overdue_actions, s.overdue_milestones, s.open_high_risks) == (1, 1, 1)
    assert s.plan_review_overdue is True
    assert s.days_since_sponsor_contact == 30
    assert s.champion_departed is True


def test_a_new_active_champion_clears_champion_departed(app, now):
    account = AccountFactory()
    ContactFactory(account=account, role="champion", status="departed")
    ContactFactory(account=account, role="champion", status="active")
    compute_signals(now=now)
    assert signals_of(account).champion_departed is False


def test_health_signals_read_the_snapshots(app, now):
    account = AccountFactory()
    for day, score in ((date(2026, 10, 20), 80.0), (date(2026, 11, 21), 55.0)):
        db.session.add(
            HealthSnapshot(
                account_id=account.id,
                day=day,
                score=score,
                band="at_risk",
                coverage=1.0,
                computed_score=score,
                computed_band="at_risk",
                measures=[],
            )
        )
    db.session.flush()
    compute_signals(now=now)
    s = signals_of(account)
    assert (s.health_score, s.health_band, s.health_change_30d) == (55.0, "at_risk", -25.0)


def test_recompute_for_some_accounts_leaves_the_others(app, now):
    first, second = AccountFactory(), AccountFactory()
    assert compute_signals(now=now) >= 2
    assert compute_signals(now=now, account_ids=[first.id]) == 1
    assert signals_of(second) is not None


def test_recompute_for_some_accounts_gives_the_same_signals_as_a_full_run(busy_account, now):
    other = AccountFactory(external_id="OTHER")
    assert (
        ingest_events(
            [
                {
                    "id": "o-nps",
                    "account": "OTHER",
                    "type": "nps_response",
                    "at": at(now, 1),
                    "properties": {"score": 10},
                },
                {
                    "id": "o-login",
                    "account": "OTHER",
                    "type": "login",
                    "at": at(now, 1),
                    "user": "x",
                },
            ],
            now=now,
        ).errors
        == []
    )
    db.session.add(
        HealthSnapshot(
            account_id=other.id,
            day=date(2026, 11, 21),
            score=90.0,
            band="healthy",
            coverage=1.0,
            computed_score=90.0,
            computed_band="healthy",
            measures=[],
        )
    )
    db.session.flush()
    columns = [c.key for c in AccountSignals.__table__.c if c.key != "computed_at"]
    compute_signals(now=now)
    full = {c: getattr(signals_of(busy_account), c) for c in columns}
    assert compute_signals(now=now, account_ids=[busy_account.id]) == 1
    assert {c: getattr(signals_of(busy_account), c) for c in columns} == full
    assert full["last_nps"] == 6 and signals_of(other).last_nps == 10


def test_every_catalog_signal_is_a_column():
    columns = set(AccountSignals.__table__.c.keys())
    assert set(SIGNALS) <= columns


USERS_AND_FEATURES_MIGRATION = "98be91d202bc"


def test_the_migration_fills_users_and_features_from_the_events_already_stored(
    throwaway_database, now
):
    """An install with events from before account_users / account_features existed keeps
    its signals: the migration fills both from the stored events."""
    from cs_app import create_app

    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": throwaway_database()})
    with app.app_context():
        try:
            config = current_app.extensions["migrate"].migrate.get_config()
            upgrade(
                revision=ScriptDirectory.from_config(config)
                .get_revision(USERS_AND_FEATURES_MIGRATION)
                .down_revision
            )
            account = AccountFactory()
            stored = [  # not in time order, as a backfill or late events leave them
                ("e1", "login", 3, "ann", None),
                ("e2", "login", 40, "ann", None),
                ("e3", "feature_used", 2, "bob", "reports"),
                ("e4", "feature_used", 50, "bob", "reports"),
                ("e5", "feature_used", 35, None, "exports"),
                ("e6", "login", 1, None, None),
                ("e7", "support_ticket", 5, "cy", None),
            ]
            db.session.execute(
                insert(UsageEvent.__table__),
                [
                    {
                        "event_id": event_id,
                        "account_id": account.id,
                        "event_type": kind,
                        "occurred_at": now - timedelta(days=days_ago),
                        "user_ref": user,
                        "properties": {"feature": feature} if feature else {},
                        "received_at": now,
                    }
                    for event_id, kind, days_ago, user, feature in stored
                ],
            )
            db.session.add(
                AccountActivity(
                    account_id=account.id,
                    first_event_at=now - timedelta(days=50),
                    last_event_at=now - timedelta(days=1),
                    last_login_at=now - timedelta(days=1),
                )
            )
            db.session.commit()
            upgrade()

            users = {u.user_ref: u.last_seen_at for u in db.session.scalars(select(AccountUser))}
            assert users == {
                "ann": now - timedelta(days=3),
                "bob": now - timedelta(days=2),
                "cy": now - timedelta(days=5),
            }
            features = {
                f.feature: (f.first_used_at, f.last_used_at)
                for f in db.session.scalars(select(AccountFeature))
            }
            assert features == {
                "reports": (now - timedelta(days=50), now - timedelta(days=2)),
                "exports": (now - timedelta(days=35), now - timedelta(days=35)),
            }
            compute_signals(now=now)
            s = db.session.get(AccountSignals, account.id)
            assert (s.active_users_30d, s.features_used_30d) == (3, 1)
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
