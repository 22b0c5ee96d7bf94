"""The job runs page: leads and admins see every scheduled job and its recent runs; admins can
run a job now (the same runner the scheduler and ``cs-app jobs run`` use)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from cs_app.auth.permissions import can_lead, can_run_jobs, permission_required
from cs_app.db_types import utcnow
from cs_app.jobs.failures import ALERT_AFTER_FAILURES
from cs_app.jobs.runner import run_job
from cs_app.jobs.status import jobs_overview
from cs_app.scheduler import job_by_name

bp = Blueprint("jobs", __name__)


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every page here needs a signed-in user."""


@bp.route("/admin/jobs")
@permission_required(can_lead)
def index():
    return render_template(
        "jobs/index.html",
        overview=jobs_overview(utcnow()),
        can_run=can_run_jobs(current_user),
        alert_after=ALERT_AFTER_FAILURES,
    )


def _counts_text(counts: dict | None) -> str:
    if not counts:
        return "nothing to do"
    return ", ".join(
        f"{key.replace('_', ' ')} {value:,}"
        if isinstance(value, int)
        else f"{key.replace('_', ' ')} {value}"
        for key, value in counts.items()
    )


@bp.route("/admin/jobs/<job_name>/run", methods=["POST"])
@permission_required(can_run_jobs)
def run_now(job_name: str):
    try:
        job_by_name(job_name)
    except KeyError:
        abort(404)
    try:
        run = run_job(job_name, trigger="ui")
    except Exception as error:  # recorded as a failed run by the runner; say what went wrong
        flash(f"{job_name} failed: {error}", "error")
        return redirect(url_for("jobs.index"))
    seconds = (run.finished_at - run.started_at).total_seconds()
    flash(f"{job_name} finished in {seconds:.1f} s: {_counts_text(run.counts)}.", "success")
    return redirect(url_for("jobs.index"))
