"""What the job runs page shows: each scheduled job with its schedule, next and last runs,
the recent run log and which process (if any) holds the scheduler lease. Failing jobs (runs
failed or abandoned since their last success) come first, with how many in a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from cs_app.extensions import db
from cs_app.jobs.failures import failure_streaks
from cs_app.jobs.models import JobRun, SchedulerLease
from cs_app.jobs.runner import recent_runs
from cs_app.scheduler import JOBS, LEASE_NAME, Job

RECENT_RUNS = 50


@dataclass
class JobStatus:
    job: Job
    schedule: str
    next_run: datetime | None
    last_run: JobRun | None
    last_success: JobRun | None
    failures_in_a_row: int = 0

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def failing(self) -> bool:
        return self.failures_in_a_row > 0


@dataclass
class Lease:
    holder: str
    expires_at: datetime
    active: bool


@dataclass
class JobsOverview:
    jobs: list[JobStatus]
    runs: list[JobRun]
    lease: Lease | None


def describe_schedule(job: Job) -> str:
    """The trigger in words: "daily at 02:00 UTC", "every 5 minutes"."""
    args = job.trigger_args
    if job.trigger == "interval":
        for unit in ("hours", "minutes", "seconds"):
            if unit in args:
                count = args[unit]
                return f"every {unit[:-1]}" if count == 1 else f"every {count} {unit}"
    if job.trigger == "cron" and set(args) <= {"hour", "minute"}:
        return f"daily at {int(args.get('hour', 0)):02d}:{int(args.get('minute', 0)):02d} UTC"
    return job.trigger + " " + ", ".join(f"{key}={value}" for key, value in args.items())


def next_run(job: Job, now: datetime) -> datetime | None:
    """When a cron job fires next; interval jobs fire relative to the scheduler's start."""
    if job.trigger != "cron":
        return None
    return CronTrigger(timezone="UTC", **job.trigger_args).get_next_fire_time(None, now)


def _latest_runs(statuses: tuple[str, ...] | None = None) -> dict[str, JobRun]:
    """Each job's newest run (optionally only with one of ``statuses``): one statement."""
    ranked = select(
        JobRun.id,
        func.row_number()
        .over(partition_by=JobRun.job_name, order_by=(JobRun.started_at.desc(), JobRun.id.desc()))
        .label("rank"),
    )
    if statuses:
        ranked = ranked.where(JobRun.status.in_(statuses))
    ranked = ranked.subquery()
    runs = db.session.scalars(
        select(JobRun).join(ranked, ranked.c.id == JobRun.id).where(ranked.c.rank == 1)
    )
    return {run.job_name: run for run in runs}


def jobs_overview(now: datetime) -> JobsOverview:
    last = _latest_runs()
    succeeded = _latest_runs(("succeeded",))
    streaks = failure_streaks()
    statuses = [
        JobStatus(
            job=job,
            schedule=describe_schedule(job),
            next_run=next_run(job, now),
            last_run=last.get(job.name),
            last_success=succeeded.get(job.name),
            failures_in_a_row=streaks.get(job.name, (0, 0))[0],
        )
        for job in JOBS
    ]
    statuses.sort(key=lambda status: not status.failing)  # stable: failing first, then JOBS order
    lease_row = db.session.get(SchedulerLease, LEASE_NAME)
    lease = (
        Lease(lease_row.holder, lease_row.expires_at, lease_row.expires_at > now)
        if lease_row
        else None
    )
    return JobsOverview(jobs=statuses, runs=recent_runs(RECENT_RUNS), lease=lease)
