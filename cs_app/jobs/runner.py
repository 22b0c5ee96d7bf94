"""Run one job by name, recording the run; the CLI, the scheduler and tests all use this."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import datetime
from importlib import import_module

from sqlalchemy import select

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.jobs.lease import WORKER
from cs_app.jobs.models import JobRun
from cs_app.scheduler import job_by_name


def resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def run_job(name: str, *, trigger: str, now: datetime | None = None) -> JobRun:
    """Run job ``name`` once: record the start, run it, commit, record the end or the error."""
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
