"""The scheduler that runs the jobs of ``cs_app.scheduler.JOBS`` on the leader only.

Each process (``cs-app serve`` on a single node, or ``cs-app scheduler``) runs its own
APScheduler with an in-memory job store; before a job runs, the process must hold the leader
lease in the database, so with several processes exactly one does the work.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.jobs.lease import (
    abandon_runs_of_dead_processes,
    acquire_lease,
    holder_name,
    release_lease,
)
from cs_app.jobs.runner import run_job
from cs_app.scheduler import JOBS, LEASE_NAME

log = logging.getLogger(__name__)

LEASE_TTL_SECONDS = 90
HEARTBEAT_SECONDS = 30


class LeaderScheduler:
    """APScheduler plus the database lease: only the lease holder runs jobs."""

    def __init__(self, app: Flask, *, blocking: bool):
        self.app = app
        self.holder = holder_name()
        scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler = scheduler_class(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        # soak tests and demos can make every job due every N seconds
        every = app.config.get("JOBS_EVERY_SECONDS")
        for job in JOBS:
            trigger, trigger_args = (
                ("interval", {"seconds": every}) if every else (job.trigger, job.trigger_args)
            )
            self.scheduler.add_job(self._run, trigger, id=job.name, args=[job.name], **trigger_args)
        self.scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=HEARTBEAT_SECONDS,
            id="lease-heartbeat",
            next_run_time=utcnow(),
        )

    def _is_leader(self) -> bool:
        return acquire_lease(LEASE_NAME, self.holder, now=utcnow(), ttl_seconds=LEASE_TTL_SECONDS)

    def _heartbeat(self) -> None:
        """Renew the lease; the leader also closes the runs of local processes that died."""
        with self.app.app_context():
            if self._is_leader():
                abandon_runs_of_dead_processes(now=utcnow())
                db.session.commit()

    def _run(self, name: str) -> None:
        with self.app.app_context():
            if not self._is_leader():
                log.info("skipping %s: another process holds the scheduler lease", name)
                return
            try:
                run_job(name, trigger="schedule")
            except Exception:
                log.exception("job %s failed", name)

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)
        with self.app.app_context():
            release_lease(LEASE_NAME, self.holder)
