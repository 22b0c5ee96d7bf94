"""Failing jobs: how many runs in a row each job has failed, and the admins' alert once a job
has failed ``ALERT_AFTER_FAILURES`` times in a row (once per streak)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.jobs.models import JobRun
from cs_app.triggers.alerts.service import create_alerts

FAILED_STATUSES = ("failed", "abandoned")
ALERT_AFTER_FAILURES = 3
ALERT_KIND = "job_failing"


def failure_streaks(job_names: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """Job name → (failed runs since its last success, id of the first of them), for the
    jobs failing now: one statement. Retried attempts and running runs do not count."""
    last_success = (
        select(JobRun.job_name, func.max(JobRun.id).label("last_id"))
        .where(JobRun.status == "succeeded")
        .group_by(JobRun.job_name)
        .subquery()
    )
    statement = (
        select(JobRun.job_name, func.count(JobRun.id), func.min(JobRun.id))
        .outerjoin(last_success, last_success.c.job_name == JobRun.job_name)
        .where(
            JobRun.status.in_(FAILED_STATUSES),
            last_success.c.last_id.is_(None) | (JobRun.id > last_success.c.last_id),
        )
        .group_by(JobRun.job_name)
    )
    if job_names is not None:
        statement = statement.where(JobRun.job_name.in_(job_names))
    return {name: (int(count), first_id) for name, count, first_id in db.session.execute(statement)}


def alert_admins_if_failing(job_name: str, *, error: str | None, now: datetime) -> int:
    """After ``ALERT_AFTER_FAILURES`` failed runs in a row, alert every active admin; the
    dedupe key names the streak's first run, so a streak alerts each admin once."""
    count, first_id = failure_streaks([job_name]).get(job_name, (0, 0))
    if count < ALERT_AFTER_FAILURES:
        return 0
    admins = db.session.scalars(select(User.id).where(User.role == "admin", User.active))
    return create_alerts(
        [
            {
                "user_id": admin_id,
                "kind": ALERT_KIND,
                "dedupe_key": f"job:{job_name}:{first_id}",
                "title": f"Job {job_name} has failed {count} runs in a row",
                "body": (f"See /admin/jobs. Last error: {error}" if error else "See /admin/jobs."),
            }
            for admin_id in admins
        ],
        now=now,
    )
