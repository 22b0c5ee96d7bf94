"""The migration to one open queue item per account and pool: existing items get their own
firing as their first reason, and an account's several open items in one pool become one (the
oldest, at the highest priority, holding every reason; the others resolved "no action" with a
note naming it), so the partial unique index can be built."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, inspect, text

from cs_app.config import TestConfig
from cs_app.extensions import db

BEFORE = "3c7e1f0a9b24"
AFTER = "5e1c7a3b9d24"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def fresh_app(throwaway_database):
    from cs_app import create_app

    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": throwaway_database()})
    with app.app_context():
        yield app
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def insert(connection, table: str, **values) -> int:
    """A row with the values given and a plain value in every other required column."""
    for column in inspect(connection).get_columns(table):
        name = column["name"]
        if name in values or column["nullable"] or column.get("default") is not None:
            continue
        if name == "id" or column.get("autoincrement") is True:
            continue
        kind = column["type"]
        if isinstance(kind, Boolean):
            values[name] = False
        elif isinstance(kind, Integer | Numeric):
            values[name] = 1
        elif isinstance(kind, DateTime):
            values[name] = NOW
        elif isinstance(kind, Date):
            values[name] = date(2026, 12, 1)
        elif "JSON" in type(kind).__name__.upper():
            values[name] = "{}"
        else:
            values[name] = f"v{len(values)}"[: getattr(kind, "length", None) or 10]
    names = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    return connection.execute(
        text(f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING id"), values
    ).scalar_one()


def test_duplicate_open_items_are_merged_into_the_oldest(fresh_app):
    upgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        pool = insert(connection, "csm_pools", key="rescue")
        account = insert(connection, "accounts", external_id="ACME", lifecycle_stage="adoption")
        other = insert(connection, "accounts", external_id="BETA", lifecycle_stage="adoption")
        rules = [insert(connection, "rules", name=f"Rule {n}", condition="{}") for n in range(3)]
        firings = [
            insert(connection, "rule_firings", rule_id=r, account_id=account, status="open")
            for r in rules
        ]

        def item(account_id, rule, firing, priority, created, status="open"):
            return insert(
                connection,
                "queue_items",
                pool_id=pool,
                account_id=account_id,
                rule_id=rule,
                firing_id=firing,
                title=f"Item {firing}",
                reason='{"x": 1}',
                priority=priority,
                status=status,
                created_at=datetime(2026, 11, created, tzinfo=UTC),
                sla_due_at=NOW,
                version=1,
            )

        oldest = item(account, rules[0], firings[0], "low", 1)
        newer = item(account, rules[1], firings[1], "high", 2, status="claimed")
        resolved = item(account, rules[2], firings[2], "normal", 3, status="resolved")
        alone = item(other, rules[0], None, "normal", 4)
    upgrade(revision=AFTER)
    with db.engine.connect() as connection:
        rows = {
            row.id: row
            for row in connection.execute(
                text("SELECT id, status, outcome, priority, notes FROM queue_items")
            )
        }
        reasons = connection.execute(
            text("SELECT queue_item_id, rule_id, firing_id FROM queue_item_reasons ORDER BY id")
        ).all()
    assert (rows[oldest].status, rows[oldest].priority) == ("open", "high")
    assert (rows[newer].status, rows[newer].outcome) == ("resolved", "no_action")
    assert f"Merged into queue item #{oldest}" in rows[newer].notes
    assert rows[resolved].status == "resolved" and rows[alone].status == "open"
    assert sorted(reasons) == sorted(
        [
            (oldest, rules[0], firings[0]),
            (oldest, rules[1], firings[1]),
            (resolved, rules[2], firings[2]),
            (alone, rules[0], None),
        ]
    )
