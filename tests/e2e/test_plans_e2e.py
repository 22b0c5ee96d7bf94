"""A CSM builds a plan in Chromium; a viewer sees it without edit controls."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.e2e.conftest import PASSWORD, screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def people(seed_app):
    from cs_app.accounts.models import Account, Contact
    from cs_app.auth.service import create_user
    from cs_app.db_types import utcnow
    from cs_app.extensions import db

    with seed_app.app_context():
        now = utcnow()
        csm = create_user(
            "casey.e2e@example.com", role="csm", name="Casey Morgan", password=PASSWORD, now=now
        )
        viewer = create_user(
            "vic.e2e@example.com", role="viewer", name="Vic Viewer", password=PASSWORD, now=now
        )
        account = Account(
            external_id="E2E-ACME",
            name="Acme Logistics",
            segment="Enterprise",
            engagement_model="high-touch",
            arr_minor=18_500_000,
            currency="USD",
            contract_start=date(2026, 9, 1),
            renewal_date=date(2027, 9, 1),
            lifecycle_stage="onboarding",
            csm_id=csm.id,
        )
        db.session.add(account)
        db.session.flush()
        db.session.add_all(
            [
                Contact(
                    account_id=account.id,
                    name="Sarah Chen",
                    role="executive_sponsor",
                    influence="decision_maker",
                    engagement="high",
                    status="active",
                ),
                Contact(
                    account_id=account.id,
                    name="Priya Nair",
                    role="technical_admin",
                    influence="influencer",
                    engagement="medium",
                    status="active",
                ),
            ]
        )
        db.session.commit()
        return {"csm": csm.email, "viewer": viewer.email}


def test_csm_creates_plan_and_an_action_needs_a_due_date(page, live_server, people):
    sign_in(page, live_server, people["csm"])
    page.goto(f"{live_server}/accounts/E2E-ACME")
    page.click("#new-plan summary")
    page.get_by_label("Template").select_option("enterprise-high-touch")
    page.click("#new-plan button[type=submit]")
    page.wait_for_url(re.compile(r".*/plans/\d+$"))
    assert "Technical setup complete" in page.inner_text("#milestones")
    screenshot(page, "plan-from-template")

    page.click("#editor-add-actions summary")
    page.fill("#add-actions-title", "Configure SSO with Priya")
    page.select_option("#add-actions-owner", label="Priya Nair")
    page.click("#editor-add-actions button[type=submit]")
    error = page.locator("#editor-add-actions .field-error")
    assert error.first.inner_text() == "An action needs a due date."
    assert page.input_value("#add-actions-title") == "Configure SSO with Priya"
    screenshot(page, "action-missing-due-date")

    page.fill("#add-actions-due_date", "2026-12-15")
    page.click("#editor-add-actions button[type=submit]")
    page.wait_for_load_state()
    actions = page.inner_text("#actions table")
    assert "Configure SSO with Priya" in actions and "2026-12-15" in actions
    screenshot(page, "action-saved")


def test_viewer_sees_no_edit_controls(page, live_server, people):
    sign_in(page, live_server, people["viewer"])
    page.goto(f"{live_server}/plans")
    page.click("text=Acme Logistics")
    page.wait_for_url(re.compile(r".*/plans/\d+$"))
    assert "Technical setup complete" in page.inner_text("#milestones")
    post_forms = page.locator("main form[method=post]")
    assert post_forms.count() == 0
    assert page.locator("details.editor").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
    screenshot(page, "plan-as-viewer")
