"""Job runs are recorded; the leader lease admits one holder at a time; CLI runs jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.accounts.ingest import ingest_events
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from cs_app.jobs.lease import acquire_lease
from cs_app.jobs.models import JobRun, PendingRecompute
from cs_app.jobs.runner import run_job
from tests.factories import AccountFactory


def test_run_job_records_start_end_and_counts(app, now):
    AccountFactory(segment="SMB")
    run = run_job("recompute-health", trigger="cli", now=now)
    assert run.status == "succeeded" and run.finished_at is not None
    assert run.counts == {"signals": 1, "snapshots": 1}
    assert db.session.scalar(select(HealthSnapshot.band)) == "insufficient_data"


def test_failing_job_is_recorded_with_its_error(app, now, monkeypatch):
    def explode(*, now):
        raise RuntimeError("disk full")

    monkeypatch.setattr("cs_app.health.jobs.recompute_health", explode)
    with pytest.raises(RuntimeError):
        run_job("recompute-health", trigger="cli", now=now)
    run = db.session.scalar(select(JobRun).order_by(JobRun.id.desc()))
    assert run.status == "failed" and "disk full" in run.error


def test_unknown_job_is_refused(app):
    with pytest.raises(KeyError, match="known jobs"):
        run_job("nope", trigger="cli")


def test_lease_has_one_holder_until_it_expires(app, now):
    assert acquire_lease("scheduler", "a", now=now, ttl_seconds=60)
    assert not acquire_lease("scheduler", "b", now=now + timedelta(seconds=30), ttl_seconds=60)
    assert acquire_lease("scheduler", "a", now=now + timedelta(seconds=30), ttl_seconds=60)
    assert acquire_lease("scheduler", "b", now=now + timedelta(seconds=91), ttl_seconds=60)
    assert not acquire_lease("scheduler", "a", now=now + timedelta(seconds=92), ttl_seconds=60)


def test_ingestion_queues_accounts_for_the_catch_up_recompute(app, now):
    account = AccountFactory(external_id="Q1", segment="SMB")
    ingest_events(
        [
            {
                "id": "q",
                "account": "Q1",
                "type": "login",
                "at": (now - timedelta(hours=1)).isoformat(),
            }
        ],
        now=now,
    )
    assert db.session.get(PendingRecompute, account.id) is not None
    run = run_job("recompute-pending-health", trigger="cli", now=now)
    assert run.counts == {"signals": 1, "snapshots": 1}
    assert db.session.get(PendingRecompute, account.id) is None
    again = run_job("recompute-pending-health", trigger="cli", now=now)
    assert again.counts == {"signals": 0, "snapshots": 0}


def test_cli_jobs_run_and_list(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "recompute-health"])
    assert result.exit_code == 0, result.output
    assert "recompute-health finished" in result.output
    listing = runner.invoke(args=["jobs", "list"])
    assert "recompute-health" in listing.output and "succeeded" in listing.output
    unknown = runner.invoke(args=["jobs", "run", "nope"])
    assert unknown.exit_code != 0 and "no job is called 'nope'" in unknown.output
