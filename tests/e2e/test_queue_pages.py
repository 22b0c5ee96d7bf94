"""A CSM works their queue in Chromium: routed accounts arrive with the signal values that
matched, a breached one comes first, they claim it from the pool's page and resolve it from
the item page (refused first without an outcome)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.e2e.conftest import PASSWORD, screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def queue_world(seed_app):
    """A pool led by Lena with Casey (SMB) and Tom (away); five accounts routed into it,
    one of them already past its SLA and flagged by the check-slas job."""
    from cs_app.accounts.models import Account
    from cs_app.auth.service import create_user
    from cs_app.db_types import utcnow
    from cs_app.extensions import db
    from cs_app.triggers.pools import service as pools
    from cs_app.triggers.pools.models import QueueItem
    from cs_app.triggers.pools.sla import flag_sla_breaches
    from cs_app.triggers.refs import FiringRef
    from cs_app.triggers.rules.models import Rule, RuleFiring

    with seed_app.app_context():
        now = utcnow()
        lead = create_user(
            "lena.queue@example.com", role="lead", name="Lena Lead", password=PASSWORD, now=now
        )
        casey = create_user(
            "casey.queue@example.com", role="csm", name="Casey Quinn", password=PASSWORD, now=now
        )
        tom = create_user(
            "tom.queue@example.com", role="csm", name="Tom Away", password=PASSWORD, now=now
        )
        pool = pools.create_pool(
            {
                "name": "SMB rescue desk",
                "key": "smb-rescue",
                "strategy": "segment_first",
                "lead": lead.id,
                "default_sla_hours": 24,
                "description": "Pooled SMB accounts whose usage dropped.",
                "members": [
                    {"user": casey.id, "capacity": 4, "segments": ["SMB"]},
                    {"user": tom.id, "capacity": 4, "segments": ["SMB"], "away": True},
                ],
            },
            user=lead,
            now=now,
        )
        rule = Rule(
            name="Usage dropped 40 % in 30 days",
            kind="risk",
            enabled=True,
            mode="scheduled",
            condition={"all": []},
            actions=[],
            once_policy="while_open",
            cooldown_days=0,
            created_at=now,
            updated_at=now,
        )
        db.session.add(rule)
        names = [
            "Northwind Traders",
            "Bluebird Bakery",
            "Copperleaf Dental",
            "Driftwood Surf Co",
            "Elmstreet Books",
            "Foxglove Florists",
        ]
        firings = []
        for index, name in enumerate(names):
            account = Account(
                external_id=f"E2E-Q{index}",
                name=name,
                segment="SMB",
                engagement_model="low-touch",
                arr_minor=(6 + index) * 100_000,
                currency="USD",
                contract_start=date(2026, 2, 1),
                renewal_date=date(2027, 2, 1),
                lifecycle_stage="adoption",
            )
            db.session.add(account)
            db.session.flush()
            matched = {
                "usage_change_pct": -40 - index * 7,
                "days_since_last_login": 9 + index,
                "seat_utilization_pct": 35 + index,
            }
            firing = RuleFiring(
                rule_id=rule.id,
                account_id=account.id,
                fired_at=now,
                status="open",
                trigger="schedule",
                matched=matched,
            )
            db.session.add(firing)
            db.session.flush()
            firings.append(FiringRef(firing.id, rule.id, rule.name, account.id, "SMB", matched))
        # Casey holds 4 at most: the last two wait unassigned and Lena is alerted
        items = pools.route_firings(
            firings,
            pool_key="smb-rescue",
            priority="normal",
            sla_hours=24,
            now=now - timedelta(hours=2),
        )
        late = items[firings[0].firing_id]
        late.sla_due_at = now - timedelta(hours=1)
        late.priority = "high"
        db.session.flush()
        flag_sla_breaches(now=now)
        db.session.commit()
        assert db.session.query(QueueItem).filter(QueueItem.assignee_id.is_(None)).count() == 2
        return {"pool_id": pool.id, "late_id": late.id, "casey": casey.email, "lead": lead.email}


def test_a_csm_claims_and_resolves_from_the_queue(page, live_server, queue_world):
    sign_in(page, live_server, queue_world["casey"])
    page.click("nav.mainnav >> text=Queue")
    page.wait_for_url(f"{live_server}/queue")
    rows = page.locator("table.queue-table tbody tr")
    assert rows.count() == 4
    assert "Northwind Traders" in rows.first.inner_text()
    assert "Breached" in rows.first.inner_text()
    screenshot(page, "queue-my-queue")

    page.goto(f"{live_server}/pools/{queue_world['pool_id']}?status=unassigned")
    waiting = page.locator("table.queue-table tbody tr")
    assert waiting.count() == 2
    screenshot(page, "queue-pool-unassigned")
    waiting.first.locator("button", has_text="Claim").click()
    page.wait_for_url(re.compile(r".*/pools/\d+\?status=unassigned$"))
    assert "You claimed" in page.inner_text(".flashes")
    assert page.locator("table.queue-table tbody tr").count() == 1

    page.goto(f"{live_server}/pools/{queue_world['pool_id']}")
    screenshot(page, "queue-pool")

    page.goto(f"{live_server}/queue/{queue_world['late_id']}")
    page.click("#resolve button[type=submit]")
    page.wait_for_load_state()
    assert "Choose an outcome" in page.inner_text("#resolve .field-error")
    screenshot(page, "queue-item-refused")
    page.select_option("#outcome", "saved")
    page.fill("#notes", "Walked the admin through the new reports; usage is back.")
    page.click("#resolve button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue/\d+$"))
    assert "Resolved Northwind Traders: Saved." in page.inner_text(".flashes")
    assert "resolved it: Saved" in page.inner_text("body")
    screenshot(page, "queue-item-resolved")

    page.click("nav.mainnav >> text=My work")
    queue = page.locator("#my-queue")
    assert "Bluebird Bakery" in queue.inner_text() and "Northwind" not in queue.inner_text()
    screenshot(page, "queue-home")


def test_the_lead_sees_the_pool_and_alerts(page, live_server, queue_world):
    sign_in(page, live_server, queue_world["lead"])
    page.click("nav.mainnav summary")  # the "More" menu
    page.click("nav.mainnav >> text=CSM pools")
    assert "SMB rescue desk" in page.inner_text("table.pools-table")
    screenshot(page, "queue-pools-list")
    page.click(".usermenu >> text=Alerts")
    page.wait_for_url(f"{live_server}/alerts")
    assert page.locator(".alert-row.is-unread").count() >= 2
    screenshot(page, "queue-alerts")
    page.goto(f"{live_server}/pools/{queue_world['pool_id']}/edit")
    screenshot(page, "queue-pool-edit")
