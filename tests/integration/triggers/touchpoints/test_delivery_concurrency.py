"""Two delivery workers, as real processes, on one PostgreSQL database at the same time:
1,000 due touchpoints, each received by the SMTP server exactly once.

PostgreSQL only: there, workers claim rows with ``FOR UPDATE SKIP LOCKED`` and truly run in
parallel. SQLite has one writer at a time, so two workers there are serialised by the
database itself and this test would prove nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.touchpoints.delivery import claim_due
from cs_app.triggers.touchpoints.models import Touchpoint
from tests.conftest import TEST_DATABASE_URL
from tests.integration.delivery_worker import (
    finish,
    migrated_app,
    seed_touchpoints,
    start_worker,
    statuses,
    wait_until,
)
from tests.integration.smtp_server import smtp_server

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgres"),
    reason="needs PostgreSQL (CS_APP_TEST_DATABASE_URL): SQLite serialises all writers, so two "
    "workers there cannot race",
)

TOUCHPOINTS = 1000


def test_two_workers_at_once_send_each_of_1000_touchpoints_exactly_once(
    throwaway_database, tmp_path
):
    url = throwaway_database()
    with migrated_app(url) as app:
        seeded = seed_touchpoints(app, TOUCHPOINTS)
        expected = {message_id for _, message_id in seeded}
        ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
        gate = tmp_path / "go"

        with smtp_server() as (sink, port):
            sink.delay = 0.002  # a little latency, as a real server has: runs overlap longer
            workers = [
                start_worker(url, port, tmp_path, name, until_idle=True, ready=flag, gate=gate)
                for name, flag in zip(("worker-a", "worker-b"), ready, strict=True)
            ]
            wait_until(
                lambda: all(flag.exists() for flag in ready),
                timeout=90,
                message="the workers did not start",
            )
            gate.touch()  # both begin claiming at the same instant
            for worker in workers:
                finish(worker, timeout=300)
            received = sink.message_ids()

        assert len(received) == TOUCHPOINTS
        assert set(received) == expected
        duplicates = {message_id: n for message_id, n in received.items() if n != 1}
        assert duplicates == {}
        assert set(statuses(app).values()) == {"sent"}
        with app.app_context():
            senders = db.session.execute(
                select(Touchpoint.claimed_by, func.count()).group_by(Touchpoint.claimed_by)
            ).all()
            attempts = set(db.session.scalars(select(Touchpoint.attempts).distinct()))
            db.session.remove()
    processes = {claim.rsplit(":", 1)[0] for claim, _ in senders}
    assert len(processes) == 2, f"both workers should have sent some: {senders}"
    assert attempts == {1}


def test_a_claim_passes_over_rows_another_worker_is_claiming_without_waiting(throwaway_database):
    url = throwaway_database()
    with migrated_app(url) as app:
        ids = [touchpoint_id for touchpoint_id, _ in seed_touchpoints(app, 5)]
        other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with other.connect() as connection:
            # another worker, mid-claim, holds the first two rows
            connection.execute(text("SET lock_timeout = '5s'"))
            connection.execute(
                text("SELECT id FROM touchpoints WHERE id IN (:a, :b) FOR UPDATE"),
                {"a": ids[0], "b": ids[1]},
            )
            with app.app_context():
                db.session.execute(text("SET lock_timeout = '2s'"))  # a wait would fail
                claimed = claim_due("me", clock=utcnow(), lease=timedelta(minutes=5), limit=10)
                db.session.remove()
            connection.rollback()
        other.dispose()
    assert claimed == ids[2:]
