"""The whole trigger loop as people live it: a lead builds a rule in the browser, previews
who matches, saves it; the ``evaluate-rules`` job (run from the command line, as an operator
would) routes the account into a pool; the CSM finds it in their queue, claims it and resolves
it with an outcome — and the rule's firing is closed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.e2e.conftest import PASSWORD, screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def flow_world(seed_app, e2e_database):
    """One account whose NPS collapsed (score 2) and one happy account, a pool with one CSM."""
    from cs_app.accounts.ingest import ingest_events
    from cs_app.accounts.models import Account
    from cs_app.auth.service import create_user
    from cs_app.db_types import utcnow
    from cs_app.extensions import db
    from cs_app.health.recompute import recompute
    from cs_app.triggers.pools.models import CsmPool, PoolMember

    with seed_app.app_context():
        now = utcnow()
        lead = create_user(
            "fiona.flow@example.com", role="lead", name="Fiona Flow", password=PASSWORD, now=now
        )
        csm = create_user(
            "pete.pool@example.com", role="csm", name="Pete Pool", password=PASSWORD, now=now
        )
        for external_id, name in (
            ("E2E-FLOW-UNHAPPY", "Grumbling Goods"),
            ("E2E-FLOW-HAPPY", "Cheerful Chairs"),
        ):
            db.session.add(
                Account(
                    external_id=external_id,
                    name=name,
                    segment="SMB",
                    arr_minor=1_500_000,
                    currency="USD",
                    engagement_model="low-touch",
                    contract_start=now.date() - timedelta(days=200),
                    renewal_date=now.date() + timedelta(days=165),
                    lifecycle_stage="adoption",
                )
            )
        pool = CsmPool(
            key="e2e-detractors",
            name="Detractor desk",
            strategy="least_loaded",
            default_sla_hours=24,
            lead_id=lead.id,
        )
        pool.members.append(PoolMember(user_id=csm.id, position=0, capacity=5, segments=["SMB"]))
        db.session.add(pool)
        db.session.commit()
        stamp = (now - timedelta(hours=2)).isoformat()
        ingest_events(
            [
                {
                    "id": "e2e-flow-nps-1",
                    "account": "E2E-FLOW-UNHAPPY",
                    "type": "nps_response",
                    "at": stamp,
                    "properties": {"score": 2},
                },
                {
                    "id": "e2e-flow-nps-2",
                    "account": "E2E-FLOW-HAPPY",
                    "type": "nps_response",
                    "at": stamp,
                    "properties": {"score": 10},
                },
            ],
            now=now,
        )
        db.session.commit()
        recompute(now=utcnow())
        db.session.commit()
        return {"lead": lead.email, "csm": csm.email, "database": e2e_database}


def _run_job(name: str, database: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cs_app.cli", "jobs", "run", name],
        env={**os.environ, "DATABASE_URL": database, "CS_APP_SECRET_KEY": "e2e-secret"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_rule_built_in_the_browser_routes_an_account_that_a_csm_resolves(
    page, browser, live_server, flow_world
):
    sign_in(page, live_server, flow_world["lead"])
    page.goto(f"{live_server}/rules/new")
    page.fill("#name", "Detractor rescue")
    page.select_option("#kind", "risk")
    clause = page.locator("#condition-section .cond-clause").nth(0)
    clause.locator("select.clause-signal").select_option("last_nps")
    clause.locator("select.clause-op").select_option("<=")
    clause.locator("input.value-input").fill("6")
    page.click("#actions-section button.add-action")
    action = page.locator("#actions-section .action-row").nth(0)
    action.locator("select.action-type").select_option("route_to_pool")
    action.locator("select[data-field=pool]").select_option("e2e-detractors")
    action.locator("select[data-field=priority]").select_option("high")
    action.locator("input[data-field=sla_hours]").fill("8")

    page.click("button[value=preview]")
    page.wait_for_selector("#preview")
    preview = page.locator("#preview").inner_text()
    assert "Grumbling Goods" in preview and "Cheerful Chairs" not in preview
    screenshot(page, "flow-preview")
    page.click("button[value=save]")
    page.wait_for_url(re.compile(r".*/rules/\d+$"))
    rule_url = page.url

    output = _run_job("evaluate-rules", flow_world["database"])
    assert "evaluate-rules finished" in output and "firings_created=" in output
    page.goto(rule_url)
    assert "Grumbling Goods" in page.inner_text("body")
    screenshot(page, "flow-rule-fired")

    csm_page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(csm_page, live_server, flow_world["csm"])
    csm_page.click("nav.mainnav >> text=Queue")
    csm_page.wait_for_url(f"{live_server}/queue")
    row = csm_page.locator("table.queue-table tbody tr", has_text="Grumbling Goods")
    assert row.count() == 1
    assert "Detractor rescue" in row.inner_text() and "High" in row.inner_text()
    screenshot(csm_page, "flow-my-queue")
    row.locator("a", has_text="Open").click()
    csm_page.wait_for_url(re.compile(r".*/queue/\d+$"))
    assert "Last NPS" in csm_page.inner_text("body")
    csm_page.locator("button", has_text="Claim").first.click()
    csm_page.wait_for_load_state()
    assert "You claimed" in csm_page.inner_text(".flashes")
    csm_page.select_option("#outcome", "saved")
    csm_page.fill("#notes", "Called the champion; the export bug is fixed and they are happy.")
    csm_page.click("#resolve button[type=submit]")
    csm_page.wait_for_load_state()
    assert "Saved" in csm_page.inner_text(".flashes")
    screenshot(csm_page, "flow-resolved")

    page.goto(rule_url)
    firing_row = page.locator("#firings tbody tr", has_text="Grumbling Goods")
    assert "Closed" in firing_row.inner_text()
    csm_page.context.close()
