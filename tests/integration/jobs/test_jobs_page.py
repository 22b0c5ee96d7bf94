"""The job runs page: leads and admins see the jobs and their runs; only admins run one now."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from cs_app.jobs.models import JobRun, SchedulerLease
from cs_app.jobs.status import describe_schedule
from cs_app.scheduler import JOBS, Job
from tests.factories import AccountFactory, UserFactory


def job_row(html: str, name: str) -> str:
    match = re.search(rf'<tr id="job-{re.escape(name)}"[^>]*>.*?</tr>', html, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def add_run(name, *, minutes_ago, status="succeeded", counts=None, error=None, trigger="schedule"):
    started = utcnow() - timedelta(minutes=minutes_ago)
    run = JobRun(
        job_name=name,
        trigger=trigger,
        started_at=started,
        status=status,
        finished_at=started + timedelta(seconds=2),
        counts=counts,
        error=error,
        worker="web-1:42",
    )
    db.session.add(run)
    db.session.commit()
    return run


def runs_of(name: str) -> list[JobRun]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(JobRun).where(JobRun.job_name == name).order_by(JobRun.id))
    )


def test_a_lead_sees_every_job_with_its_schedule_and_last_runs(client, login, app):
    add_run("recompute-health", minutes_ago=90, counts={"signals": 1200, "snapshots": 1200})
    add_run("recompute-health", minutes_ago=30, status="failed", error="RuntimeError: disk full")
    login(UserFactory(role="lead"))
    response = client.get("/admin/jobs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for job in JOBS:
        assert f'id="job-{job.name}"' in html
    row = job_row(html, "recompute-health")
    assert "daily at 02:00 UTC" in row and "next " in row
    assert "Failed" in row  # the last run
    assert "signals <strong>1,200</strong>" in row  # the last success
    assert "never run" in job_row(html, "recompute-pending-health")
    assert "every 5 minutes" in job_row(html, "recompute-pending-health")
    assert "RuntimeError: disk full" in html  # the run log shows the error
    assert "Run now" not in html and "Admins can run a job from here" in html


def test_an_admin_runs_a_job_now(client, login, app):
    AccountFactory(segment="SMB")
    db.session.commit()
    login(UserFactory(role="admin"))
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert html.count(">Run now</button>") == len(JOBS)
    assert 'action="/admin/jobs/recompute-health/run"' in html
    response = client.post("/admin/jobs/recompute-health/run")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/jobs")
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert re.search(r"recompute-health finished in \d+\.\d s: signals 1, snapshots 1\.", page)
    [run] = runs_of("recompute-health")
    assert (run.trigger, run.status, run.counts) == (
        "ui",
        "succeeded",
        {"signals": 1, "snapshots": 1},
    )
    assert db.session.scalar(select(func.count(HealthSnapshot.id))) == 1


def test_a_failing_run_is_flashed_and_recorded(client, login, app, monkeypatch):
    def explode(*, now):
        raise RuntimeError("disk full")

    monkeypatch.setattr("cs_app.health.jobs.recompute_health", explode)
    login(UserFactory(role="admin"))
    response = client.post("/admin/jobs/recompute-health/run", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="flash flash-error">recompute-health failed: disk full' in html
    [run] = runs_of("recompute-health")
    assert run.status == "failed" and run.trigger == "ui" and "disk full" in run.error


def test_an_unknown_job_is_not_found(client, login, app):
    login(UserFactory(role="admin"))
    assert client.post("/admin/jobs/make-coffee/run").status_code == 404
    assert db.session.scalar(select(func.count(JobRun.id))) == 0


@pytest.mark.parametrize("role", ["csm", "viewer"])
def test_csms_and_viewers_may_not_see_the_page(client, login, app, role):
    login(UserFactory(role=role))
    assert client.get("/admin/jobs").status_code == 403


@pytest.mark.parametrize("role", ["lead", "csm", "viewer"])
def test_only_admins_may_run_a_job(client, login, app, role):
    login(UserFactory(role=role))
    assert client.post("/admin/jobs/recompute-health/run").status_code == 403
    assert runs_of("recompute-health") == []


def test_signed_out_visitors_are_sent_to_sign_in(client, app):
    for method, path in (("get", "/admin/jobs"), ("post", "/admin/jobs/recompute-health/run")):
        response = getattr(client, method)(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert runs_of("recompute-health") == []


def test_the_scheduler_lease_tells_whether_jobs_will_run(client, login, app):
    login(UserFactory(role="lead"))
    assert "No scheduler has run yet" in client.get("/admin/jobs").get_data(as_text=True)
    lease = SchedulerLease(
        name="scheduler", holder="web-1:42:abcd", expires_at=utcnow() + timedelta(seconds=60)
    )
    db.session.add(lease)
    db.session.commit()
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "Scheduler running</strong> on <code>web-1:42:abcd</code>" in html
    lease.expires_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "No scheduler is running" in html and "let its lease expire" in html


def test_no_runs_yet(client, login, app):
    login(UserFactory(role="admin"))
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert "No job has run yet" in html and "or run it now above" in html


def test_recent_runs_newest_first_at_a_constant_cost(client, login, app, count_queries):
    login(UserFactory(role="lead"))
    add_run("recompute-pending-health", minutes_ago=10, counts={"signals": 0, "snapshots": 0})
    db.session.expire_all()
    with count_queries() as few:
        client.get("/admin/jobs")
    for minutes in range(20, 60):
        add_run("recompute-pending-health", minutes_ago=minutes, trigger="cli")
    add_run("recompute-health", minutes_ago=5, trigger="ui", counts={"signals": 3})
    db.session.expire_all()
    with count_queries() as many:
        html = client.get("/admin/jobs").get_data(as_text=True)
    assert few.count == many.count, many.statements
    log = html[html.index('id="recent-runs"') :]
    assert log.index("recompute-health") < log.index("recompute-pending-health")
    assert log.count('<tr class="run-') == 42


def test_schedules_in_words():
    assert describe_schedule(Job("a", "m:f", "cron", {"hour": 2, "minute": 0})) == (
        "daily at 02:00 UTC"
    )
    assert describe_schedule(Job("b", "m:f", "interval", {"minutes": 1})) == "every minute"
    assert describe_schedule(Job("c", "m:f", "interval", {"hours": 6})) == "every 6 hours"
    assert describe_schedule(Job("d", "m:f", "cron", {"day_of_week": "mon", "hour": 7})) == (
        "cron day_of_week=mon, hour=7"
    )
