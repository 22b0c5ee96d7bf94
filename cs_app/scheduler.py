"""Every scheduled job, declared once, and the scheduler that runs them on the leader only.

Each process (``cs-app serve`` on a single node, or ``cs-app scheduler``) runs its own
APScheduler with an in-memory job store; before a job runs, the process must hold the leader
lease in the database, so with several processes exactly one does the work.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from cs_app.db_types import utcnow

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL_SECONDS = 90
HEARTBEAT_SECONDS = 30


@dataclass(frozen=True)
class Job:
    name: str
    target: str  # "module:function", called with now=
    trigger: str  # "cron" or "interval"
    trigger_args: dict = field(default_factory=dict)
    description: str = ""


JOBS: tuple[Job, ...] = (
    Job(
        "recompute-health",
        "cs_app.health.jobs:recompute_health",
        "cron",
        {"hour": 2, "minute": 0},
        "Compute every account's signals and health score; one snapshot per account per day.",
    ),
    Job(
        "recompute-pending-health",
        "cs_app.health.jobs:recompute_pending_health",
        "interval",
        {"minutes": 5},
        "Recompute the accounts whose usage data arrived since the last run.",
    ),
    Job(
        "evaluate-rules",
        "cs_app.triggers.rules.jobs:evaluate_rules",
        "interval",
        {"minutes": 15},
        "Evaluate every enabled scheduled rule over all accounts; route and schedule touchpoints.",
    ),
    Job(
        "deliver-touchpoints",
        "cs_app.triggers.touchpoints.jobs:deliver_touchpoints",
        "interval",
        {"minutes": 1},
        "Send due touchpoints (email, in-app webhook, internal alerts), retrying "
        "failures with backoff.",
    ),
    Job(
        "check-slas",
        "cs_app.triggers.pools.jobs:check_slas",
        "interval",
        {"minutes": 10},
        "Assign waiting items to members with room; flag items past their SLA, alert the lead.",
    ),
    Job(
        "remind-reviews",
        "cs_app.plans.jobs:remind_reviews",
        "cron",
        {"hour": 7, "minute": 0},
        "Remind plan owners of plan reviews that are due or overdue.",
    ),
)


def job_by_name(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    known = ", ".join(j.name for j in JOBS)
    raise KeyError(f"no job is called {name!r}; known jobs: {known}")


class LeaderScheduler:
    """APScheduler plus the database lease: only the lease holder runs jobs."""

    def __init__(self, app: Flask, *, blocking: bool):
        self.app = app
        from cs_app.jobs.runner import WORKER

        self.holder = f"{WORKER}:{uuid.uuid4().hex[:8]}"
        scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler = scheduler_class(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        for job in JOBS:
            self.scheduler.add_job(
                self._run, job.trigger, id=job.name, args=[job.name], **job.trigger_args
            )
        self.scheduler.add_job(
            self._heartbeat,
            "interval",
            seconds=HEARTBEAT_SECONDS,
            id="lease-heartbeat",
            next_run_time=utcnow(),
        )

    def _is_leader(self) -> bool:
        from cs_app.jobs.runner import acquire_lease

        return acquire_lease(LEASE_NAME, self.holder, now=utcnow(), ttl_seconds=LEASE_TTL_SECONDS)

    def _heartbeat(self) -> None:
        with self.app.app_context():
            self._is_leader()

    def _run(self, name: str) -> None:
        from cs_app.jobs.runner import run_job

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
        from cs_app.jobs.runner import release_lease

        self.scheduler.shutdown(wait=False)
        with self.app.app_context():
            release_lease(LEASE_NAME, self.holder)
