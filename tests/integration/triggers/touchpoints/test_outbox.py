"""The development outbox: with no SMTP host configured, the delivery job keeps each email
as it would have been sent and marks its touchpoint sent, nothing connects to port 25, and
admins read the messages at /admin/outbox; with an SMTP host, email goes over SMTP as before."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cs_app.extensions import db
from cs_app.jobs.runner import run_job
from cs_app.triggers.touchpoints.delivery import (
    Mailer,
    Outbox,
    describe_mail_transport,
    mail_transport,
)
from cs_app.triggers.touchpoints.models import OutboxMessage, Touchpoint
from cs_app.triggers.touchpoints.service import schedule_touchpoint
from tests.factories import (
    AccountFactory,
    ContactFactory,
    TouchpointTemplateFactory,
    UserFactory,
)
from tests.integration.conftest import sign_in
from tests.integration.smtp_server import smtp_server


@pytest.fixture
def no_smtp(app, monkeypatch):
    """The default configuration, and any SMTP connection attempt fails the test."""
    assert app.config["SMTP_HOST"] is None
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"an SMTP connection was opened: {args}")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    return attempts


@pytest.fixture
def world(app):
    csm = UserFactory(name="Casey Miller", email="casey@vendor.example")
    account = AccountFactory(name="Acme <Corp>", external_id="ACME", csm=csm)
    contact = ContactFactory(account=account, name="Dana Smith", email="dana@acme.example")
    return {"csm": csm, "account": account, "contact": contact}


def _schedule(world, now, *, channel="email", subject="Hello {{ account.name }}"):
    template = TouchpointTemplateFactory(
        channel=channel, subject=subject, body="Hi {{ contact.first_name }}, <b>welcome</b>."
    )
    person = (
        {"contact": world["contact"]} if channel == "email" else {"recipient_user": world["csm"]}
    )
    kind = "primary_contact" if channel == "email" else "owning_csm"
    touchpoint = schedule_touchpoint(
        world["account"], template=template, recipient_kind=kind, now=now, channel=channel, **person
    )
    db.session.commit()
    return touchpoint


def test_without_an_smtp_host_email_goes_to_the_outbox_and_the_touchpoint_is_sent(
    app, no_smtp, world, now
):
    touchpoint = _schedule(world, now)
    run = run_job("deliver-touchpoints", trigger="cli", now=now)
    assert run.status == "succeeded", run.error
    assert run.counts["sent"] == 1 and run.counts["retrying"] == 0
    assert no_smtp == []
    db.session.expire_all()
    row = db.session.get(Touchpoint, touchpoint.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    [kept] = db.session.scalars(select(OutboxMessage)).all()
    assert kept.touchpoint_id == touchpoint.id and kept.message_id == touchpoint.message_id
    assert kept.to == "Dana Smith <dana@acme.example>" and kept.subject == "Hello Acme <Corp>"
    assert f"Message-ID: {touchpoint.message_id}" in kept.headers
    assert "Reply-To: casey@vendor.example" in kept.headers
    assert "Hi Dana, <b>welcome</b>." in kept.raw
    assert run_job("deliver-touchpoints", trigger="cli", now=now).counts["claimed"] == 0
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_an_internal_alerts_mail_copy_goes_to_the_outbox_too(app, no_smtp, world, now):
    touchpoint = _schedule(world, now, channel="internal_alert")
    assert run_job("deliver-touchpoints", trigger="cli", now=now).counts["sent"] == 1
    kept = db.session.scalar(select(OutboxMessage))
    assert kept.touchpoint_id == touchpoint.id and "casey@vendor.example" in kept.to


def test_with_an_smtp_host_email_goes_over_smtp_and_not_to_the_outbox(app, world, now, monkeypatch):
    touchpoint = _schedule(world, now)
    with smtp_server() as (sink, port):
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", port)
        assert run_job("deliver-touchpoints", trigger="cli", now=now).counts["sent"] == 1
        [received] = sink.wait_for(1)
    assert received.message["Message-ID"] == touchpoint.message_id
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_the_transport_follows_the_smtp_host(app):
    config = {"SMTP_HOST": None, "SMTP_PORT": 25}
    assert isinstance(mail_transport(config, clock=lambda: None), Outbox)
    assert describe_mail_transport(config) == (
        "development outbox (/admin/outbox) — set CS_APP_SMTP_HOST to send"
    )
    config = {"SMTP_HOST": "mail.example.test", "SMTP_PORT": 2525}
    assert isinstance(mail_transport(config, clock=lambda: None), Mailer)
    assert describe_mail_transport(config) == "SMTP mail.example.test:2525"


# --- the pages --------------------------------------------------------------------------------


def _kept(count: int, now) -> list[OutboxMessage]:
    rows = [
        OutboxMessage(
            message_id=f"<m{n}@example.test>",
            mail_from="cs@example.test",
            to=f"person{n}@customer.example",
            subject=f"Message {n}",
            headers=f"Subject: Message {n}",
            raw=f"Subject: Message {n}\n\nBody {n}",
            created_at=now + timedelta(minutes=n),
        )
        for n in range(count)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def test_admins_read_the_outbox_newest_first_a_page_at_a_time(app, client, now):
    sign_in(client, UserFactory(role="admin"))
    _kept(51, now)
    first = client.get("/admin/outbox").get_data(as_text=True)
    assert "Message 50" in first and "Message 1<" in first and "Message 0<" not in first
    assert first.index("Message 50") < first.index("Message 49")
    assert "Page 1 of 2" in first and "1–50 of 51 messages" in first
    second = client.get("/admin/outbox?page=2").get_data(as_text=True)
    assert "Message 0<" in second and "Message 50" not in second
    assert 'aria-current="page">Outbox</a>' in first


def test_the_outbox_is_empty_until_an_email_is_kept(app, client):
    sign_in(client, UserFactory(role="admin"))
    assert "The outbox is empty" in client.get("/admin/outbox").get_data(as_text=True)


def test_a_message_page_shows_headers_and_body_escaped(app, client, no_smtp, world, now):
    admin = UserFactory(role="admin")
    touchpoint = _schedule(world, now, subject="Hi <script>alert(1)</script> {{ account.name }}")
    run_job("deliver-touchpoints", trigger="cli", now=now)
    kept = db.session.scalar(select(OutboxMessage))
    sign_in(client, admin)
    html = client.get(f"/admin/outbox/{kept.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt; Acme &lt;Corp&gt;" in html
    assert (
        "<dt>Message-ID</dt><dd>" + touchpoint.message_id.replace("<", "&lt;").replace(">", "&gt;")
        in html
    )
    assert "Hi Dana, &lt;b&gt;welcome&lt;/b&gt;." in html  # the body, decoded from the raw text
    assert f'href="/touchpoints/{touchpoint.id}"' in html
    page = client.get(f"/touchpoints/{touchpoint.id}").get_data(as_text=True)
    assert "sent to the development outbox" in page
    assert f'href="/admin/outbox/{kept.id}"' in page


def test_others_see_the_note_but_not_the_outbox(app, client, no_smtp, world, now):
    touchpoint = _schedule(world, now)
    run_job("deliver-touchpoints", trigger="cli", now=now)
    kept = db.session.scalar(select(OutboxMessage))
    sign_in(client, UserFactory(role="lead"))
    page = client.get(f"/touchpoints/{touchpoint.id}").get_data(as_text=True)
    assert "sent to the development outbox" in page and "/admin/outbox" not in page
    assert client.get("/admin/outbox").status_code == 403
    assert client.get(f"/admin/outbox/{kept.id}").status_code == 403


def test_a_missing_message_is_404(app, client):
    sign_in(client, UserFactory(role="admin"))
    assert client.get("/admin/outbox/999999").status_code == 404
