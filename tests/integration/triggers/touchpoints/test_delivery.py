"""Delivering touchpoints for real: email to an SMTP server on loopback, in-app messages to a
webhook receiver that checks the signature, internal alerts and call tasks as alerts; failures
retry with the backoff, then go dead and alert a person."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.cli import main
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.touchpoints.delivery import claim_due, deliver_due_touchpoints, sign
from cs_app.triggers.touchpoints.models import Touchpoint
from cs_app.triggers.touchpoints.retry import BACKOFF, MAX_ATTEMPTS
from cs_app.triggers.touchpoints.service import schedule_for_firings, schedule_touchpoint
from tests.factories import (
    AccountFactory,
    ContactFactory,
    PoolFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    TouchpointTemplateFactory,
    UserFactory,
)
from tests.integration.smtp_server import free_port, smtp_server
from tests.integration.webhook_server import webhook_server
from tests.unit.triggers.touchpoints.test_sandbox_limits import REPEATED_SQUARING

MAIL_FROM = "Customer Success <cs@example.test>"
SECRET = "webhook-test-secret"


@pytest.fixture
def mail(app, monkeypatch):
    with smtp_server() as (sink, port):
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", MAIL_FROM)
        yield sink


@pytest.fixture
def world(app):
    csm = UserFactory(name="Casey Miller", email="casey@vendor.example")
    account = AccountFactory(name="Acme Corp", external_id="ACME", csm=csm)
    contact = ContactFactory(
        account=account, name="Dana Smith", email="dana@acme.example", role="champion"
    )
    return {"csm": csm, "account": account, "contact": contact}


def _schedule(
    world,
    now,
    *,
    channel="email",
    subject="Hello {{ account.name }}",
    body="Hi {{ contact.first_name }},\n\nThis is {{ csm.name }}.",
    to="contact",
):
    template = TouchpointTemplateFactory(channel=channel, subject=subject, body=body)
    person = {"contact": world["contact"]} if to == "contact" else {"recipient_user": world["csm"]}
    kind = "primary_contact" if to == "contact" else "owning_csm"
    touchpoint = schedule_touchpoint(
        world["account"], template=template, recipient_kind=kind, now=now, channel=channel, **person
    )
    db.session.commit()
    return touchpoint


def _reload(touchpoint) -> Touchpoint:
    db.session.expire_all()
    return db.session.get(Touchpoint, touchpoint.id)


def _alerts(user=None, kind=None) -> list[Alert]:
    query = select(Alert).order_by(Alert.id)
    if user is not None:
        query = query.where(Alert.user_id == user.id)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    return list(db.session.scalars(query))


def test_email_goes_out_over_smtp_with_its_headers_and_message_id(app, mail, world, now):
    touchpoint = _schedule(world, now)
    assert re.fullmatch(
        rf"<tp-{touchpoint.id}\.[0-9a-f]{{16}}@example\.test>", touchpoint.message_id
    )

    counts = deliver_due_touchpoints(now=now)

    assert counts["claimed"] == 1 and counts["sent"] == 1
    [received] = mail.wait_for(1)
    message = received.message
    assert received.rcpt_tos == ("dana@acme.example",)
    assert message["From"] == MAIL_FROM
    assert message["To"] == "Dana Smith <dana@acme.example>"
    assert message["Subject"] == "Hello Acme Corp"
    assert message["Message-ID"] == touchpoint.message_id
    assert message["Reply-To"] == "casey@vendor.example"
    assert message["Date"].datetime.date() == now.date()
    assert message.get_content().replace("\r\n", "\n") == "Hi Dana,\n\nThis is Casey Miller.\n"
    sent = _reload(touchpoint)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert sent.sent_at >= now and sent.claimed_until is None
    assert (sent.subject, sent.body) == ("Hello Acme Corp", "Hi Dana,\n\nThis is Casey Miller.")


def test_a_second_run_sends_nothing_again(app, mail, world, now):
    _schedule(world, now)
    deliver_due_touchpoints(now=now)
    counts = deliver_due_touchpoints(now=now + timedelta(hours=1))
    assert counts["claimed"] == 0
    assert len(mail.received) == 1


def test_a_touchpoint_not_yet_due_waits(app, mail, world, now):
    touchpoint = _schedule(world, now)
    touchpoint.next_attempt_at = now + timedelta(days=2)
    db.session.commit()
    assert deliver_due_touchpoints(now=now)["claimed"] == 0
    assert deliver_due_touchpoints(now=now + timedelta(days=2))["sent"] == 1


@pytest.mark.parametrize(
    "answer", ["451 4.3.0 Mailbox busy, try again later", "554 5.7.1 Transaction failed"]
)
def test_a_refusing_server_is_retried_with_the_backoff_then_dead_and_alerted(
    app, mail, world, now, answer
):
    touchpoint = _schedule(world, now)
    mail.fail_with = answer
    at = now
    for attempt in range(1, MAX_ATTEMPTS):
        counts = deliver_due_touchpoints(now=at)
        assert counts == {**counts, "claimed": 1, "retrying": 1}
        row = _reload(touchpoint)
        assert (row.status, row.attempts) == ("scheduled", attempt)
        assert answer.split()[0] in row.last_error
        expected = at + BACKOFF[attempt - 1]
        assert expected <= row.next_attempt_at < expected + timedelta(seconds=30)
        # not due a moment before its time
        assert (
            deliver_due_touchpoints(now=row.next_attempt_at - timedelta(seconds=30))["claimed"] == 0
        )
        at = row.next_attempt_at
    assert _alerts(kind="dead_touchpoint") == []

    counts = deliver_due_touchpoints(now=at)

    assert counts["dead"] == 1
    row = _reload(touchpoint)
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
    assert mail.refused == MAX_ATTEMPTS and mail.received == []
    [alert] = _alerts(kind="dead_touchpoint")
    assert alert.user_id == world["csm"].id and alert.touchpoint_id == touchpoint.id
    assert "Dana Smith" in alert.title and "Acme Corp" in alert.title
    assert answer.split()[0] in alert.body
    assert deliver_due_touchpoints(now=at + timedelta(days=1))["claimed"] == 0


def test_an_unreachable_server_is_retried(app, world, now, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nobody listens there
    touchpoint = _schedule(world, now)
    assert deliver_due_touchpoints(now=now)["retrying"] == 1
    row = _reload(touchpoint)
    assert row.status == "scheduled" and row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error


def test_a_dead_touchpoint_of_a_pooled_account_alerts_the_leads(app, mail, world, now):
    lead = UserFactory(role="lead")
    world["account"].csm = None
    touchpoint = _schedule(world, now)
    touchpoint.attempts = MAX_ATTEMPTS - 1
    db.session.commit()
    mail.fail_with = "451 later"
    assert deliver_due_touchpoints(now=now)["dead"] == 1
    assert [a.user_id for a in _alerts(kind="dead_touchpoint")] == [lead.id]


def test_a_template_that_does_not_render_fails_at_once_and_alerts(app, mail, world, now):
    touchpoint = _schedule(world, now, body="Hi {{ contact.nmae }}")
    counts = deliver_due_touchpoints(now=now)
    assert counts["failed"] == 1
    row = _reload(touchpoint)
    assert row.status == "failed" and row.attempts == 1
    assert "Body, line 1: there is no field 'nmae' here" in row.last_error
    assert mail.received == []
    [alert] = _alerts(user=world["csm"], kind="dead_touchpoint")
    assert "cannot be sent" in alert.title


def test_the_sandbox_refuses_an_escape_at_send_time(app, mail, world, now):
    touchpoint = _schedule(world, now, body="{% set n = '__cla' ~ 'ss__' %}{{ account[n] }}")
    assert deliver_due_touchpoints(now=now)["failed"] == 1
    row = _reload(touchpoint)
    assert "templates cannot use '__class__'" in row.last_error
    assert mail.received == []


def test_a_number_bomb_fails_quickly_at_send_time_with_its_reason(app, mail, world, now):
    touchpoint = _schedule(world, now, body=REPEATED_SQUARING)
    started = time.monotonic()
    assert deliver_due_touchpoints(now=now)["failed"] == 1
    assert time.monotonic() - started < 2.5
    row = _reload(touchpoint)
    assert "Body, line 1: numbers above 2**256 are not allowed in templates" in row.last_error
    assert mail.received == []


# --- in-app webhook -------------------------------------------------------------------------


@pytest.fixture
def webhook(app, monkeypatch):
    with webhook_server(SECRET) as (receiver, url):
        monkeypatch.setitem(app.config, "WEBHOOK_URL", url)
        monkeypatch.setitem(app.config, "WEBHOOK_SECRET", SECRET)
        yield receiver


def test_in_app_goes_to_the_webhook_signed_and_carrying_the_message_id(app, webhook, world, now):
    world["account"].name = "Acme <Labs>"
    touchpoint = _schedule(
        world,
        now,
        channel="in_app",
        subject="Welcome back",
        body="Hi {{ contact.first_name }} at {{ account.name }}.",
    )

    assert deliver_due_touchpoints(now=now)["sent"] == 1

    [request] = webhook.requests
    assert request.signature_valid
    assert request.headers["X-CS-App-Signature"] == sign(request.body, SECRET)
    assert request.headers["X-CS-App-Delivery"] == touchpoint.message_id
    assert request.headers["Content-Type"] == "application/json"
    payload = request.json
    assert payload["id"] == touchpoint.message_id
    assert payload["touchpoint_id"] == touchpoint.id
    assert payload["account"] == {"external_id": "ACME", "name": "Acme <Labs>"}
    assert payload["recipient"] == {
        "kind": "primary_contact",
        "email": "dana@acme.example",
        "name": "Dana Smith",
    }
    assert (payload["subject"], payload["body"]) == ("Welcome back", "Hi Dana at Acme <Labs>.")
    assert payload["body_html"] == "<p>Hi Dana at Acme &lt;Labs&gt;.</p>"
    assert _reload(touchpoint).status == "sent"


def test_a_signature_made_with_another_secret_is_refused_by_the_receiver(
    app, webhook, world, now, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_SECRET", "not-the-shared-secret")
    touchpoint = _schedule(world, now, channel="in_app")
    assert deliver_due_touchpoints(now=now)["retrying"] == 1
    assert [r.signature_valid for r in webhook.requests] == [False]
    assert "The webhook answered 401" in _reload(touchpoint).last_error


def test_a_webhook_answering_500_is_retried_with_the_same_id(app, webhook, world, now):
    touchpoint = _schedule(world, now, channel="in_app")
    webhook.status = 500
    assert deliver_due_touchpoints(now=now)["retrying"] == 1
    row = _reload(touchpoint)
    assert "The webhook answered 500: refused" in row.last_error
    webhook.status = 200
    assert deliver_due_touchpoints(now=row.next_attempt_at)["sent"] == 1
    ids = [json.loads(r.body)["id"] for r in webhook.requests]
    assert ids == [touchpoint.message_id, touchpoint.message_id]
    assert _reload(touchpoint).attempts == 2


def test_in_app_without_a_configured_webhook_fails_and_says_what_to_set(
    app, world, now, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_URL", None)
    touchpoint = _schedule(world, now, channel="in_app")
    assert deliver_due_touchpoints(now=now)["failed"] == 1
    row = _reload(touchpoint)
    assert row.status == "failed"
    assert "set CS_APP_WEBHOOK_URL and CS_APP_WEBHOOK_SECRET" in row.last_error


# --- internal alerts and call tasks ---------------------------------------------------------


def test_an_internal_alert_creates_an_alert_and_mails_the_csm(app, mail, world, now):
    touchpoint = _schedule(
        world,
        now,
        channel="internal_alert",
        to="csm",
        subject="Risk alert: {{ account.name }}",
        body="Usage dropped at {{ account.name }}; call {{ contact.name }}.",
    )
    assert deliver_due_touchpoints(now=now)["sent"] == 1

    [alert] = _alerts(user=world["csm"], kind="internal_alert")
    assert alert.title == "Risk alert: Acme Corp"
    assert alert.body == "Usage dropped at Acme Corp; call Dana Smith."
    assert (alert.account_id, alert.touchpoint_id) == (world["account"].id, touchpoint.id)
    [received] = mail.wait_for(1)
    assert received.rcpt_tos == ("casey@vendor.example",)
    assert received.message["Subject"] == "Risk alert: Acme Corp"
    assert received.message["Message-ID"] == touchpoint.message_id


def test_an_internal_alert_shows_at_once_even_while_its_mail_is_retried(app, mail, world, now):
    touchpoint = _schedule(world, now, channel="internal_alert", to="csm")
    mail.fail_with = "451 later"
    assert deliver_due_touchpoints(now=now)["retrying"] == 1
    assert len(_alerts(user=world["csm"], kind="internal_alert")) == 1
    mail.fail_with = None
    assert deliver_due_touchpoints(now=_reload(touchpoint).next_attempt_at)["sent"] == 1
    assert len(_alerts(user=world["csm"], kind="internal_alert")) == 1
    assert len(mail.received) == 1


def test_a_call_task_is_an_alert_for_the_csm_and_no_mail(app, mail, world, now):
    touchpoint = _schedule(
        world,
        now,
        channel="call_task",
        subject="Call {{ contact.name }} at {{ account.name }}",
        body="Call {{ contact.name }} ({{ contact.email }}).",
    )
    assert deliver_due_touchpoints(now=now)["sent"] == 1
    [alert] = _alerts(user=world["csm"], kind="call_task")
    assert alert.title == "Call Dana Smith at Acme Corp"
    assert alert.body == "Call Dana Smith (dana@acme.example)."
    assert alert.touchpoint_id == touchpoint.id
    assert mail.received == []
    assert _reload(touchpoint).status == "sent"


def test_a_call_task_on_an_account_nobody_handles_fails(app, mail, world, now):
    world["account"].csm = None
    touchpoint = _schedule(world, now, channel="call_task")
    assert deliver_due_touchpoints(now=now)["failed"] == 1
    assert "Nobody handles this account" in _reload(touchpoint).last_error


def test_a_call_task_for_the_pool_assignee_waits_for_the_item_and_follows_it(app, mail, world, now):
    """Routed to nobody (the pool was full), the item's call task is scheduled anyway, retried
    until someone takes the item, and reaches whoever holds it when it is sent."""
    pool = PoolFactory()
    world["account"].csm = None
    rule = RuleFactory(name="Rescue")
    firing = RuleFiringFactory(rule=rule, account=world["account"])
    item = QueueItemFactory(pool=pool, account=world["account"], firing_id=firing.id, assignee=None)
    template = TouchpointTemplateFactory(channel="call_task", subject="Call {{ account.name }}")
    action = {
        "type": "schedule_touchpoint",
        "channel": "call_task",
        "template": template.key,
        "recipient": "pool_assignee",
        "delay_days": 0,
    }
    counts = schedule_for_firings(
        [firing.id], action=action, queue_items={firing.id: item}, now=now
    )
    db.session.commit()
    assert counts == {"scheduled": 1, "skipped_no_recipient": 0}
    assert deliver_due_touchpoints(now=now)["retrying"] == 1
    [touchpoint] = db.session.scalars(select(Touchpoint).where(Touchpoint.firing_id == firing.id))
    assert "Nobody has taken the queue item yet" in touchpoint.last_error
    first, second = UserFactory(name="First Taker"), UserFactory(name="Second Holder")
    item.assignee = first
    db.session.commit()
    item.assignee = second  # reassigned before the retry
    db.session.commit()
    assert deliver_due_touchpoints(now=now + BACKOFF[0] + timedelta(minutes=1))["sent"] == 1
    assert [a.user_id for a in _alerts(kind="call_task")] == [second.id]


# --- claims ---------------------------------------------------------------------------------


def test_a_row_claimed_by_another_worker_is_left_alone_until_its_lease_ends(app, mail, world, now):
    touchpoint = _schedule(world, now)
    touchpoint.claimed_by, touchpoint.claimed_until = "other:1", now + timedelta(minutes=5)
    db.session.commit()
    assert deliver_due_touchpoints(now=now)["claimed"] == 0
    assert deliver_due_touchpoints(now=now + timedelta(minutes=5, seconds=1))["sent"] == 1
    assert len(mail.received) == 1


def test_a_claim_takes_only_due_unclaimed_rows_and_sets_the_lease(app, world, now):
    due = [_schedule(world, now) for _ in range(3)]
    later = _schedule(world, now)
    later.next_attempt_at = now + timedelta(hours=1)
    sent = _schedule(world, now)
    sent.status = "sent"
    db.session.commit()

    first = claim_due("w1", clock=now, lease=timedelta(minutes=5), limit=2)
    second = claim_due("w2", clock=now, lease=timedelta(minutes=5), limit=10)

    assert first == [due[0].id, due[1].id] and second == [due[2].id]
    assert claim_due("w3", clock=now, lease=timedelta(minutes=5), limit=10) == []
    row = _reload(due[0])
    assert (row.claimed_by, row.claimed_until) == ("w1", now + timedelta(minutes=5))


def test_a_run_stops_at_its_limit_and_leaves_the_rest_for_the_next(
    app, mail, world, now, monkeypatch
):
    monkeypatch.setitem(app.config, "DELIVERY_BATCH_SIZE", 2)
    for _ in range(5):
        _schedule(world, now)
    assert deliver_due_touchpoints(now=now, limit=3)["sent"] == 3
    assert deliver_due_touchpoints(now=now)["sent"] == 2
    assert len(mail.message_ids()) == 5


def test_the_deliver_touchpoints_job_runs_from_the_command_line(app, mail, world, now):
    touchpoint = _schedule(world, now)
    result = app.test_cli_runner().invoke(main, ["jobs", "run", "deliver-touchpoints"])
    assert result.exit_code == 0, result.output
    assert "deliver-touchpoints finished in" in result.output
    assert "claimed=1, sent=1" in result.output
    assert mail.wait_for(1)[0].message_id == touchpoint.message_id
