"""On PostgreSQL two recomputes at once (the nightly run and a catch-up run, from two
scheduler processes) take turns instead of colliding on the signal rows both delete and
re-insert: the soak met ``UniqueViolation`` on ``pk_account_signals`` before they did.

A database of its own: both transactions commit for real, from two threads with a session
each."""

from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from cs_app import create_app
from cs_app.accounts.usage_models import AccountSignals
from cs_app.config import TestConfig
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health.recompute import recompute
from tests.conftest import TEST_DATABASE_URL
from tests.factories import AccountFactory

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgres"),
    reason="SQLite's writers already take turns; the advisory lock is PostgreSQL's",
)


@pytest.fixture
def own_app(throwaway_database):
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app({**config, "SQLALCHEMY_DATABASE_URI": throwaway_database()})
    with app.app_context():
        upgrade()
        AccountFactory.create_batch(40)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_a_second_recompute_waits_for_the_first_and_both_succeed(own_app):
    now = utcnow()
    first_holds, release, second_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first():
        with own_app.app_context():
            try:
                recompute(now=now)
                first_holds.set()
                release.wait(30)
                db.session.commit()
            except BaseException as error:  # reported to the test below
                errors.append(error)
                first_holds.set()
            finally:
                db.session.remove()

    def second():
        with own_app.app_context():
            try:
                recompute(now=now)
                db.session.commit()
            except BaseException as error:
                errors.append(error)
            finally:
                second_done.set()
                db.session.remove()

    a = threading.Thread(target=first)
    a.start()
    assert first_holds.wait(60)
    b = threading.Thread(target=second)
    b.start()
    assert not second_done.wait(1.5), "the second recompute ran while the first held its turn"
    release.set()
    a.join(60)
    b.join(60)
    assert errors == []
    with own_app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(AccountSignals))
        accounts = db.session.scalar(select(func.count(AccountSignals.account_id.distinct())))
    assert rows == accounts == 40
