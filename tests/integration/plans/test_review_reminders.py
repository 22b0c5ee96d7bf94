"""The remind-reviews job: plan owners whose review is due get one alert and one email per
review date, however often the job runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from cs_app.extensions import db
from cs_app.jobs.runner import run_job
from cs_app.plans.jobs import remind_reviews
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.touchpoints.delivery import deliver_due_touchpoints
from cs_app.triggers.touchpoints.models import Touchpoint
from tests.factories import AccountFactory, PlanFactory, UserFactory
from tests.integration.smtp_server import smtp_server

TODAY = date(2026, 11, 21)


@pytest.fixture
def owner(app):
    return UserFactory(name="Olive Owner", email="olive@vendor.example")


def _alerts() -> list[Alert]:
    return list(
        db.session.scalars(select(Alert).where(Alert.kind == "review_due").order_by(Alert.id))
    )


def _emails() -> list[Touchpoint]:
    return list(
        db.session.scalars(
            select(Touchpoint)
            .where(Touchpoint.recipient_kind == "plan_owner")
            .order_by(Touchpoint.id)
        )
    )


def test_owners_of_plans_due_today_or_overdue_are_alerted_and_mailed_once(app, owner, now):
    account = AccountFactory(name="Acme Corp")
    due_today = PlanFactory(
        account=account, owner=owner, title="Acme success plan", next_review_on=TODAY
    )
    overdue = PlanFactory(owner=owner, next_review_on=TODAY - timedelta(days=9))
    PlanFactory(owner=owner, next_review_on=TODAY + timedelta(days=5))  # not yet
    PlanFactory(owner=owner, next_review_on=TODAY - timedelta(days=3), status="draft")
    PlanFactory(owner=owner, next_review_on=TODAY - timedelta(days=3), status="completed")
    PlanFactory(owner=owner, next_review_on=None)
    PlanFactory(owner=UserFactory(active=False), next_review_on=TODAY)

    counts = remind_reviews(now=now)

    assert counts == {"reminded": 2, "emails": 2}
    alerts = _alerts()
    assert {a.dedupe_key for a in alerts} == {
        f"plan:{due_today.id}:2026-11-21",
        f"plan:{overdue.id}:2026-11-12",
    }
    first = next(a for a in alerts if a.dedupe_key.startswith(f"plan:{due_today.id}:"))
    assert (first.user_id, first.account_id) == (owner.id, account.id)
    assert first.title == "Plan review due: Acme Corp · Acme success plan"
    assert first.body == "The review of “Acme success plan” for Acme Corp was due on 2026-11-21."
    emails = _emails()
    assert [(e.recipient_user_id, e.recipient_email, e.channel, e.status) for e in emails] == [
        (owner.id, "olive@vendor.example", "email", "scheduled")
    ] * 2
    email = next(e for e in emails if e.account_id == account.id)
    assert email.subject == first.title
    assert email.body.startswith("Hi Olive Owner,\n\nThe review of “Acme success plan”")
    assert email.template_id is None and email.due_at == now
    assert email.message_id.startswith(f"<tp-{email.id}.")

    assert remind_reviews(now=now + timedelta(hours=3)) == {"reminded": 0, "emails": 0}
    assert remind_reviews(now=now + timedelta(days=1)) == {"reminded": 0, "emails": 0}
    assert len(_alerts()) == 2 and len(_emails()) == 2


def test_a_new_review_date_that_falls_due_is_reminded_again(app, owner, now):
    plan = PlanFactory(owner=owner, next_review_on=TODAY)
    remind_reviews(now=now)
    plan.next_review_on = TODAY + timedelta(days=30)  # the review was held and logged
    db.session.flush()
    assert remind_reviews(now=now + timedelta(days=10))["reminded"] == 0
    assert remind_reviews(now=now + timedelta(days=30))["reminded"] == 1
    assert [a.dedupe_key for a in _alerts()] == [
        f"plan:{plan.id}:2026-11-21",
        f"plan:{plan.id}:2026-12-21",
    ]


def test_the_reminder_email_is_delivered_over_smtp(app, owner, now, monkeypatch):
    PlanFactory(owner=owner, title="Acme success plan", next_review_on=TODAY)
    run_job("remind-reviews", trigger="cli", now=now)
    with smtp_server() as (sink, port):
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", port)
        assert deliver_due_touchpoints(now=now)["sent"] == 1
        [received] = sink.wait_for(1)
    assert received.rcpt_tos == ("olive@vendor.example",)
    assert received.message["Subject"].startswith("Plan review due: ")
    [email] = _emails()
    assert received.message["Message-ID"] == email.message_id
    db.session.refresh(email)
    assert email.status == "sent"
