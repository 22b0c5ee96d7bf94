"""A lead builds a trigger rule in Chromium with the builder's rows: two clauses, an action,
a preview of the accounts that match now and why, then saves it and reads it back."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.e2e.conftest import PASSWORD, screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rule_world(seed_app):
    """Two accounts quiet for three weeks or more with a renewal inside 90 days (one owned by
    a CSM, one pooled) and one busy account that logs in daily."""
    from cs_app.accounts.ingest import ingest_events
    from cs_app.accounts.models import Account
    from cs_app.auth.service import create_user
    from cs_app.db_types import utcnow
    from cs_app.extensions import db
    from cs_app.health.recompute import recompute

    with seed_app.app_context():
        now = utcnow()
        lead = create_user(
            "rita.rules@example.com", role="lead", name="Rita Rules", password=PASSWORD, now=now
        )
        csm = create_user(
            "carl.csm@example.com", role="csm", name="Carl CSM", password=PASSWORD, now=now
        )
        accounts = (
            ("E2E-RULE-QUIET", "Quietly Corp", "Enterprise", 9_600_000, csm, 21, 45),
            ("E2E-RULE-DORMANT", "Dormant Ltd", "SMB", 1_200_000, None, 33, 20),
            ("E2E-RULE-BUSY", "Busy Inc", "Mid-Market", 4_000_000, None, 0, 30),
        )
        events = []
        for external_id, name, segment, arr, owner, idle_days, renewal_days in accounts:
            db.session.add(
                Account(
                    external_id=external_id,
                    name=name,
                    segment=segment,
                    arr_minor=arr,
                    currency="USD",
                    engagement_model="hybrid",
                    csm=owner,
                    contract_start=now.date() - timedelta(days=320),
                    renewal_date=now.date() + timedelta(days=renewal_days),
                    lifecycle_stage="adoption",
                )
            )
            events.append(
                {
                    "id": f"{external_id}-login",
                    "account": external_id,
                    "type": "login",
                    "user": "someone@customer.example",
                    "at": (now - timedelta(days=idle_days, hours=1)).isoformat(),
                }
            )
        db.session.commit()
        ingest_events(events, now=now)
        db.session.commit()
        recompute(now=utcnow())
        db.session.commit()
        return {"lead": lead.email}


def _clause(page, index: int):
    return page.locator("#condition-section .cond-clause").nth(index)


def test_lead_builds_previews_and_saves_a_rule(page, live_server, rule_world):
    sign_in(page, live_server, rule_world["lead"])
    page.click("nav.mainnav >> text=Rules")
    page.wait_for_url(re.compile(r".*/rules$"))
    page.click("text=+ New rule")
    page.wait_for_url(re.compile(r".*/rules/new$"))

    # the script replaced the JSON textarea with rows
    assert page.locator("#condition").is_hidden()
    page.fill("#name", "Quiet before renewal")
    page.fill("#description", "Enterprise and SMB accounts that went quiet ahead of renewal.")

    first = _clause(page, 0)
    first.locator("select.clause-signal").select_option("days_since_last_login")
    first.locator("select.clause-op").select_option(">")
    first.locator("input.value-input").fill("14")
    page.click("#condition-section .cond-group >> nth=0 >> button.add-clause")
    second = _clause(page, 1)
    second.locator("select.clause-signal").select_option("days_to_renewal")
    second.locator("select.clause-op").select_option("<=")
    second.locator("input.value-input").fill("90")

    page.click("#actions-section button.add-action")
    action = page.locator("#actions-section .action-row").nth(0)
    action.locator("select.action-type").select_option("route_to_pool")
    action.locator("select[data-field=pool]").select_option("csm-pool")
    action.locator("select[data-field=priority]").select_option("high")
    action.locator("input[data-field=sla_hours]").fill("24")

    page.click("button[value=preview]")
    page.wait_for_selector("#preview")
    preview = page.locator("#preview")
    assert "2 accounts match now" in preview.locator("h2").inner_text()
    rows = preview.locator("tbody tr")
    assert rows.count() == 2
    quiet = rows.nth(0).inner_text()
    assert "Quietly Corp" in quiet and "Enterprise" in quiet and "Carl CSM" in quiet
    assert re.search(r"\b21\b", quiet) and re.search(r"\b45\b", quiet)
    assert rows.nth(0).locator(".clause-mark.mark-true").count() == 2
    assert "Dormant Ltd" in rows.nth(1).inner_text()
    assert "Busy Inc" not in preview.inner_text()
    # what was typed is back as rows after the round trip
    assert page.input_value("#name") == "Quiet before renewal"
    assert page.locator("#condition-section .cond-clause").count() == 2
    assert _clause(page, 1).locator("input.value-input").input_value() == "90"
    screenshot(page, "rule-builder-preview")

    page.click("button[value=save]")
    page.wait_for_url(re.compile(r".*/rules/\d+$"))
    assert "Rule “Quiet before renewal” created." in page.inner_text(".flashes")
    assert page.inner_text("#condition-text") == (
        "Days since last login > 14 AND Days to renewal ≤ 90"
    )
    assert "Route to the “CSM Pool” pool, high priority, SLA 24 hours" in page.inner_text(
        "#action-words"
    )
    assert "Rita Rules" in page.inner_text("#audit")
    screenshot(page, "rule-page")

    page.goto(f"{live_server}/rules?sort=updated&dir=desc")
    first_row = page.locator(".rules-table tbody tr").nth(0).inner_text()
    assert "Quiet before renewal" in first_row and "Risk" in first_row
    screenshot(page, "rules-list")


def test_a_bad_clause_is_marked_on_its_row(page, live_server, rule_world):
    sign_in(page, live_server, rule_world["lead"])
    page.goto(f"{live_server}/rules/new")
    page.fill("#name", "Broken on purpose")
    first = _clause(page, 0)
    first.locator("select.clause-signal").select_option("nps_category")
    first.locator("select.clause-op").select_option("in")
    page.click("button[value=save]")
    page.wait_for_selector(".condition-error")
    assert "condition.all[0]: in needs a non-empty list of values" in page.inner_text(
        ".condition-error"
    )
    assert _clause(page, 0).get_attribute("class").split().count("has-error") == 1
    assert "in needs a non-empty list" in _clause(page, 0).locator(".row-error").inner_text()
    assert page.input_value("#name") == "Broken on purpose"
    screenshot(page, "rule-builder-error")


def test_the_builder_works_without_javascript(browser, live_server, rule_world):
    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, live_server, rule_world["lead"])
        page.goto(f"{live_server}/rules/new")
        assert page.locator("#condition").is_visible()  # the JSON is edited directly
        page.fill("#name", "Dormant SMB accounts")
        page.select_option("#kind", "renewal")
        page.fill(
            "#condition",
            '{"all": [{"signal": "segment", "op": "=", "value": "SMB"}, '
            '{"signal": "days_since_last_login", "op": ">=", "value": 30}]}',
        )
        page.fill("#actions", '[{"type": "set_stage", "stage": "renewal"}]')
        page.click("button[value=preview]")
        page.wait_for_selector("#preview")
        assert "1 account matches now" in page.inner_text("#preview h2")
        assert "Dormant Ltd" in page.inner_text("#preview tbody")
        screenshot(page, "rule-builder-no-js")
        page.click("button[value=save]")
        page.wait_for_url(re.compile(r".*/rules/\d+$"))
        assert page.inner_text("#condition-text") == (
            "Segment is SMB AND Days since last login ≥ 30"
        )
        assert "Set the lifecycle stage to Renewal" in page.inner_text("#action-words")
    finally:
        context.close()


def test_nested_groups_and_the_json_view_stay_in_step(page, live_server, rule_world):
    import json

    sign_in(page, live_server, rule_world["lead"])
    page.goto(f"{live_server}/rules/new")
    first = _clause(page, 0)
    first.locator("select.clause-signal").select_option("health_band")
    first.locator("select.value-input").select_option("critical")
    page.click("#condition-section .cond-group >> nth=0 >> button.add-group")
    nested = page.locator("#condition-section .cond-group .cond-group")
    nested.locator("select.group-kind").select_option("none")
    nested.locator("button.add-clause").click()
    inner = nested.locator(".cond-clause")
    inner.nth(0).locator("select.clause-signal").select_option("segment")
    inner.nth(0).locator("select.clause-op").select_option("in")
    inner.nth(0).locator("input[value=SMB]").check()
    inner.nth(0).locator("input[value=Enterprise]").check()
    inner.nth(1).locator("select.clause-signal").select_option("__metric__")
    inner.nth(1).locator("input.clause-metric").fill("quota_used_pct")
    inner.nth(1).locator("select.clause-op").select_option("between")
    inner.nth(1).locator("input[aria-label=From]").fill("80")
    inner.nth(1).locator("input[aria-label=To]").fill("100")
    expected = {
        "all": [
            {"signal": "health_band", "op": "=", "value": "critical"},
            {
                "not": {
                    "any": [
                        {"signal": "segment", "op": "in", "value": ["SMB", "Enterprise"]},
                        {"signal": "metric.quota_used_pct", "op": "between", "value": [80, 100]},
                    ]
                }
            },
        ]
    }
    assert json.loads(page.input_value("#condition")) == expected

    page.click("[data-json-toggle=condition]")
    assert page.locator("#condition").is_visible()
    page.fill(
        "#condition",
        json.dumps({"any": [{"signal": "champion_departed", "op": "=", "value": True}]}),
    )
    page.click("[data-json-toggle=condition]")
    assert page.locator("#condition").is_hidden()
    assert page.locator("#condition-section .group-kind").first.input_value() == "any"
    assert _clause(page, 0).locator("select.value-input").input_value() == "true"
    assert page.locator("#condition-section .cond-clause").count() == 1
