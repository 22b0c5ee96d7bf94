"""The leader lease: a row in the database that one process holds at a time, so that with
several processes (web workers, ``cs-app scheduler`` on two hosts) exactly one runs the jobs.
``WORKER`` names this process in job runs and delivery claims; a lease holder is ``WORKER``
plus a suffix (``holder_name``), so when a process takes the lease from one whose lease
expired, the runs that process left "running" are closed as "abandoned". A run started by a
process that never held the lease (``cs-app jobs run`` from a shell) and that died mid-run is
closed by the leader's heartbeat, which can see that process is gone when it ran on the same
host (``abandon_runs_of_dead_processes``)."""

from __future__ import annotations

import errno
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.jobs.models import JobRun, SchedulerLease

WORKER = f"{socket.gethostname()}:{os.getpid()}"
PROCESS_STARTED = utcnow()


def holder_name() -> str:
    """A lease holder's name: this process (``WORKER``) and a suffix of its own."""
    return f"{WORKER}:{uuid.uuid4().hex[:8]}"


def worker_of(holder: str) -> str:
    """The process (``WORKER``) a lease holder ran in: its name without the suffix."""
    return holder.rsplit(":", 1)[0]


def acquire_lease(name: str, holder: str, *, now: datetime, ttl_seconds: int) -> bool:
    """Take or renew the lease ``name`` for ``holder``; True when ``holder`` is the leader.

    One conditional UPDATE (ours, or expired) and, for a lease never taken, one INSERT whose
    primary key makes a race between two first takers safe.
    """
    expires = now + timedelta(seconds=ttl_seconds)
    previous = db.session.execute(
        select(SchedulerLease.holder, SchedulerLease.expires_at).where(SchedulerLease.name == name)
    ).one_or_none()
    taken = db.session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            (SchedulerLease.holder == holder) | (SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
    ).rowcount
    if taken:
        if previous is not None and previous.holder != holder:
            abandon_runs_of(previous.holder, before=previous.expires_at, now=now)
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


def abandon_runs_of(holder: str, *, before: datetime, now: datetime) -> int:
    """Close as "abandoned" the runs the lapsed ``holder``'s process left "running" (it died
    or hung: its lease ran out). A new process with the same name (a restarted container
    keeps host and pid) keeps the runs it started itself."""
    worker = worker_of(holder)
    started_before = min(before, PROCESS_STARTED) if worker == WORKER else before
    return db.session.execute(
        update(JobRun)
        .where(
            JobRun.status == "running",
            JobRun.worker == worker,
            JobRun.started_at <= started_before,
        )
        .values(
            status="abandoned",
            finished_at=now,
            error=f"Abandoned: the process {worker} stopped renewing the scheduler lease.",
        )
    ).rowcount


def _process_is_gone(worker: str) -> bool:
    """True when ``worker`` (host:pid) ran on this host and no process has that pid now. A pid
    taken again by some other process reads as alive: the run is left for a person to judge."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except OSError as error:
        return error.errno == errno.ESRCH
    return False


def abandon_runs_of_dead_processes(*, now: datetime) -> int:
    """Close as "abandoned" the runs left "running" by a process on this host that no longer
    exists: a ``cs-app jobs run`` killed from a shell, a worker that crashed before its lease
    mattered. Runs of other hosts are left to the lease (``abandon_runs_of``)."""
    running = db.session.execute(
        select(JobRun.id, JobRun.worker).where(JobRun.status == "running")
    ).all()
    gone = {run.id: run.worker for run in running if run.worker and _process_is_gone(run.worker)}
    for run_id, worker in gone.items():
        db.session.execute(
            update(JobRun)
            .where(JobRun.id == run_id, JobRun.status == "running")
            .values(
                status="abandoned",
                finished_at=now,
                error=f"Abandoned: the process {worker} that ran it is gone "
                "(it crashed or was killed).",
            )
        )
    return len(gone)
