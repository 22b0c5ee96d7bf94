"""One bad touchpoint never blocks the rest: whatever goes wrong while one message is loaded,
built or sent fails that touchpoint readably (retried or failed by the usual schedule, with
an alert), and the run goes on to the next — against a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from cs_app.accounts.models import Contact
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.touchpoints import delivery
from cs_app.triggers.touchpoints import service as touchpoint_service
from cs_app.triggers.touchpoints.delivery import deliver_due_touchpoints
from cs_app.triggers.touchpoints.models import Touchpoint
from cs_app.triggers.touchpoints.retry import BACKOFF, MAX_ATTEMPTS
from cs_app.triggers.touchpoints.service import retry_touchpoint, schedule_touchpoint
from tests.factories import AccountFactory, ContactFactory, TouchpointTemplateFactory, UserFactory
from tests.integration.smtp_server import smtp_server

MAIL_FROM = "Customer Success <cs@example.test>"
POISON = "Evil\r\nBcc: x@example.com"


@pytest.fixture
def mail(app, monkeypatch):
    with smtp_server() as (sink, port):
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", MAIL_FROM)
        yield sink


@pytest.fixture
def csm(app):
    return UserFactory(name="Casey Miller", email="casey@vendor.example")


@pytest.fixture
def template(app):
    return TouchpointTemplateFactory(
        channel="email", subject="Hello {{ account.name }}", body="Hi {{ contact.first_name }}."
    )


def _contact_stored_as_is(account, name: str, email: str) -> Contact:
    """A contact written straight to the table, as one from before the entry checks was."""
    contact_id = db.session.execute(
        insert(Contact.__table__)
        .values(
            account_id=account.id,
            name=name,
            email=email,
            role="champion",
            influence="user",
            engagement="medium",
            status="active",
        )
        .returning(Contact.__table__.c.id)
    ).scalar_one()
    return db.session.get(Contact, contact_id)


def _schedule_to(contact, template, now) -> Touchpoint:
    touchpoint = schedule_touchpoint(
        contact.account,
        template=template,
        recipient_kind="primary_contact",
        now=now,
        contact=contact,
    )
    db.session.commit()
    return touchpoint


def _three(csm, template, now, *, poisoned_name=POISON, poisoned_email="eve@evil.example"):
    """A good touchpoint, a poisoned one, a good one: scheduled in that order."""
    touchpoints = []
    for index, (name, email) in enumerate(
        [
            ("Dana Smith", "dana@one.example"),
            (poisoned_name, poisoned_email),
            ("Lee Park", "lee@three.example"),
        ]
    ):
        account = AccountFactory(name=f"Account {index}", external_id=f"ACC-{index}", csm=csm)
        contact = (
            ContactFactory(account=account, name=name, email=email, role="champion")
            if index != 1
            else _contact_stored_as_is(account, name, email)
        )
        touchpoints.append(_schedule_to(contact, template, now))
    return touchpoints


def _reload(touchpoint) -> Touchpoint:
    db.session.expire_all()
    return db.session.get(Touchpoint, touchpoint.id)


def _failure_alerts() -> list[Alert]:
    return list(
        db.session.scalars(select(Alert).where(Alert.kind == "dead_touchpoint").order_by(Alert.id))
    )


@pytest.mark.parametrize("batch_size", [1, 20])
def test_a_poisoned_contact_name_fails_its_touchpoint_and_every_good_one_is_sent(
    app, mail, csm, template, now, monkeypatch, batch_size
):
    monkeypatch.setitem(app.config, "DELIVERY_BATCH_SIZE", batch_size)
    good, poisoned, also_good = _three(csm, template, now)

    counts = deliver_due_touchpoints(now=now)

    assert (counts["claimed"], counts["sent"], counts["failed"]) == (3, 2, 1)
    received = mail.wait_for(2)
    assert sorted(r.rcpt_tos for r in received) == [("dana@one.example",), ("lee@three.example",)]
    assert all(r.message["Bcc"] is None for r in received)
    assert (_reload(good).status, _reload(also_good).status) == ("sent", "sent")
    row = _reload(poisoned)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == (
        "The recipient's name contains a line break or control character, which cannot go in "
        "an email header. Correct the recipient's name, then retry."
    )
    [alert] = _failure_alerts()
    assert (alert.user_id, alert.touchpoint_id) == (csm.id, poisoned.id)
    assert "cannot be sent" in alert.title and "line break" in alert.body
    # the next run has nothing left to do: the poisoned one waits for a person
    assert deliver_due_touchpoints(now=now + timedelta(hours=1))["claimed"] == 0
    assert len(mail.received) == 2


def test_a_poisoned_address_fails_its_touchpoint_and_the_others_go(app, mail, csm, template, now):
    good, poisoned, also_good = _three(
        csm, template, now, poisoned_name="Eve", poisoned_email="eve@evil.example\r\nBcc: x@x.x"
    )
    counts = deliver_due_touchpoints(now=now)
    assert (counts["sent"], counts["failed"]) == (2, 1)
    assert "recipient's email address contains a line break" in _reload(poisoned).last_error
    assert len(mail.wait_for(2)) == 2


def test_an_address_that_is_not_one_fails_readably(app, mail, csm, template, now):
    account = AccountFactory(csm=csm)
    touchpoint = _schedule_to(_contact_stored_as_is(account, "Ann", "ann@"), template, now)
    assert deliver_due_touchpoints(now=now)["failed"] == 1
    error = _reload(touchpoint).last_error
    assert error.startswith("The recipient's email address 'ann@' is not a usable address (")
    assert mail.received == []


def test_a_corrected_contact_is_sent_to_when_the_touchpoint_is_retried(
    app, mail, csm, template, now
):
    _, poisoned, _ = _three(csm, template, now)
    deliver_due_touchpoints(now=now)
    contact = db.session.get(Contact, poisoned.recipient_contact_id)
    contact.name = "Eve Adams"
    db.session.commit()
    later = now + timedelta(hours=1)
    retry_touchpoint(_reload(poisoned), user=None, now=later)
    db.session.commit()

    assert deliver_due_touchpoints(now=later)["sent"] == 1

    [resent] = [r for r in mail.wait_for(3) if r.rcpt_tos == ("eve@evil.example",)]
    assert resent.message["To"] == "Eve Adams <eve@evil.example>"
    assert _reload(poisoned).recipient_name == "Eve Adams"


def test_a_display_name_with_non_ascii_letters_arrives_encoded_and_decodes(
    app, mail, csm, template, now
):
    account = AccountFactory(name="Ærø Shipping", csm=csm)
    contact = ContactFactory(account=account, name="Zoë Ångström", email="zoe@aero.example")
    _schedule_to(contact, template, now)

    assert deliver_due_touchpoints(now=now)["sent"] == 1

    [received] = mail.wait_for(1)
    [to] = received.message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoë Ångström", "zoe@aero.example")
    assert received.message["Subject"] == "Hello Ærø Shipping"
    raw_to = dict(received.message.raw_items())["To"]
    assert raw_to.isascii() and "=?utf-8?" in raw_to  # an RFC 2047 encoded word, not raw 8-bit


def test_a_stored_subject_with_a_line_break_goes_out_on_one_line(app, mail, csm, now):
    """A review reminder's subject is written from a plan title; one stored with a line break
    before titles were checked is sent on one line, not refused or split into headers."""
    account = AccountFactory(csm=csm)
    touchpoint = schedule_touchpoint(
        account,
        template=None,
        recipient_kind="plan_owner",
        now=now,
        recipient_user=csm,
        subject="Plan review due: Q1\r\nBcc: x@example.com",
        body="Hold the review.",
    )
    db.session.commit()

    assert deliver_due_touchpoints(now=now)["sent"] == 1

    [received] = mail.wait_for(1)
    assert received.message["Subject"] == "Plan review due: Q1 Bcc: x@example.com"
    assert received.message["Bcc"] is None and received.rcpt_tos == ("casey@vendor.example",)
    assert _reload(touchpoint).status == "sent"


def test_a_sender_that_cannot_be_a_header_fails_and_says_what_to_set(
    app, mail, csm, template, now, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_FROM", "cs@example.test\nBcc: x@example.com")
    contact = ContactFactory(account=AccountFactory(csm=csm), email="ann@example.test")
    touchpoint = _schedule_to(contact, template, now)
    assert deliver_due_touchpoints(now=now)["failed"] == 1
    assert "CS_APP_MAIL_FROM" in _reload(touchpoint).last_error


def _raising_for(touchpoint_id, real):
    def wrapped(message, *args, **kwargs):
        if message.id == touchpoint_id:
            raise RuntimeError("nobody saw this coming")
        return real(message, *args, **kwargs)

    return wrapped


def test_an_unforeseen_error_while_rendering_is_retried_then_dead_and_the_rest_go(
    app, mail, csm, template, now, monkeypatch
):
    good, middle, also_good = _three(csm, template, now, poisoned_name="Mo")
    monkeypatch.setattr(
        delivery, "render_outgoing", _raising_for(middle.id, delivery.render_outgoing)
    )

    counts = deliver_due_touchpoints(now=now)

    assert (counts["sent"], counts["retrying"]) == (2, 1)
    row = _reload(middle)
    assert (row.status, row.attempts) == ("scheduled", 1)
    assert row.last_error.startswith(
        "Unexpected error while rendering this touchpoint: RuntimeError: nobody saw this coming."
    )
    assert now + BACKOFF[0] <= row.next_attempt_at < now + BACKOFF[0] + timedelta(seconds=30)
    assert _failure_alerts() == []
    # the usual schedule: once its attempts are spent it goes dead and alerts
    row.attempts = MAX_ATTEMPTS - 1
    db.session.commit()
    assert deliver_due_touchpoints(now=row.next_attempt_at)["dead"] == 1
    [alert] = _failure_alerts()
    assert alert.touchpoint_id == middle.id and "RuntimeError" in alert.body


def test_an_unforeseen_error_while_sending_is_retried_and_the_rest_go(
    app, mail, csm, template, now, monkeypatch
):
    good, middle, also_good = _three(csm, template, now, poisoned_name="Mo")
    real_send = delivery.Mailer.send

    def send(mailer, message):
        if message["Message-ID"] == middle.message_id:
            raise RuntimeError("the transport fell over")
        return real_send(mailer, message)

    monkeypatch.setattr(delivery.Mailer, "send", send)

    counts = deliver_due_touchpoints(now=now)

    assert (counts["sent"], counts["retrying"]) == (2, 1)
    assert "while sending this touchpoint: RuntimeError" in _reload(middle).last_error
    assert len(mail.wait_for(2)) == 2


def test_a_touchpoint_whose_data_breaks_the_load_is_retried_and_the_rest_go(
    app, mail, csm, template, now, monkeypatch
):
    good, middle, also_good = _three(csm, template, now, poisoned_name="Mo")
    real = touchpoint_service._outgoing

    def outgoing(row, *args, **kwargs):
        if row.id == middle.id:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        return real(row, *args, **kwargs)

    monkeypatch.setattr(touchpoint_service, "_outgoing", outgoing)

    counts = deliver_due_touchpoints(now=now)

    assert (counts["claimed"], counts["sent"], counts["retrying"]) == (3, 2, 1)
    row = _reload(middle)
    assert (row.status, row.attempts, row.claimed_until) == ("scheduled", 1, None)
    assert row.last_error.startswith(
        "Unexpected error while loading this touchpoint: UnicodeDecodeError"
    )
    assert len(mail.wait_for(2)) == 2


def test_a_failure_alert_that_cannot_be_written_still_records_the_failure(
    app, mail, csm, template, now, monkeypatch
):
    good, poisoned, also_good = _three(csm, template, now)

    def broken_alert(*args, **kwargs):
        raise RuntimeError("alerts are down")

    monkeypatch.setattr(delivery, "_alert_failure", broken_alert)

    counts = deliver_due_touchpoints(now=now)

    assert (counts["sent"], counts["failed"]) == (2, 1)
    row = _reload(poisoned)
    assert row.status == "failed"
    assert "line break" in row.last_error and "RuntimeError: alerts are down" in row.last_error
