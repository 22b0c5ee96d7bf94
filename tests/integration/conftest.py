"""Integration fixtures: each test runs inside a transaction that is rolled back.

The app's session is bound to one connection whose outer transaction never commits; the code
under test commits to savepoints (``join_transaction_mode="create_savepoint"``), so views,
services and the CLI behave as in production and every test still starts from an empty schema.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from cs_app.extensions import db


@pytest.fixture
def app(migrated_app):
    with migrated_app.app_context():
        engines = db._app_engines[migrated_app]
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        try:
            yield migrated_app
        finally:
            db.session.remove()
            transaction.rollback()
            connection.close()
            engines[None] = engine


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def now():
    return datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` then ``counter.count`` statements ran."""

    class Counter:
        def __init__(self):
            self.statements: list[str] = []

        @property
        def count(self) -> int:
            return len(self.statements)

    @contextmanager
    def counting():
        counter = Counter()
        connection = db._app_engines[app][None]
        engine = connection.engine

        def before(conn, cursor, statement, parameters, context, executemany):
            if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK TO)", statement):
                counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


def sign_in(client, user, password="password123"):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def login(client):
    def do_login(user, password="password123"):
        return sign_in(client, user, password)

    return do_login


@pytest.fixture
def api_token(app, now):
    """``api_token(user)`` → headers with a fresh bearer token for ``user``."""
    from cs_app.auth.service import create_token

    def make(user):
        _, token = create_token(user, name="test", now=now)
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make
