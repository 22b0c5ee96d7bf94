"""Run one job by name, recording the run; the CLI, the scheduler and tests all use this.

A run that meets a busy SQLite database (another process held the write lock past the busy
timeout) is recorded as "retried" and run again after a pause, a bounded number of times; any
other error fails the run at once. A failed run may alert the admins (``failures``).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from importlib import import_module

from sqlalchemy import select

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.jobs.failures import alert_admins_if_failing
from cs_app.jobs.lease import WORKER
from cs_app.jobs.models import JobRun
from cs_app.scheduler import job_by_name
from cs_app.sql import is_database_busy

log = logging.getLogger(__name__)

RETRY_DELAYS_SECONDS = (2, 10, 30)  # pauses before the 2nd, 3rd and 4th attempt
sleep = time.sleep  # tests replace it


def resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def run_job(name: str, *, trigger: str, now: datetime | None = None) -> JobRun:
    """Run job ``name`` once: record the start, run it, commit, record the end or the error;
    a busy database is retried ``len(RETRY_DELAYS_SECONDS)`` times, each attempt recorded."""
    job = job_by_name(name)
    for delay in (*RETRY_DELAYS_SECONDS, None):
        try:
            return _attempt(
                name, resolve(job.target), trigger=trigger, now=now, retrying=delay is not None
            )
        except Exception as error:
            if delay is None or not is_database_busy(error):
                raise
            log.warning("job %s met a busy database; retrying in %s s", name, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _attempt(
    name: str, function: Callable, *, trigger: str, now: datetime | None, retrying: bool
) -> JobRun:
    started = now or utcnow()
    run = JobRun(
        job_name=name, trigger=trigger, started_at=started, status="running", worker=WORKER
    )
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        counts = function(now=started)
        db.session.commit()
    except Exception as error:  # a failing job is recorded, never silently lost
        db.session.rollback()
        try:
            _record_failure(run_id, error, retrying=retrying and is_database_busy(error))
        except Exception:  # recording must not hide the job's own error (or stop its retry)
            db.session.rollback()
            log.exception("could not record the failure of job %s", name)
        raise
    run = db.session.get(JobRun, run_id)
    run.status, run.finished_at, run.counts = "succeeded", utcnow(), counts or {}
    db.session.commit()
    return run


def _record_failure(run_id: int, error: Exception, *, retrying: bool) -> None:
    run = db.session.get(JobRun, run_id)
    run.status, run.finished_at = ("retried" if retrying else "failed"), utcnow()
    run.error = "".join(traceback.format_exception_only(error)).strip()[:4000]
    if not retrying:
        alert_admins_if_failing(run.job_name, error=run.error[:500], now=run.finished_at)
    db.session.commit()


def recent_runs(limit: int = 100) -> list[JobRun]:
    return list(
        db.session.scalars(
            select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
        )
    )
