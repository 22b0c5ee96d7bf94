"""A delivery worker killed with SIGKILL at the worst moments, then a worker started again after
the claim lease: every touchpoint ends sent, none is lost, and a message goes out twice only
when the crash fell between the SMTP server accepting it and the worker recording it — and
then both copies carry the same Message-ID, so the receiver can drop one.

(a) killed after claiming its batch, while the server holds the first message;
(b) killed after the server accepted a message, with the worker's "sent" UPDATE blocked by a
    lock the test holds (a row lock on PostgreSQL, the write lock on SQLite);
(c) killed after it committed the first message as sent, while the server holds the second.

Every wait is a poll or an event with a timeout, never a bare sleep.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.touchpoints.models import Touchpoint
from tests.integration.delivery_worker import (
    finish,
    kill,
    migrated_app,
    seed_touchpoints,
    start_worker,
    statuses,
    wait_until,
)
from tests.integration.smtp_server import smtp_server

TOUCHPOINTS = 5
HOLD_TIMEOUT = 60
PAST_THE_LEASE = timedelta(seconds=300 + 60)  # Config.DELIVERY_LEASE_SECONDS and a minute


@pytest.fixture
def database(throwaway_database):
    url = throwaway_database()
    with migrated_app(url) as app:
        yield url, app, seed_touchpoints(app, TOUCHPOINTS)


class Hold:
    """Blocks the SMTP server's answer to chosen messages until released (then refuses them
    with 451, to a worker that is dead by then)."""

    def __init__(self, hold_number: int) -> None:
        self.hold_number = hold_number
        self.seen = 0
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, message) -> str | None:
        self.seen += 1
        if self.seen != self.hold_number:
            return None
        self.arrived.set()
        self.release.wait(HOLD_TIMEOUT)
        return "451 4.3.0 Try again later"


def _claims(app) -> dict[int, tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(Touchpoint.id, Touchpoint.status, Touchpoint.claimed_by)
        ).all()
        db.session.remove()
    return {row.id: (row.status, row.claimed_by) for row in rows}


def _restart_after_the_lease(url, port, tmp_path) -> None:
    """A new worker, its clock past the dead worker's lease, until nothing is left."""
    finish(
        start_worker(
            url, port, tmp_path, "restarted", now=utcnow() + PAST_THE_LEASE, until_idle=True
        )
    )


def _assert_all_sent_once_except(app, seeded, received: Counter, twice: set[str]) -> None:
    expected = {message_id for _, message_id in seeded}
    assert set(statuses(app).values()) == {"sent"}, statuses(app)
    assert set(received) == expected  # none lost
    assert {mid for mid, n in received.items() if n == 2} == twice
    assert {n for mid, n in received.items() if mid not in twice} == {1}


def test_a_a_worker_killed_after_claiming_loses_nothing(database, tmp_path):
    url, app, seeded = database
    with smtp_server() as (sink, port):
        hold = Hold(hold_number=1)
        sink.before_accept = hold
        worker = start_worker(url, port, tmp_path, "claimer")
        try:
            assert hold.arrived.wait(HOLD_TIMEOUT), "the worker never sent a message"
            claims = _claims(app)
            assert {status for status, _ in claims.values()} == {"scheduled"}
            assert len({claim for _, claim in claims.values()}) == 1  # all claimed, by it
            assert None not in {claim for _, claim in claims.values()}
            kill(worker)
        finally:
            hold.release.set()
        sink.before_accept = None
        assert sink.received == []

        _restart_after_the_lease(url, port, tmp_path)
        received = sink.message_ids()
    _assert_all_sent_once_except(app, seeded, received, twice=set())


class LockOnAccept:
    """When the server accepts the first message, the test takes a lock that keeps the worker
    from recording it as sent: the touchpoint's row on PostgreSQL, the database's write lock
    on SQLite."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.accepted = threading.Event()
        self.message_id: str | None = None
        self.connection = None
        self.engine = None

    def __call__(self, message) -> None:
        if self.message_id is not None:
            return None
        self.message_id = message["Message-ID"]
        if self.url.get_backend_name() == "sqlite":
            self.connection = sqlite3.connect(
                self.url.database, timeout=30, isolation_level=None, check_same_thread=False
            )
            self.connection.execute("BEGIN IMMEDIATE")
        else:
            self.engine = create_engine(self.url)
            self.connection = self.engine.connect()
            self.connection.execute(
                text("SELECT id FROM touchpoints WHERE message_id = :m FOR UPDATE"),
                {"m": self.message_id},
            )
        self.accepted.set()
        return None  # accepted: the server has the message now

    def worker_blocked(self, name: str) -> bool:
        """PostgreSQL: the worker's connection is waiting for our lock."""
        return bool(
            self.connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                    "AND wait_event_type = 'Lock'"
                ),
                {"name": name},
            ).scalar()
        )

    def end_dead_sessions(self, name: str) -> None:
        """PostgreSQL: the killed worker's backend would notice its client is gone at its next
        read; end it now so no zombie holds a row lock when the next worker claims."""
        self.connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": name},
        )

    def release(self) -> None:
        if self.connection is None:
            return
        if self.engine is None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
        else:
            self.connection.rollback()
            self.connection.close()
            self.engine.dispose()
        self.connection = None


def test_b_a_worker_killed_between_the_servers_accept_and_its_commit_sends_that_one_again(
    database, tmp_path
):
    url, app, seeded = database
    postgres = make_url(url).get_backend_name() == "postgresql"
    with smtp_server() as (sink, port):
        lock = LockOnAccept(url)
        sink.before_accept = lock
        worker = start_worker(url, port, tmp_path, "committer")
        try:
            assert lock.accepted.wait(HOLD_TIMEOUT), "the worker never sent a message"
            sink.wait_for(1)
            if postgres:  # see it stuck on our lock, so the kill falls before its commit
                wait_until(
                    lambda: lock.worker_blocked("committer"),
                    timeout=30,
                    message="the worker's UPDATE never waited for the row lock",
                )
            kill(worker)
            if postgres:
                lock.end_dead_sessions("committer")
        finally:
            lock.release()
        sink.before_accept = None
        assert statuses(app)[lock.message_id] == "scheduled"  # the accept was never recorded

        _restart_after_the_lease(url, port, tmp_path)
        received = sink.message_ids()
    _assert_all_sent_once_except(app, seeded, received, twice={lock.message_id})
    copies = [item.message for item in sink.received if item.message_id == lock.message_id]
    assert [m["Message-ID"] for m in copies] == [lock.message_id] * 2
    assert re.fullmatch(r"<tp-seed-\d+\.\d+@example\.test>", lock.message_id)


def test_c_a_worker_killed_after_committing_does_not_send_that_one_again(database, tmp_path):
    url, app, seeded = database
    with smtp_server() as (sink, port):
        hold = Hold(hold_number=2)
        sink.before_accept = hold
        worker = start_worker(url, port, tmp_path, "sender")
        try:
            assert hold.arrived.wait(HOLD_TIMEOUT), "the worker never sent a second message"
            [first] = sink.received
            assert statuses(app)[first.message_id] == "sent"  # committed before the second
            kill(worker)
        finally:
            hold.release.set()
        sink.before_accept = None

        _restart_after_the_lease(url, port, tmp_path)
        received = sink.message_ids()
    _assert_all_sent_once_except(app, seeded, received, twice=set())
    assert received[first.message_id] == 1
