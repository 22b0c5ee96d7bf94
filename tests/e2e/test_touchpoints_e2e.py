"""A lead in Chromium: the touchpoint list (a dead one highlighted, retried from the list), then
the template editor: a preview for a chosen account, and a refused sandbox escape shown beside
the field with the typed text kept."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.e2e.conftest import PASSWORD, screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def touchpoint_world(seed_app):
    from cs_app.accounts.models import Account, Contact
    from cs_app.auth.service import create_user
    from cs_app.db_types import utcnow
    from cs_app.extensions import db
    from cs_app.triggers.touchpoints.service import schedule_touchpoint
    from cs_app.triggers.touchpoints.templates import create_template

    with seed_app.app_context():
        now = utcnow()
        lead = create_user(
            "lara.e2e@example.com", role="lead", name="Lara Lead", password=PASSWORD, now=now
        )
        csm = create_user(
            "carl.e2e@example.com", role="csm", name="Carl Csm", password=PASSWORD, now=now
        )
        accounts, contacts = [], []
        for n, (name, person) in enumerate(
            [
                ("Initech", "Peter Gibbons"),
                ("Umbrella Health", "Alice Abernathy"),
                ("Stark Logistics", "Pepper Potts"),
            ]
        ):
            account = Account(
                external_id=f"E2E-TP-{n}",
                name=name,
                segment="Mid-Market",
                arr_minor=4_800_000,
                renewal_date=date(2027, 2, 1),
                csm=csm,
            )
            contact = Contact(
                account=account,
                name=person,
                role="champion",
                email=f"{person.split()[0].lower()}@{name.split()[0].lower()}.example",
                title="Head of Operations",
                status="active",
            )
            db.session.add_all([account, contact])
            accounts.append(account)
            contacts.append(contact)
        db.session.flush()
        template = create_template(
            {
                "key": "e2e-renewal",
                "name": "Renewal check-in",
                "channel": "email",
                "subject": "{{ account.name }}: planning your renewal",
                "body": "Hi {{ contact.first_name }},\n\n{{ account.name }} renews on "
                "{{ account.renewal_date }}.\n\n{{ csm.name }}",
            },
            user=lead,
            now=now,
        )
        rows = [
            (0, "sent", 1, None),
            (1, "dead", 6, "SMTP 554 5.7.1 Relay access denied"),
            (2, "scheduled", 2, "SMTP 451 4.3.0 Mailbox busy, try again later"),
            (
                0,
                "failed",
                1,
                "The in-app webhook is not configured: set "
                "CS_APP_WEBHOOK_URL and CS_APP_WEBHOOK_SECRET, then retry.",
            ),
            (1, "scheduled", 0, None),
            (2, "cancelled", 0, None),
        ]
        for index, (n, status, attempts, error) in enumerate(rows):
            touchpoint = schedule_touchpoint(
                accounts[n],
                template=template,
                recipient_kind="primary_contact",
                contact=contacts[n],
                now=now - timedelta(hours=6 - index),
                due_at=now + timedelta(hours=index - 3),
                channel="in_app" if status == "failed" else "email",
            )
            touchpoint.status, touchpoint.attempts, touchpoint.last_error = status, attempts, error
            if status == "sent":
                touchpoint.sent_at = now - timedelta(hours=2)
                touchpoint.subject = "Initech: planning your renewal"
                touchpoint.body = "Hi Peter, ..."
            if status == "scheduled" and attempts:
                touchpoint.next_attempt_at = now + timedelta(minutes=25)
        db.session.commit()
        return {"lead": lead.email, "template_id": template.id}


def test_lead_works_the_touchpoint_list_and_previews_a_template(
    page, live_server, touchpoint_world
):
    sign_in(page, live_server, touchpoint_world["lead"])
    page.click("nav.mainnav summary")  # "More"
    page.click("nav.mainnav >> text=Touchpoints")
    page.wait_for_url(f"{live_server}/touchpoints")
    dead = page.locator("tr.tp-row-dead")
    assert "Relay access denied" in dead.inner_text()
    assert "needs-attention" in dead.get_attribute("class")
    assert page.locator("tr.needs-attention").count() == 2  # the dead and the failed one
    screenshot(page, "touchpoints-list")

    page.locator("tr.tp-row-failed td a").first.click()
    page.wait_for_url(re.compile(r".*/touchpoints/\d+$"))
    assert "CS_APP_WEBHOOK_URL" in page.inner_text(".tp-attention")
    assert "Umbrella" not in page.inner_text(".tp-message")
    assert "Hi Peter," in page.inner_text(".tp-message")
    screenshot(page, "touchpoint-detail")
    page.go_back()

    dead.locator("button", has_text="Retry").click()
    page.wait_for_url(re.compile(r".*/touchpoints\??$"))
    assert "will be sent again within a minute" in page.inner_text(".flashes")
    assert page.locator("tr.tp-row-dead").count() == 0

    page.goto(f"{live_server}/touchpoint-templates/{touchpoint_world['template_id']}/edit")
    page.select_option("#preview_account", label="Umbrella Health (E2E-TP-1)")
    page.fill(
        "#body",
        "Hi {{ contact.first_name }},\n\n{{ account.name }} ({{ account.arr }}) "
        "renews in {{ account.days_to_renewal }} days, on "
        "{{ account.renewal_date.strftime('%d %B %Y') }}.\n\n{{ csm.name }}",
    )
    page.click("button[value=preview]")
    page.wait_for_load_state()
    preview = page.inner_text(".tp-preview")
    assert "Umbrella Health: planning your renewal" in preview
    assert re.search(
        r"Hi Alice,\s+Umbrella Health \(\$48,000\) renews in \d+ days, on "
        r"01 February 2027\.\s+Carl Csm",
        preview,
    )
    screenshot(page, "touchpoint-template-preview")

    page.fill("#subject", "{{ account.__class__.__mro__ }}")
    page.click("button[value=save]")
    page.wait_for_load_state()
    error = page.inner_text("#subject-error")
    assert error == (
        "Subject, line 1: '__class__' cannot be used: names starting with _ are "
        "blocked in templates"
    )
    assert page.input_value("#subject") == "{{ account.__class__.__mro__ }}"
    assert "renews in {{ account.days_to_renewal }}" in page.input_value("#body")
    screenshot(page, "touchpoint-template-refused")

    page.goto(f"{live_server}/touchpoint-templates")
    row = page.locator("tr", has_text="Renewal check-in")
    assert "e2e-renewal" in row.inner_text()
    screenshot(page, "touchpoint-templates")
