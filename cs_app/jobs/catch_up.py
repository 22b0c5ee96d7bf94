"""When the catch-up recompute will score an account that has no score yet, in words for the
account page: the next run of ``recompute-pending-health``, no scheduler running, a failed last
run, or the nightly recompute. Its own module so that queueing accounts (``pending``, used by
ingestion) stays free of job status and alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from cs_app.extensions import db
from cs_app.jobs.models import JobRun, PendingRecompute, SchedulerLease
from cs_app.jobs.status import describe_schedule
from cs_app.scheduler import LEASE_NAME, job_by_name

CATCH_UP_JOB = "recompute-pending-health"
NIGHTLY_JOB = "recompute-health"


@dataclass(frozen=True)
class ScoreDue:
    """When an account that has no score yet gets one, for the account page: from its row in
    the queue, the jobs' schedules and whether a scheduler holds the lease."""

    queued_since: datetime | None
    catch_up_every: str  # "every 5 minutes"
    catch_up_within: str  # "5 minutes"
    nightly: str  # "daily at 02:00 UTC"
    scheduler_running: bool
    last_catch_up_failed: bool

    @property
    def queued(self) -> bool:
        return self.queued_since is not None


def _interval_in_words(trigger_args: dict) -> str:
    for unit in ("hours", "minutes", "seconds"):
        if unit in trigger_args:
            count = trigger_args[unit]
            return f"{count} {unit if count != 1 else unit[:-1]}"
    return "one interval"


def score_due(account_id: int, *, now: datetime) -> ScoreDue:
    """Three statements: the queue row, the lease and the catch-up job's newest run."""
    since = db.session.scalar(
        select(PendingRecompute.since).where(PendingRecompute.account_id == account_id)
    )
    lease = db.session.get(SchedulerLease, LEASE_NAME)
    last_status = db.session.scalar(
        select(JobRun.status)
        .where(JobRun.job_name == CATCH_UP_JOB)
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(1)
    )
    catch_up = job_by_name(CATCH_UP_JOB)
    return ScoreDue(
        queued_since=since,
        catch_up_every=describe_schedule(catch_up),
        catch_up_within=_interval_in_words(catch_up.trigger_args),
        nightly=describe_schedule(job_by_name(NIGHTLY_JOB)),
        scheduler_running=lease is not None and lease.expires_at > now,
        last_catch_up_failed=last_status == "failed",
    )
