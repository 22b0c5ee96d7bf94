"""Bulk ingestion of events and metrics: idempotence, per-item errors, valid items kept."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from cs_app.accounts.ingest import ingest_events, ingest_metrics
from cs_app.accounts.usage_models import (
    AccountActivity,
    AccountFeature,
    AccountUser,
    MetricValue,
    UsageEvent,
)
from cs_app.extensions import db
from tests.factories import AccountFactory


def event(event_id, account="ACME", kind="login", at="2026-11-20T10:00:00Z", **extra):
    return {"id": event_id, "account": account, "type": kind, "at": at, **extra}


def test_events_are_idempotent_on_id(app, now):
    AccountFactory(external_id="ACME")
    first = ingest_events([event("e1"), event("e2")], now=now)
    again = ingest_events([event("e1"), event("e2"), event("e3")], now=now)
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (1, 2)
    assert db.session.scalar(select(func.count(UsageEvent.id))) == 3


def test_duplicate_ids_within_one_batch_count_once(app, now):
    AccountFactory(external_id="ACME")
    result = ingest_events([event("e1"), event("e1")], now=now)
    assert (result.accepted, result.duplicates, result.errors) == (1, 1, [])


def test_mixed_batch_keeps_valid_items_and_reports_each_bad_one(app, now):
    AccountFactory(external_id="ACME")
    result = ingest_events(
        [
            event("ok-1"),
            event("bad-account", account="NOPE"),
            event("bad-time", at="yesterday"),
            event("bad-nps", kind="nps_response", properties={"score": 11}),
            {"id": "no-type", "account": "ACME", "at": "2026-11-20T10:00:00Z"},
            event("bad-sentiment", kind="support_ticket", properties={"sentiment": "angry"}),
            event("ok-2", kind="feature_used", properties={"feature": "reports"}),
            "not an object",
            event("extra", colour="blue"),
        ],
        now=now,
    )
    assert result.accepted == 2
    messages = {e["index"]: e["message"] for e in result.errors}
    assert sorted(messages) == [1, 2, 3, 4, 5, 7, 8]
    assert "no account has the external_id 'NOPE'" in messages[1]
    assert "ISO 8601" in messages[2]
    assert "0 to 10" in messages[3]
    assert "type is required" in messages[4]
    assert "sentiment must be one of" in messages[5]
    assert "JSON object" in messages[7]
    assert "unknown field(s): colour" in messages[8]


def test_activity_tracks_first_last_event_and_last_login(app, now):
    account = AccountFactory(external_id="ACME")
    ingest_events(
        [
            event("a", at="2026-11-10T08:00:00Z"),
            event("b", kind="feature_used", at="2026-11-19T08:00:00Z", properties={"feature": "x"}),
        ],
        now=now,
    )
    ingest_events([event("c", at="2026-11-01T08:00:00Z")], now=now)
    activity = db.session.get(AccountActivity, account.id)
    assert activity.first_event_at.isoformat() == "2026-11-01T08:00:00+00:00"
    assert activity.last_event_at.isoformat() == "2026-11-19T08:00:00+00:00"
    assert activity.last_login_at.isoformat() == "2026-11-10T08:00:00+00:00"


def test_account_users_and_features_keep_the_outermost_times_whatever_the_order(app, now):
    """Backfilled history arrives after newer events, batches mix old and new, the same user
    or feature repeats within a batch: the tables must still agree with the stored events
    (newest event per user; first and newest use per feature), as the migration's backfill
    computes them."""
    AccountFactory(external_id="ACME")
    AccountFactory(external_id="BETA")
    rng = random.Random(11)
    items = []
    for n in range(300):
        kind = rng.choice(("login", "feature_used", "feature_used", "support_ticket"))
        item = event(
            f"e{n}",
            account=rng.choice(("ACME", "BETA")),
            kind=kind,
            at=(now - timedelta(minutes=rng.randint(-600, 90 * 1440))).isoformat(),
        )
        if kind != "support_ticket":
            item["user"] = rng.choice(("ann", "bob", "cy", "dee"))
        if kind == "feature_used":
            item["properties"] = {"feature": rng.choice(("reports", "exports", "api"))}
        items.append(item)
    rng.shuffle(items)
    for start in range(0, len(items), 70):
        assert ingest_events(items[start : start + 70], now=now).errors == []

    events = db.session.execute(
        select(
            UsageEvent.account_id,
            UsageEvent.user_ref,
            UsageEvent.event_type,
            UsageEvent.properties,
            UsageEvent.occurred_at,
        )
    ).all()
    newest_per_user: dict = {}
    span_per_feature: dict = {}
    for account_id, user, kind, properties, moment in events:
        if user is not None:
            key = (account_id, user)
            newest_per_user[key] = max(moment, newest_per_user.get(key, moment))
        if kind == "feature_used":
            key = (account_id, properties["feature"])
            first, last = span_per_feature.get(key, (moment, moment))
            span_per_feature[key] = (min(first, moment), max(last, moment))
    users = {
        (u.account_id, u.user_ref): u.last_seen_at for u in db.session.scalars(select(AccountUser))
    }
    features = {
        (f.account_id, f.feature): (f.first_used_at, f.last_used_at)
        for f in db.session.scalars(select(AccountFeature))
    }
    assert len(users) == 8 and users == newest_per_user
    assert len(features) == 6 and features == span_per_feature


def test_a_feature_name_over_200_characters_is_refused(app, now):
    AccountFactory(external_id="ACME")
    result = ingest_events(
        [
            event("ok", kind="feature_used", properties={"feature": "r" * 200}),
            event("long", kind="feature_used", properties={"feature": "r" * 201}),
        ],
        now=now,
    )
    assert result.accepted == 1
    assert [e["index"] for e in result.errors] == [1]
    assert "at most 200 characters" in result.errors[0]["message"]
    assert db.session.scalar(select(AccountFeature.feature)) == "r" * 200


def test_metrics_same_value_is_duplicate_new_value_replaces(app, now):
    AccountFactory(external_id="ACME")
    item = {"account": "ACME", "key": "seats_used", "value": 12, "date": "2026-11-20"}
    assert ingest_metrics([item], now=now).accepted == 1
    same = ingest_metrics([item], now=now)
    assert (same.accepted, same.duplicates) == (0, 1)
    changed = ingest_metrics([item | {"value": 14}], now=now)
    assert changed.accepted == 1
    assert db.session.scalar(select(MetricValue.value)) == 14


def test_metric_refusals_are_reported_by_index(app, now):
    AccountFactory(external_id="ACME")
    result = ingest_metrics(
        [
            {"account": "ACME", "key": "Bad Key", "value": 1, "date": "2026-11-20"},
            {"account": "ACME", "key": "k", "value": "high", "date": "2026-11-20"},
            {"account": "ACME", "key": "k", "value": 1, "date": "20/11/2026"},
            {"account": "ACME", "key": "k", "value": 1, "date": "2026-11-20"},
        ],
        now=now,
    )
    assert result.accepted == 1
    assert [e["index"] for e in result.errors] == [0, 1, 2]
    assert "key is required" in result.errors[0]["message"]
    assert "finite number" in result.errors[1]["message"]
    assert "YYYY-MM-DD" in result.errors[2]["message"]
