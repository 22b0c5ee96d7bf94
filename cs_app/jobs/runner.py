"""Run one job by name, recording the run; the CLI, the scheduler and tests all use this."""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import import_module

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.jobs.models import JobRun, SchedulerLease

WORKER = f"{socket.gethostname()}:{os.getpid()}"


def resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def run_job(name: str, *, trigger: str, now: datetime | None = None) -> JobRun:
    """Run job ``name`` once: record the start, run it, commit, record the end or the error."""
    from cs_app.scheduler import job_by_name

    job = job_by_name(name)
    started = now or utcnow()
    run = JobRun(
        job_name=name, trigger=trigger, started_at=started, status="running", worker=WORKER
    )
    db.session.add(run)
    db.session.commit()
    try:
        counts = resolve(job.target)(now=started)
        db.session.commit()
    except Exception as error:  # a failing job is recorded, never silently lost
        db.session.rollback()
        run = db.session.get(JobRun, run.id)
        run.status, run.finished_at = "failed", utcnow()
        run.error = "".join(traceback.format_exception_only(error)).strip()[:4000]
        db.session.commit()
        raise
    run = db.session.get(JobRun, run.id)
    run.status, run.finished_at, run.counts = "succeeded", utcnow(), counts or {}
    db.session.commit()
    return run


def recent_runs(limit: int = 100) -> list[JobRun]:
    return list(
        db.session.scalars(
            select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
        )
    )


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
