"""A busy database retries a run; consecutive failures alert the admins once per streak and
put the job first on /admin/jobs; runs a dead leader left "running" are closed as abandoned."""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from cs_app.extensions import db
from cs_app.jobs import runner
from cs_app.jobs.lease import WORKER, abandon_runs_of_dead_processes, acquire_lease
from cs_app.jobs.models import JobRun
from cs_app.jobs.runner import run_job
from cs_app.sql import is_database_busy
from cs_app.triggers.alerts.models import Alert
from tests.factories import UserFactory

JOB = "check-slas"
TARGET = "cs_app.triggers.pools.jobs.check_slas"


def busy_error() -> OperationalError:
    return OperationalError("UPDATE …", {}, sqlite3.OperationalError("database is locked"))


@pytest.fixture
def sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(runner, "sleep", slept.append)
    return slept


def runs_of(name: str) -> list[JobRun]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(JobRun).where(JobRun.job_name == name).order_by(JobRun.id))
    )


def test_a_busy_database_is_retried_and_each_attempt_recorded(app, now, monkeypatch, sleeps):
    attempts = []

    def busy_once(*, now):
        attempts.append(now)
        if len(attempts) == 1:
            raise busy_error()
        return {"assigned": 0}

    monkeypatch.setattr(TARGET, busy_once)
    run = run_job(JOB, trigger="schedule", now=now)
    assert run.status == "succeeded" and run.counts == {"assigned": 0}
    assert [r.status for r in runs_of(JOB)] == ["retried", "succeeded"]
    assert "database is locked" in runs_of(JOB)[0].error
    assert sleeps == [runner.RETRY_DELAYS_SECONDS[0]]


def test_retries_are_bounded_and_the_last_attempt_fails(app, now, monkeypatch, sleeps):
    def always_busy(*, now):
        raise busy_error()

    monkeypatch.setattr(TARGET, always_busy)
    with pytest.raises(OperationalError):
        run_job(JOB, trigger="schedule", now=now)
    statuses = [r.status for r in runs_of(JOB)]
    assert statuses == ["retried"] * len(runner.RETRY_DELAYS_SECONDS) + ["failed"]
    assert sleeps == list(runner.RETRY_DELAYS_SECONDS)


def test_other_errors_are_not_retried(app, now, monkeypatch, sleeps):
    def broken(*, now):
        raise OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: x"))

    monkeypatch.setattr(TARGET, broken)
    with pytest.raises(OperationalError):
        run_job(JOB, trigger="schedule", now=now)
    assert [r.status for r in runs_of(JOB)] == ["failed"] and sleeps == []


def test_only_lock_errors_count_as_busy():
    assert is_database_busy(busy_error())
    assert not is_database_busy(RuntimeError("database is locked"))
    locked = sqlite3.OperationalError("whatever")
    locked.sqlite_errorcode = 517  # SQLITE_BUSY_SNAPSHOT
    assert is_database_busy(OperationalError("x", {}, locked))


def fail(monkeypatch, now, times: int) -> None:
    def broken(*, now):
        raise RuntimeError("smtp down")

    monkeypatch.setattr(TARGET, broken)
    for _ in range(times):
        with pytest.raises(RuntimeError):
            run_job(JOB, trigger="schedule", now=now)


def job_alerts(user) -> list[Alert]:
    return list(
        db.session.scalars(
            select(Alert).where(Alert.user_id == user.id, Alert.kind == "job_failing")
        )
    )


def test_admins_are_alerted_once_per_streak_of_three_failures(app, now, monkeypatch):
    admin = UserFactory(role="admin")
    retired_admin = UserFactory(role="admin", active=False)
    lead = UserFactory(role="lead")
    db.session.commit()
    fail(monkeypatch, now, 2)
    assert job_alerts(admin) == []
    fail(monkeypatch, now, 1)
    [alert] = job_alerts(admin)
    assert alert.title == "Job check-slas has failed 3 runs in a row"
    assert "smtp down" in alert.body
    assert job_alerts(retired_admin) == [] and job_alerts(lead) == []
    fail(monkeypatch, now, 2)
    assert len(job_alerts(admin)) == 1  # the same streak alerts once
    monkeypatch.setattr(TARGET, lambda *, now: {})
    run_job(JOB, trigger="schedule", now=now)
    fail(monkeypatch, now, 3)
    assert len(job_alerts(admin)) == 2  # a new streak after a success alerts again


def job_order(html: str) -> list[str]:
    table = html.split('id="scheduled-jobs"', 1)[1]
    return re.findall(r'<tr id="job-([a-z-]+)"', table)


def test_a_failing_job_comes_first_on_the_jobs_page(app, client, login, now, monkeypatch):
    admin = UserFactory(role="admin")
    db.session.commit()
    login(admin)
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert job_order(page)[0] == "recompute-health" and 'id="failing-jobs"' not in page
    fail(monkeypatch, now, 2)
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert job_order(page)[0] == JOB
    assert 'class="is-failing"' in page and "Failing: 2 runs in a row" in page
    assert 'id="failing-jobs"' in page
    monkeypatch.setattr(TARGET, lambda *, now: {})
    run_job(JOB, trigger="schedule", now=now)
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert job_order(page)[0] == "recompute-health" and "is-failing" not in page


def running_run(worker: str, started) -> JobRun:
    run = JobRun(
        job_name=JOB, trigger="schedule", started_at=started, status="running", worker=worker
    )
    db.session.add(run)
    db.session.commit()
    return run


def test_taking_a_lapsed_lease_abandons_the_old_holders_running_runs(app, now):
    assert acquire_lease("scheduler", "web-1:42:aaaa1111", now=now, ttl_seconds=90)
    crashed = running_run("web-1:42", now + timedelta(seconds=10))
    elsewhere = running_run("shell:7", now + timedelta(seconds=10))
    assert acquire_lease(
        "scheduler", "web-1:42:aaaa1111", now=now + timedelta(seconds=30), ttl_seconds=90
    )
    assert db.session.get(JobRun, crashed.id).status == "running"  # renewing abandons nothing
    assert not acquire_lease(
        "scheduler", "web-2:9:bbbb2222", now=now + timedelta(seconds=60), ttl_seconds=90
    )
    assert db.session.get(JobRun, crashed.id).status == "running"  # the lease is still live
    assert acquire_lease(
        "scheduler", "web-2:9:bbbb2222", now=now + timedelta(seconds=121), ttl_seconds=90
    )
    db.session.expire_all()
    abandoned = db.session.get(JobRun, crashed.id)
    assert abandoned.status == "abandoned" and abandoned.finished_at is not None
    assert "web-1:42" in abandoned.error
    assert db.session.get(JobRun, elsewhere.id).status == "running"


def test_runs_of_a_dead_process_on_this_host_are_abandoned(app, now):
    """A ``cs-app jobs run`` killed from a shell never held the lease; the leader's heartbeat
    sees its process is gone. A live process's run and another host's run stay running."""
    dead = subprocess.Popen(["true"])  # a pid that has just ended
    dead.wait()
    crashed = running_run(f"{socket.gethostname()}:{dead.pid}", now)
    alive = running_run(WORKER, now)
    remote = running_run("another-host:1", now)
    assert abandon_runs_of_dead_processes(now=now + timedelta(minutes=1)) == 1
    db.session.commit()
    db.session.expire_all()
    closed = db.session.get(JobRun, crashed.id)
    assert closed.status == "abandoned" and "is gone" in closed.error
    assert db.session.get(JobRun, alive.id).status == "running"
    assert db.session.get(JobRun, remote.id).status == "running"


def test_an_abandoned_run_counts_as_a_failure(app, client, login, now):
    admin = UserFactory(role="admin")
    db.session.commit()
    acquire_lease("scheduler", "web-1:42:aaaa1111", now=now, ttl_seconds=90)
    running_run("web-1:42", now)
    acquire_lease("scheduler", "web-2:9:bbbb2222", now=now + timedelta(seconds=91), ttl_seconds=90)
    login(admin)
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert job_order(page)[0] == JOB and "Failing: 1 run in a row" in page
