"""The touchpoint pages: the list with its filters and the Retry / Cancel buttons, one
touchpoint with its message, and the template editor with its preview and refusals."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.extensions import db
from cs_app.triggers.touchpoints.models import Touchpoint, TouchpointTemplate
from tests.factories import (
    AccountFactory,
    ContactFactory,
    TouchpointFactory,
    TouchpointTemplateFactory,
    UserFactory,
)
from tests.unit.triggers.touchpoints.test_sandbox_limits import REPEATED_SQUARING


@pytest.fixture
def people(app):
    return {
        "csm": UserFactory(role="csm", name="Casey Miller"),
        "other": UserFactory(role="csm"),
        "lead": UserFactory(role="lead"),
        "viewer": UserFactory(role="viewer"),
    }


@pytest.fixture
def account(people):
    account = AccountFactory(name="Acme Corp", external_id="ACME", csm=people["csm"])
    ContactFactory(account=account, name="Dana Smith", role="champion")
    return account


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="tp-row[^"]*">.*?</tr>', html, re.S)


# --- the list -------------------------------------------------------------------------------


def test_the_list_highlights_dead_and_failed_ones_with_retry_and_cancel(
    client, login, people, account, now
):
    dead = TouchpointFactory(
        account=account,
        status="dead",
        attempts=6,
        last_error="SMTP 554 5.7.1 Transaction failed",
        due_at=now - timedelta(days=1),
    )
    sent = TouchpointFactory(account=account, status="sent", sent_at=now, due_at=now)
    db.session.commit()
    login(people["csm"])

    html = client.get("/touchpoints").get_data(as_text=True)

    rows = _rows(html)
    assert len(rows) == 2
    assert "needs-attention" in rows[1] and f"/touchpoints/{dead.id}/retry" in rows[1]
    assert f"/touchpoints/{dead.id}/cancel" in rows[1]
    assert "SMTP 554 5.7.1 Transaction failed" in rows[1]
    assert "needs-attention" not in rows[0] and "/retry" not in rows[0]
    assert f"/touchpoints/{sent.id}/cancel" not in rows[0]
    assert 'class="tab-dead has-attention"' in html


def test_people_who_cannot_act_see_no_buttons(client, login, people, account):
    TouchpointFactory(account=account, status="dead")
    db.session.commit()
    for role in ("viewer", "other"):
        login(people[role])
        html = client.get("/touchpoints").get_data(as_text=True)
        assert "/retry" not in html and "/cancel" not in html


def test_the_list_filters_by_status_channel_and_account(client, login, people, account, now):
    other_account = AccountFactory(name="Globex", external_id="GLOBEX")
    TouchpointFactory(account=account, status="dead")
    TouchpointFactory(account=account, channel="in_app")
    TouchpointFactory(account=other_account, status="sent")
    db.session.commit()
    login(people["viewer"])
    assert len(_rows(client.get("/touchpoints?status=dead").get_data(as_text=True))) == 1
    assert len(_rows(client.get("/touchpoints?channel=in_app").get_data(as_text=True))) == 1
    html = client.get("/touchpoints?account=glob").get_data(as_text=True)
    assert len(_rows(html)) == 1 and "Globex" in html
    html = client.get("/touchpoints?account=nobody").get_data(as_text=True)
    assert "No touchpoint matches these filters" in html


def test_an_empty_list_says_where_touchpoints_come_from(client, login, people):
    login(people["viewer"])
    html = client.get("/touchpoints").get_data(as_text=True)
    assert "No touchpoints yet" in html and "Schedule a touchpoint" in html


@pytest.mark.parametrize("page", ["99999999999999999999999", "0", "-2", "two"])
def test_a_page_number_that_is_no_page_shows_the_first(client, login, people, account, page):
    TouchpointFactory(account=account, status="dead")
    db.session.commit()
    login(people["viewer"])

    response = client.get(f"/touchpoints?page={page}")

    assert response.status_code == 200
    assert len(_rows(response.get_data(as_text=True))) == 1


def test_the_list_runs_the_same_queries_for_3_or_30_touchpoints(
    client, login, people, account, count_queries
):
    login(people["csm"])

    def queries(n):
        for _ in range(n):
            TouchpointFactory(account=AccountFactory(csm=people["csm"]))
        db.session.commit()
        with count_queries() as counter:
            assert client.get("/touchpoints").status_code == 200
        return counter.count

    assert queries(3) == queries(27)


# --- one touchpoint, retry and cancel -------------------------------------------------------


def test_a_scheduled_touchpoint_shows_its_message_as_it_would_be_sent(
    client, login, people, account
):
    template = TouchpointTemplateFactory(
        subject="Hello {{ account.name }}", body="Hi {{ contact.first_name }}, {{ csm.name }}"
    )
    touchpoint = TouchpointFactory(
        account=account, template=template, last_error="SMTP 451 later", attempts=2
    )
    db.session.commit()
    login(people["viewer"])
    html = client.get(f"/touchpoints/{touchpoint.id}").get_data(as_text=True)
    assert "Message as it would be sent now" in html
    assert "Hello Acme Corp" in html and "Hi Dana, Casey Miller" in html
    assert "SMTP 451 later" in html and "2 of at most 6" in html
    assert touchpoint.message_id.replace("<", "&lt;").replace(">", "&gt;") in html


def test_a_sent_touchpoint_shows_the_text_that_was_sent(client, login, people, account, now):
    touchpoint = TouchpointFactory(
        account=account, status="sent", sent_at=now, subject="As sent", body="The body as sent."
    )
    db.session.commit()
    login(people["viewer"])
    html = client.get(f"/touchpoints/{touchpoint.id}").get_data(as_text=True)
    assert "Message as sent" in html and "The body as sent." in html


def test_the_owning_csm_retries_a_dead_touchpoint(client, login, people, account, now):
    touchpoint = TouchpointFactory(account=account, status="dead", attempts=6)
    db.session.commit()
    login(people["csm"])
    response = client.post(
        f"/touchpoints/{touchpoint.id}/retry", data={"next": "/touchpoints?status=dead"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/touchpoints?status=dead"
    db.session.expire_all()
    row = db.session.get(Touchpoint, touchpoint.id)
    assert (row.status, row.attempts) == ("scheduled", 6)
    html = client.get("/touchpoints").get_data(as_text=True)
    assert "will be sent again within a minute" in html


def test_a_next_address_elsewhere_is_ignored(client, login, people, account):
    touchpoint = TouchpointFactory(account=account, status="dead")
    db.session.commit()
    login(people["lead"])
    response = client.post(
        f"/touchpoints/{touchpoint.id}/cancel", data={"next": "//evil.example/x"}
    )
    assert response.headers["Location"] == f"/touchpoints/{touchpoint.id}"


def test_cancelling_a_sent_touchpoint_is_refused_with_a_message(client, login, people, account):
    touchpoint = TouchpointFactory(account=account, status="sent")
    db.session.commit()
    login(people["lead"])
    response = client.post(f"/touchpoints/{touchpoint.id}/cancel", follow_redirects=True)
    assert "This touchpoint is sent and cannot be cancelled." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Touchpoint, touchpoint.id).status == "sent"


def test_another_csm_may_not_retry(client, login, people, account):
    touchpoint = TouchpointFactory(account=account, status="dead")
    db.session.commit()
    login(people["other"])
    assert client.post(f"/touchpoints/{touchpoint.id}/retry").status_code == 403


# --- templates ------------------------------------------------------------------------------


FORM = {
    "key": "renewal-nudge",
    "name": "Renewal nudge",
    "channel": "email",
    "subject": "{{ account.name }} renews soon",
    "body": "Hi {{ contact.first_name }},\n\nTalk soon.\n{{ csm.name }}",
    "action": "save",
}


def test_a_lead_creates_a_template(client, login, people):
    login(people["lead"])
    response = client.post("/touchpoint-templates/new", data=FORM)
    assert response.status_code == 302
    template = db.session.scalar(
        select(TouchpointTemplate).where(TouchpointTemplate.key == "renewal-nudge")
    )
    assert response.headers["Location"] == f"/touchpoint-templates/{template.id}"
    assert template.body == FORM["body"]


def test_a_syntax_error_is_shown_beside_the_body_with_the_text_kept(client, login, people):
    login(people["lead"])
    body = "Hi {{ contact.first_name }\n{% if x %}"
    response = client.post("/touchpoint-templates/new", data={**FORM, "body": body})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<p class="field-error" id="body-error">Body, line 1: unexpected', html)
    assert "Hi {{ contact.first_name }\n{% if x %}</textarea>" in html.replace("&#39;", "'")
    assert (
        db.session.scalar(
            select(TouchpointTemplate).where(TouchpointTemplate.key == "renewal-nudge")
        )
        is None
    )


def test_a_sandbox_escape_is_refused_beside_the_field(client, login, people):
    login(people["lead"])
    response = client.post(
        "/touchpoint-templates/new", data={**FORM, "subject": "{{ account.__class__ }}"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (
        'id="subject-error">Subject, line 1: &#39;__class__&#39; cannot be used: names '
        "starting with _ are blocked in templates"
    ) in html
    assert 'value="{{ account.__class__ }}"' in html


def test_a_subject_with_a_line_break_is_refused_beside_the_field(client, login, people):
    login(people["lead"])
    response = client.post(
        "/touchpoint-templates/new", data={**FORM, "subject": "Hi\r\nBcc: x@example.com"}
    )
    assert response.status_code == 422
    assert (
        'id="subject-error">Write the subject on one line, without line breaks or control '
        "characters."
    ) in response.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(TouchpointTemplate).where(TouchpointTemplate.key == "renewal-nudge")
        )
        is None
    )


def test_preview_renders_for_the_chosen_account_without_saving(client, login, people, account):
    AccountFactory(name="Aardvark Inc")  # first in the list
    login(people["lead"])
    response = client.post(
        "/touchpoint-templates/new",
        data={**FORM, "action": "preview", "preview_account": str(account.id)},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "As Acme Corp's primary contact would get it now" in html.replace("&#39;", "'")
    assert "Acme Corp renews soon" in html and "Hi Dana," in html and "Casey Miller" in html
    assert f'<option selected value="{account.id}">' in html
    assert (
        db.session.scalar(
            select(TouchpointTemplate).where(TouchpointTemplate.key == "renewal-nudge")
        )
        is None
    )


def test_preview_by_external_id_and_its_refusals(client, login, people, account):
    login(people["lead"])
    html = client.post(
        "/touchpoint-templates/new",
        data={**FORM, "action": "preview", "preview_external_id": "ACME"},
    ).get_data(as_text=True)
    assert "Acme Corp renews soon" in html
    response = client.post(
        "/touchpoint-templates/new",
        data={**FORM, "action": "preview", "preview_external_id": "NOPE"},
    )
    assert response.status_code == 422
    assert "No account has the external ID &#39;NOPE&#39;." in response.get_data(as_text=True)
    response = client.post(
        "/touchpoint-templates/new",
        data={
            **FORM,
            "action": "preview",
            "preview_account": str(account.id),
            "body": "{{ contact.nmae }}",
        },
    )
    assert response.status_code == 422
    assert "Body, line 1: there is no field &#39;nmae&#39; here" in response.get_data(as_text=True)


def test_a_preview_of_a_number_bomb_is_refused_quickly_beside_the_field(
    client, login, people, account
):
    login(people["lead"])
    started = time.monotonic()
    response = client.post(
        "/touchpoint-templates/new",
        data={
            **FORM,
            "action": "preview",
            "preview_account": str(account.id),
            "body": REPEATED_SQUARING,
        },
    )
    assert time.monotonic() - started < 2.5
    assert response.status_code == 422
    assert (
        'id="body-error">Body, line 1: numbers above 2**256 are not allowed in templates'
    ) in response.get_data(as_text=True)


def test_saving_over_a_newer_version_is_refused_with_the_text_kept(client, login, people):
    template = TouchpointTemplateFactory(key="nudge", subject="Old", body="Old body")
    db.session.commit()
    login(people["lead"])
    form = {**FORM, "name": "Mine", "body": "My new body", "version": "1"}
    template.subject = "Someone else's"
    db.session.commit()  # version 2 now
    response = client.post(f"/touchpoint-templates/{template.id}/edit", data=form)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone saved this template since you opened it" in html
    assert "My new body</textarea>" in html
    db.session.expire_all()
    assert db.session.get(TouchpointTemplate, template.id).body == "Old body"


def test_the_editor_opens_with_the_template_and_its_version(client, login, people):
    template = TouchpointTemplateFactory(name="Nudge")
    db.session.commit()
    login(people["lead"])
    html = client.get(f"/touchpoint-templates/{template.id}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in html
    assert 'name="key"' not in html  # fixed once it exists


def test_everyone_reads_a_template_with_a_preview(client, login, people, account):
    template = TouchpointTemplateFactory(name="Nudge", subject="Hi {{ account.name }}")
    db.session.commit()
    login(people["viewer"])
    html = client.get(f"/touchpoint-templates/{template.id}?preview_account={account.id}").get_data(
        as_text=True
    )
    assert "Hi Acme Corp" in html and "/edit" not in html
    listing = client.get("/touchpoint-templates").get_data(as_text=True)
    assert "Nudge" in listing and "New template" not in listing
