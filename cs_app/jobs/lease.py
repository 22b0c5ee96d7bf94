"""The leader lease: a row in the database that one process holds at a time, so that with
several processes (web workers, ``cs-app scheduler`` on two hosts) exactly one runs the jobs.
``WORKER`` names this process in job runs and delivery claims."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.jobs.models import SchedulerLease

WORKER = f"{socket.gethostname()}:{os.getpid()}"


def acquire_lease(name: str, holder: str, *, now: datetime, ttl_seconds: int) -> bool:
    """Take or renew the lease ``name`` for ``holder``; True when ``holder`` is the leader.

    One conditional UPDATE (ours, or expired) and, for a lease never taken, one INSERT whose
    primary key makes a race between two first takers safe.
    """
    expires = now + timedelta(seconds=ttl_seconds)
    taken = db.session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            (SchedulerLease.holder == holder) | (SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
    ).rowcount
    if taken:
        db.session.commit()
        return True
    if db.session.get(SchedulerLease, name) is not None:
        db.session.rollback()
        return False
    try:
        db.session.add(SchedulerLease(name=name, holder=holder, expires_at=expires))
        db.session.commit()
        return True
    except IntegrityError:
        db.session.rollback()
        return False


def release_lease(name: str, holder: str) -> None:
    db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=utcnow())
    )
    db.session.commit()
