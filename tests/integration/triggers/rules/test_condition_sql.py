"""Rule conditions in SQL and in Python agree on generated trees and accounts."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import select

from cs_app.accounts.signal_catalog import SIGNALS
from cs_app.accounts.signals import compute_signals
from cs_app.accounts.usage_models import AccountSignals, MetricValue
from cs_app.extensions import db
from cs_app.triggers.rules.condition_sql import compile_condition
from cs_app.triggers.rules.rules import matches, validate_condition
from tests.factories import AccountFactory

NUMBERS = ["logins_30d", "days_to_renewal", "usage_change_pct", "metric.quota_used_pct"]
CATEGORIES = {
    "nps_category": ["promoter", "passive", "detractor"],
    "segment": ["SMB", "Mid-Market", "Enterprise"],
}
BOOLEANS = ["champion_departed", "plan_review_overdue"]


def signal_info(key):
    if key.startswith("metric."):
        return ("number", ())
    signal = SIGNALS.get(key)
    return (signal.kind, signal.categories) if signal else None


def random_clause(rng):
    kind = rng.choice(["number", "category", "boolean"])
    if kind == "number":
        signal = rng.choice(NUMBERS)
        op = rng.choice(
            ["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "between", "is_null", "not_null"]
        )
        if op in ("in", "not_in"):
            return {"signal": signal, "op": op, "value": rng.sample(range(-5, 40), 3)}
        if op == "between":
            low = rng.randint(-5, 20)
            return {"signal": signal, "op": op, "value": [low, low + rng.randint(0, 20)]}
        if op in ("is_null", "not_null"):
            return {"signal": signal, "op": op}
        return {"signal": signal, "op": op, "value": rng.randint(-5, 40)}
    if kind == "category":
        signal = rng.choice(list(CATEGORIES))
        op = rng.choice(["=", "!=", "in", "not_in", "is_null"])
        if op in ("in", "not_in"):
            return {"signal": signal, "op": op, "value": rng.sample(CATEGORIES[signal], 2)}
        if op == "is_null":
            return {"signal": signal, "op": op}
        return {"signal": signal, "op": op, "value": rng.choice(CATEGORIES[signal])}
    return {
        "signal": rng.choice(BOOLEANS),
        "op": rng.choice(["=", "!="]),
        "value": rng.choice([True, False]),
    }


def random_tree(rng, depth=0):
    if depth >= 3 or rng.random() < 0.35:
        return random_clause(rng)
    kind = rng.choice(["all", "any", "not"])
    if kind == "not":
        return {"not": random_tree(rng, depth + 1)}
    return {kind: [random_tree(rng, depth + 1) for _ in range(rng.randint(1, 3))]}


@pytest.mark.parametrize("seed", [7, 8])
def test_sql_and_python_agree(app, now, seed):
    rng = random.Random(seed)
    accounts = [
        AccountFactory(segment=rng.choice(["SMB", "Mid-Market", "Enterprise"])) for _ in range(30)
    ]
    compute_signals(now=now)
    rows = {}
    for account in accounts:
        signals = db.session.get(AccountSignals, account.id)
        signals.logins_30d = rng.choice([None, 0, 3, 12, 30])
        signals.days_to_renewal = rng.choice([None, -2, 0, 15, 35])
        signals.usage_change_pct = rng.choice([None, -55.5, 0.0, 12.5])
        signals.nps_category = rng.choice([None, "promoter", "passive", "detractor"])
        signals.champion_departed = rng.choice([None, True, False])
        signals.plan_review_overdue = rng.choice([True, False])
        quota = rng.choice([None, 79.0, 80.0, 100.0])
        if quota is not None:
            db.session.add(
                MetricValue(
                    account_id=account.id,
                    metric_key="quota_used_pct",
                    measured_on=date(2026, 11, 20),
                    value=quota,
                )
            )
        rows[account.id] = {
            "logins_30d": signals.logins_30d,
            "days_to_renewal": signals.days_to_renewal,
            "usage_change_pct": signals.usage_change_pct,
            "nps_category": signals.nps_category,
            "segment": account.segment,
            "champion_departed": signals.champion_departed,
            "plan_review_overdue": signals.plan_review_overdue,
            "metric.quota_used_pct": quota,
        }
    db.session.flush()
    for _ in range(60):
        tree = {"all": [random_tree(rng)]}
        validate_condition(tree, signal_info)
        in_sql = set(
            db.session.scalars(select(AccountSignals.account_id).where(compile_condition(tree)))
        )
        in_python = {account_id for account_id, values in rows.items() if matches(tree, values)}
        assert in_sql == in_python, tree
