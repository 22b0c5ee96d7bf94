"""Scheduling touchpoints for rule firings (recipients resolved by joins, Message-ID made once),
and a person cancelling or retrying one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.accounts.signals import compute_signals
from cs_app.audit.service import events_for
from cs_app.errors import ConflictError, NotFoundError, ValidationError
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.rules.evaluation import evaluate_scheduled_rules
from cs_app.triggers.touchpoints import service
from cs_app.triggers.touchpoints.delivery import deliver_due_touchpoints
from cs_app.triggers.touchpoints.models import Touchpoint
from tests.factories import (
    AccountFactory,
    ContactFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    TouchpointFactory,
    TouchpointTemplateFactory,
    UserFactory,
)


@pytest.fixture
def template(app):
    return TouchpointTemplateFactory(key="test-renewal")


def _action(recipient, channel="email", delay_days=0, template="test-renewal"):
    return {
        "type": "schedule_touchpoint",
        "channel": channel,
        "template": template,
        "recipient": recipient,
        "delay_days": delay_days,
    }


def _touchpoints() -> list[Touchpoint]:
    return list(db.session.scalars(select(Touchpoint).order_by(Touchpoint.firing_id)))


def test_the_primary_contact_is_the_active_champion_else_the_first_active_contact(
    app, template, now
):
    rule = RuleFactory()
    with_champion = AccountFactory()
    ContactFactory(account=with_champion, role="end_user", name="Early User")
    ContactFactory(
        account=with_champion, role="champion", name="Chris Champion", email="chris@a.example"
    )
    champion_left = AccountFactory()
    ContactFactory(account=champion_left, role="champion", status="departed")
    ContactFactory(
        account=champion_left, role="technical_admin", name="Tess Admin", email="tess@b.example"
    )
    ContactFactory(account=champion_left, role="billing", name="Bill Later", email="bill@b.example")
    nobody = AccountFactory()
    ContactFactory(account=nobody, role="champion", email=None)
    firings = [
        RuleFiringFactory(rule=rule, account=account)
        for account in (with_champion, champion_left, nobody)
    ]

    counts = service.schedule_for_firings(
        [f.id for f in firings], action=_action("primary_contact"), queue_items={}, now=now
    )

    assert counts == {"scheduled": 2, "skipped_no_recipient": 1}
    first, second = _touchpoints()
    assert (first.firing_id, first.recipient_name, first.recipient_email) == (
        firings[0].id,
        "Chris Champion",
        "chris@a.example",
    )
    assert (second.firing_id, second.recipient_name) == (firings[1].id, "Tess Admin")
    for touchpoint in (first, second):
        assert touchpoint.recipient_kind == "primary_contact"
        assert touchpoint.recipient_contact_id is not None
        assert touchpoint.recipient_user_id is None
        assert (touchpoint.template_id, touchpoint.rule_id) == (template.id, rule.id)
        assert (touchpoint.status, touchpoint.attempts, touchpoint.channel) == (
            "scheduled",
            0,
            "email",
        )
        assert touchpoint.due_at == touchpoint.next_attempt_at == now
        assert re.fullmatch(
            rf"<tp-{touchpoint.id}\.[0-9a-f]{{16}}@localhost>", touchpoint.message_id
        )
    assert first.message_id != second.message_id


def test_the_executive_sponsor_and_the_delay(app, template, now):
    account = AccountFactory()
    ContactFactory(account=account, role="champion")
    ContactFactory(
        account=account, role="executive_sponsor", name="Eve Sponsor", email="eve@c.example"
    )
    firing = RuleFiringFactory(account=account)
    service.schedule_for_firings(
        [firing.id], action=_action("executive_sponsor", delay_days=3), queue_items={}, now=now
    )
    [touchpoint] = _touchpoints()
    assert touchpoint.recipient_name == "Eve Sponsor"
    assert touchpoint.due_at == touchpoint.next_attempt_at == now + timedelta(days=3)


def test_the_owning_csm_and_a_pooled_account_without_one(app, template, now):
    csm = UserFactory(name="Casey CSM")
    owned, pooled = AccountFactory(csm=csm), AccountFactory(csm=None)
    firings = [RuleFiringFactory(account=owned), RuleFiringFactory(account=pooled)]
    counts = service.schedule_for_firings(
        [f.id for f in firings],
        action=_action("owning_csm", "internal_alert"),
        queue_items={},
        now=now,
    )
    assert counts == {"scheduled": 1, "skipped_no_recipient": 1}
    [touchpoint] = _touchpoints()
    assert (touchpoint.recipient_user_id, touchpoint.recipient_email) == (csm.id, csm.email)
    assert touchpoint.recipient_contact_id is None
    assert touchpoint.channel == "internal_alert"


def test_the_pool_assignee_comes_from_the_queue_item_of_the_firing(app, template, now):
    assignee = UserFactory(name="Ann Assignee")
    pool = PoolFactory()
    assigned, waiting = RuleFiringFactory(), RuleFiringFactory()
    items = {
        assigned.id: QueueItemFactory(
            pool=pool, account=assigned.account, firing_id=assigned.id, assignee=assignee
        ),
        waiting.id: QueueItemFactory(
            pool=pool, account=waiting.account, firing_id=waiting.id, assignee=None
        ),
    }
    counts = service.schedule_for_firings(
        [assigned.id, waiting.id],
        action=_action("pool_assignee", "call_task"),
        queue_items=items,
        now=now,
    )
    assert counts == {"scheduled": 2, "skipped_no_recipient": 0}
    by_item = {t.queue_item_id: t for t in _touchpoints()}
    assert by_item[items[assigned.id].id].recipient_user_id == assignee.id
    # nobody holds the other item yet: delivery waits for whoever takes it
    assert by_item[items[waiting.id].id].recipient_user_id is None


def test_a_pool_assignee_touchpoint_needs_a_queue_item(app, template, now):
    firing = RuleFiringFactory()
    counts = service.schedule_for_firings(
        [firing.id], action=_action("pool_assignee", "call_task"), queue_items={}, now=now
    )
    assert counts == {"scheduled": 0, "skipped_no_recipient": 1}


def test_scheduling_is_one_statement_set_whatever_the_number_of_firings(
    app, template, now, count_queries
):
    def firings(n):
        result = []
        for _ in range(n):
            account = AccountFactory()
            ContactFactory(account=account)
            result.append(RuleFiringFactory(account=account).id)
        db.session.flush()
        return result

    one, many = firings(1), firings(25)
    with count_queries() as small:
        service.schedule_for_firings(
            one, action=_action("primary_contact"), queue_items={}, now=now
        )
    with count_queries() as large:
        counts = service.schedule_for_firings(
            many, action=_action("primary_contact"), queue_items={}, now=now
        )
    assert counts["scheduled"] == 25
    assert large.count == small.count <= 3
    assert len({t.message_id for t in _touchpoints()}) == 26


def test_an_unknown_template_is_refused(app, now):
    firing = RuleFiringFactory()
    with pytest.raises(NotFoundError, match="No touchpoint template has the key 'nope'"):
        service.schedule_for_firings(
            [firing.id], action=_action("owning_csm", template="nope"), queue_items={}, now=now
        )


def test_an_unknown_recipient_is_refused(app, template, now):
    firing = RuleFiringFactory()
    with pytest.raises(ValidationError, match="Unknown recipient 'the_ceo'"):
        service.schedule_for_firings(
            [firing.id], action=_action("the_ceo"), queue_items={}, now=now
        )


def test_schedule_one_touchpoint_and_its_refusals(app, template, now):
    account = AccountFactory()
    contact = ContactFactory(account=account, email="dana@acme.example")
    touchpoint = service.schedule_touchpoint(
        account,
        template=template,
        recipient_kind="primary_contact",
        contact=contact,
        now=now,
        due_at=now + timedelta(days=1),
    )
    assert (touchpoint.channel, touchpoint.recipient_email) == ("email", "dana@acme.example")
    assert touchpoint.next_attempt_at == now + timedelta(days=1)
    assert re.fullmatch(rf"<tp-{touchpoint.id}\.[0-9a-f]{{16}}@localhost>", touchpoint.message_id)
    with pytest.raises(ValidationError, match="Unknown channel 'fax'"):
        service.schedule_touchpoint(
            account,
            template=template,
            channel="fax",
            recipient_kind="primary_contact",
            contact=contact,
            now=now,
        )
    with pytest.raises(ValidationError, match="without a template needs its subject and body"):
        service.schedule_touchpoint(
            account,
            template=None,
            recipient_kind="primary_contact",
            contact=contact,
            now=now,
            subject="Only a subject",
        )
    contact.email = None
    with pytest.raises(ValidationError, match="nobody to go to"):
        service.schedule_touchpoint(
            account, template=template, recipient_kind="primary_contact", contact=contact, now=now
        )


# --- cancel and retry -----------------------------------------------------------------------


def test_cancel_a_scheduled_touchpoint_is_audited(app, now):
    lead = UserFactory(role="lead")
    touchpoint = TouchpointFactory()
    service.cancel_touchpoint(touchpoint, user=lead, now=now)
    assert touchpoint.status == "cancelled"
    [event] = events_for("touchpoint", touchpoint.id)
    assert (event.action, event.user_id, event.before["status"], event.after["status"]) == (
        "cancelled",
        lead.id,
        "scheduled",
        "cancelled",
    )


@pytest.mark.parametrize("status", ["sent", "cancelled"])
def test_a_sent_or_cancelled_touchpoint_cannot_be_cancelled(app, now, status):
    touchpoint = TouchpointFactory(status=status)
    with pytest.raises(ConflictError, match=f"This touchpoint is {status} and cannot be"):
        service.cancel_touchpoint(touchpoint, user=None, now=now)
    assert touchpoint.status == status


def test_a_touchpoint_being_sent_cannot_be_cancelled(app, now):
    touchpoint = TouchpointFactory(claimed_by="worker:1", claimed_until=now + timedelta(minutes=2))
    with pytest.raises(ConflictError, match="being sent right now"):
        service.cancel_touchpoint(touchpoint, user=None, now=now)
    assert touchpoint.status == "scheduled"
    # once the worker's lease has run out (it crashed), it can be
    service.cancel_touchpoint(touchpoint, user=None, now=now + timedelta(minutes=3))
    assert touchpoint.status == "cancelled"


@pytest.mark.parametrize("status", ["dead", "failed"])
def test_retry_schedules_it_now_and_keeps_its_attempts(app, now, status):
    touchpoint = TouchpointFactory(
        status=status,
        attempts=6,
        last_error="SMTP 451 later",
        next_attempt_at=now - timedelta(days=1),
        claimed_by="worker:1",
        claimed_until=now - timedelta(days=1),
    )
    message_id = touchpoint.message_id
    later = now + timedelta(hours=2)
    service.retry_touchpoint(touchpoint, user=None, now=later)
    assert (touchpoint.status, touchpoint.attempts, touchpoint.next_attempt_at) == (
        "scheduled",
        6,
        later,
    )
    assert touchpoint.claimed_until is None and touchpoint.message_id == message_id
    assert events_for("touchpoint", touchpoint.id)[0].action == "retried"


@pytest.mark.parametrize("status", ["scheduled", "sent", "cancelled"])
def test_only_failed_or_dead_touchpoints_are_retried(app, now, status):
    touchpoint = TouchpointFactory(status=status)
    with pytest.raises(ConflictError, match="Only a failed or dead touchpoint can be retried"):
        service.retry_touchpoint(touchpoint, user=None, now=now)


# --- the list -------------------------------------------------------------------------------


def test_the_list_filters_and_sorts_by_due(app, now):
    acme = AccountFactory(name="Acme Corp", external_id="ACME")
    globex = AccountFactory(name="Globex", external_id="GLOBEX")
    early = TouchpointFactory(account=acme, due_at=now - timedelta(days=2), status="dead")
    late = TouchpointFactory(account=acme, due_at=now + timedelta(days=1), channel="in_app")
    other = TouchpointFactory(account=globex, due_at=now, status="sent")

    def ids(**filters):
        page = service.touchpoint_page(service.TouchpointFilters(**filters), with_counts=True)
        return [t.id for t in page.items]

    assert ids() == [late.id, other.id, early.id]
    assert ids(direction="asc") == [early.id, other.id, late.id]
    assert ids(status="dead") == [early.id]
    assert ids(channel="in_app") == [late.id]
    assert ids(account="acme") == [late.id, early.id]  # part of the name, any case
    assert ids(account="GLOBEX", exact_account=True) == [other.id]
    assert ids(account="glob", exact_account=True) == []
    page = service.touchpoint_page(service.TouchpointFilters(status="dead"), with_counts=True)
    assert page.counts == {"scheduled": 1, "sent": 1, "failed": 0, "cancelled": 0, "dead": 1}


# --- from a rule firing to a delivered touchpoint -------------------------------------------


def test_a_rule_routes_then_schedules_a_call_task_for_the_assignee_who_gets_it(app, now):
    assignee = UserFactory(name="Ann Assignee")
    pool = PoolFactory(key="rescue")
    PoolMemberFactory(pool=pool, user=assignee)
    account = AccountFactory(name="Acme Corp", csm=None, segment="SMB")
    ContactFactory(account=account, name="Dana Smith", email="dana@acme.example")
    TouchpointTemplateFactory(
        key="rescue-call",
        channel="call_task",
        subject="Call {{ contact.name }} at {{ account.name }}",
        body="{{ rule.name }}: {{ matched.segment }}",
    )
    rule = RuleFactory(
        name="Pooled SMB rescue",
        condition={"all": [{"signal": "segment", "op": "=", "value": "SMB"}]},
        actions=[
            {"type": "route_to_pool", "pool": "rescue", "priority": "high", "sla_hours": 24},
            {
                "type": "schedule_touchpoint",
                "channel": "call_task",
                "template": "rescue-call",
                "recipient": "pool_assignee",
                "delay_days": 0,
            },
        ],
    )
    compute_signals(now=now, account_ids=[account.id])
    db.session.commit()

    evaluate_scheduled_rules(now=now, rule_ids=[rule.id])
    db.session.commit()
    [touchpoint] = _touchpoints()
    assert (touchpoint.recipient_user_id, touchpoint.rule_id) == (assignee.id, rule.id)
    assert touchpoint.queue_item_id is not None

    assert deliver_due_touchpoints(now=now)["sent"] == 1
    alert = db.session.scalar(select(Alert).where(Alert.kind == "call_task"))
    assert (alert.user_id, alert.title, alert.body) == (
        assignee.id,
        "Call Dana Smith at Acme Corp",
        "Pooled SMB rescue: SMB",
    )
