"""A lead re-weights a scorecard in Chromium: what-if first, then a new version, and the
account page explains the new score."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.e2e.conftest import PASSWORD, screenshot, sign_in

pytestmark = pytest.mark.e2e


def _recompute(seed_app) -> None:
    from cs_app.db_types import utcnow
    from cs_app.extensions import db
    from cs_app.health.recompute import recompute

    with seed_app.app_context():
        recompute(now=utcnow())
        db.session.commit()


@pytest.fixture(scope="module")
def health_world(seed_app):
    """An SMB account that logged in today but used one feature in a month: At risk under
    Health Indicators v1 (logins and features 25 % each, no NPS or sentiment yet)."""
    from cs_app.accounts.ingest import ingest_events
    from cs_app.accounts.models import Account
    from cs_app.auth.service import create_user
    from cs_app.db_types import utcnow
    from cs_app.extensions import db

    with seed_app.app_context():
        now = utcnow()
        lead = create_user(
            "lena.e2e@example.com", role="lead", name="Lena Lead", password=PASSWORD, now=now
        )
        db.session.add(
            Account(
                external_id="E2E-HEALTH",
                name="Northwind Traders",
                segment="SMB",
                engagement_model="low-touch",
                arr_minor=1_800_000,
                currency="USD",
                contract_start=date(2026, 3, 1),
                renewal_date=date(2027, 3, 1),
                lifecycle_stage="adoption",
            )
        )
        db.session.commit()
        email = lead.email
        hours = [now - timedelta(hours=h) for h in (2, 26, 50)]
        ingest_events(
            [
                {
                    "id": f"e2e-health-login-{i}",
                    "account": "E2E-HEALTH",
                    "type": "login",
                    "at": at.isoformat(),
                    "user": "ana@northwind.example",
                }
                for i, at in enumerate(hours)
            ]
            + [
                {
                    "id": "e2e-health-feature",
                    "account": "E2E-HEALTH",
                    "type": "feature_used",
                    "at": hours[0].isoformat(),
                    "user": "ana@northwind.example",
                    "properties": {"feature": "reports"},
                }
            ],
            now=now,
        )
        db.session.commit()
    _recompute(seed_app)
    return {"lead": email}


def _measure_row(page, key: str) -> str:
    return page.inner_text(f"#measure-{key}")


def test_lead_reweights_a_scorecard_and_the_account_explains_the_new_score(
    page, live_server, seed_app, health_world
):
    sign_in(page, live_server, health_world["lead"])
    page.goto(f"{live_server}/accounts/E2E-HEALTH")
    health = page.locator("#health")
    assert "version 1" in health.inner_text()
    assert health.locator(".health-score .badge").inner_text() == "At risk"
    assert "25 %" in _measure_row(page, "login_frequency")
    screenshot(page, "health-account-v1")

    page.click("nav.mainnav summary")  # "More"
    page.click("nav.mainnav >> text=Scorecards")
    page.click("table >> text=Health Indicators")
    page.wait_for_url(re.compile(r".*/scorecards/\d+$"))
    page.click("text=Edit scorecard")
    page.wait_for_url(re.compile(r".*/scorecards/\d+/edit$"))
    page.fill("#m-0-weight", "40")
    page.fill("#m-1-weight", "10")
    total = page.locator(".measures-card [data-weight-sum]")
    assert total.inner_text() == "100"  # kept current as the weights are typed
    page.fill("#note", "Logins say more about SMB accounts than feature counts")

    page.click("button[value=preview]")
    page.wait_for_load_state()
    what_if = page.locator("#what-if")
    assert re.search(r"\d+ of \d+ accounts? would change band", what_if.inner_text())
    assert "At risk → Healthy" in what_if.locator(".movements").inner_text()
    assert page.input_value("#m-0-weight") == "40"  # the preview kept what was typed
    assert page.locator("#what-if-chart svg[role=img]").count() == 1
    screenshot(page, "scorecard-what-if")

    page.click("button[value=save]")
    page.wait_for_url(re.compile(r".*/scorecards/\d+$"))
    assert "Saved version 2 of “Health Indicators”" in page.inner_text(".flashes")
    assert "Login frequency weight: 25 → 40" in page.inner_text("#audit")
    screenshot(page, "scorecard-version-2")

    _recompute(seed_app)
    page.goto(f"{live_server}/accounts/E2E-HEALTH")
    health = page.locator("#health")
    assert "version 2" in health.inner_text()
    assert health.locator(".health-score .badge").inner_text() == "Healthy"
    login_row, feature_row = (
        _measure_row(page, "login_frequency"),
        _measure_row(page, "feature_adoption"),
    )
    assert "Login frequency" in login_row and "40 %" in login_row
    assert "Feature adoption" in feature_row and "10 %" in feature_row
    rows = page.locator("#health tr.measure").all_inner_texts()
    assert rows[0].startswith("Feature adoption")  # the measure that costs points first
    assert "no data" in _measure_row(page, "nps")
    screenshot(page, "health-account-v2")
