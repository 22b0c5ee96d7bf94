"""New and changed accounts are scored by the next catch-up run, whichever way they came in
(the API, the edit form, a CSV import), and the page of an account not scored yet says when
its score is due instead of asking for a shell command."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from cs_app.accounts.models import Account
from cs_app.cli import main
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from cs_app.jobs.lease import acquire_lease
from cs_app.jobs.models import JobRun, PendingRecompute
from cs_app.jobs.runner import run_job
from cs_app.scheduler import LEASE_NAME
from tests.factories import AccountFactory, UserFactory

API_ACCOUNT = {
    "name": "Northwind Traders",
    "segment": "Enterprise",
    "engagement_model": "high-touch",
    "arr": 12_000_000,
    "currency": "EUR",
    "renewal_date": "2027-01-15",
}


@pytest.fixture
def lead(app, login):
    user = UserFactory(role="lead")
    db.session.commit()
    login(user)
    return user


def account_id(external_id: str) -> int:
    return db.session.scalar(select(Account.id).where(Account.external_id == external_id))


def scored_after_catch_up(external_id: str) -> bool:
    """In the queue now; a snapshot (and out of the queue) after one catch-up run."""
    ident = account_id(external_id)
    assert db.session.get(PendingRecompute, ident) is not None
    run = run_job("recompute-pending-health", trigger="cli", now=utcnow() + timedelta(seconds=1))
    assert run.status == "succeeded", run.error
    db.session.expire_all()
    snapshot = db.session.scalar(select(HealthSnapshot).where(HealthSnapshot.account_id == ident))
    return snapshot is not None and db.session.get(PendingRecompute, ident) is None


def health_text(client, external_id: str) -> str:
    html = client.get(f"/accounts/{external_id}").get_data(as_text=True)
    card = re.search(r'<section class="card[^"]*" id="health".*?</section>', html, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", card.group(0))).split())


def test_an_account_created_over_the_api_is_scored_by_the_next_catch_up_run(
    client, api_token, lead
):
    response = client.put("/api/v1/accounts/API-1", json=API_ACCOUNT, headers=api_token(lead))
    assert response.status_code == 201
    assert scored_after_catch_up("API-1")


def test_an_account_changed_in_the_form_is_scored_by_the_next_catch_up_run(client, lead):
    account = AccountFactory(external_id="FORM-1", segment="SMB")
    db.session.commit()
    assert db.session.get(PendingRecompute, account.id) is None  # the factory does not queue
    form = {
        "name": "Form Account",
        "domain": "",
        "industry": "",
        "employees": "",
        "segment": "SMB",
        "engagement_model": account.engagement_model,
        "arr": "1000.00",
        "currency": account.currency,
        "contract_start": "",
        "renewal_date": (utcnow().date() + timedelta(days=200)).isoformat(),
        "csm_id": "",
        "lifecycle_stage": account.lifecycle_stage,
        "product_plan": "",
        "seats_purchased": "",
        "primary_use_case": "",
        "purchase_trigger": "",
        "previous_solutions": "",
        "strategic_priorities": "",
    }
    response = client.post(
        "/accounts/FORM-1/edit", data={f"account-{k}": v for k, v in form.items()}
    )
    assert response.status_code == 302
    assert scored_after_catch_up("FORM-1")


def test_accounts_imported_from_csv_are_scored_by_the_next_catch_up_run(app, tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "external_id,name,segment,currency,arr\n"
        "CSV-1,Imported One,SMB,USD,1000\n"
        "CSV-2,Imported Two,Mid-Market,USD,2000\n"
    )
    result = app.test_cli_runner().invoke(main, ["import", "accounts", str(path)])
    assert result.exit_code == 0, result.output
    assert "at the next catch-up run" in result.output
    db.session.expire_all()
    assert scored_after_catch_up("CSV-1") and db.session.get(
        HealthSnapshot, db.session.scalar(select(HealthSnapshot.id).order_by(HealthSnapshot.id))
    )
    assert db.session.scalar(select(PendingRecompute.account_id)) is None  # CSV-2 went too


def test_a_queued_account_says_it_is_scored_at_the_next_catch_up_run(client, api_token, lead):
    assert acquire_lease(LEASE_NAME, "web-1", now=utcnow(), ttl_seconds=60)
    client.put("/api/v1/accounts/API-1", json=API_ACCOUNT, headers=api_token(lead))
    db.session.commit()
    text = health_text(client, "API-1")
    assert "Not scored yet. Scored at the next catch-up run, within 5 minutes (queued " in text
    assert "cs-app" not in text and "Jobs page" not in text
    run_job("recompute-pending-health", trigger="cli", now=utcnow() + timedelta(seconds=1))
    assert "Not scored yet" not in health_text(client, "API-1")


def test_a_queued_account_without_a_scheduler_says_so(client, api_token, lead):
    client.put("/api/v1/accounts/API-1", json=API_ACCOUNT, headers=api_token(lead))
    db.session.commit()
    text = health_text(client, "API-1")
    assert (
        "The account waits in the queue of the catch-up run (every 5 minutes), but no "
        "scheduler is running, so it will be scored once one starts."
    ) in text
    assert "Jobs page" not in text  # only admins can act on it


def test_an_admin_gets_the_jobs_page_when_the_catch_up_run_failed(app, client, login):
    admin = UserFactory(role="admin")
    AccountFactory(external_id="OLD")
    assert acquire_lease(LEASE_NAME, "web-1", now=utcnow(), ttl_seconds=60)
    db.session.add(
        JobRun(
            job_name="recompute-pending-health",
            trigger="schedule",
            started_at=utcnow() - timedelta(minutes=1),
            status="failed",
            error="disk full",
        )
    )
    db.session.commit()
    login(admin)
    text = health_text(client, "OLD")
    assert (
        "Not scored yet. The account is not waiting for the catch-up run; the daily recompute "
        "(daily at 02:00 UTC) scores it. The last catch-up run failed. See the Jobs page"
    ) in text
    assert '<a href="/admin/jobs">the Jobs page</a>' in client.get("/accounts/OLD").get_data(
        as_text=True
    )
    assert "cs-app" not in text
