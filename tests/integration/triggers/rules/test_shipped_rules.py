"""Every shipped rule fires on the demo account built for it, and the right message arrives:
emails at a real SMTP server (aiosmtpd on loopback), in-app touchpoints at a real webhook
receiver that checks the HMAC signature, internal alerts and call tasks as alerts in the app."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cs_app.demo import load_demo
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.rules.builtin import BUILTIN_RULES
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.touchpoints.delivery import deliver_due_touchpoints
from cs_app.triggers.touchpoints.models import Touchpoint
from tests.integration.smtp_server import smtp_server
from tests.integration.webhook_server import webhook_server

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SECRET = "shipped-rules-secret"


@pytest.fixture
def delivered(app, monkeypatch):
    """The demo loaded, then one delivery run against the real servers."""
    load_demo(NOW, echo=lambda line: None)
    db.session.commit()
    with smtp_server() as (sink, port), webhook_server(SECRET) as (receiver, url):
        for key, value in (
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", port),
            ("MAIL_FROM", "Customer Success <cs@vendor.example>"),
            ("WEBHOOK_URL", url),
            ("WEBHOOK_SECRET", SECRET),
        ):
            monkeypatch.setitem(app.config, key, value)
        counts = deliver_due_touchpoints(now=NOW)
        yield {
            "counts": counts,
            "mail": {m.message_id: m for m in sink.received},
            "webhooks": {r.json["id"]: r for r in receiver.requests},
        }


def _sent_by_rule() -> dict[str, list[Touchpoint]]:
    rows = db.session.execute(
        select(Rule.key, Touchpoint)
        .join(Touchpoint, Touchpoint.rule_id == Rule.id)
        .where(Touchpoint.status == "sent", Rule.key.is_not(None))
    ).all()
    by_rule: dict[str, list[Touchpoint]] = {}
    for key, touchpoint in rows:
        by_rule.setdefault(key, []).append(touchpoint)
    return by_rule


def test_every_shipped_rule_fires_and_its_message_arrives(delivered):
    fired = set(
        db.session.scalars(
            select(Rule.key).join(RuleFiring, RuleFiring.rule_id == Rule.id).distinct()
        )
    )
    assert {rule["key"] for rule in BUILTIN_RULES} <= fired
    sent = _sent_by_rule()
    assert set(sent) == {rule["key"] for rule in BUILTIN_RULES}, delivered["counts"]
    for key, touchpoints in sent.items():
        for touchpoint in touchpoints:
            where = f"{key}: touchpoint {touchpoint.id} ({touchpoint.channel})"
            if touchpoint.channel == "email":
                mail = delivered["mail"][touchpoint.message_id]
                assert mail.message["Subject"] == touchpoint.subject, where
                assert touchpoint.recipient_email in mail.message["To"], where
                assert "{{" not in mail.message.get_content(), where
            elif touchpoint.channel == "in_app":
                request = delivered["webhooks"][touchpoint.message_id]
                assert request.signature_valid, where
                assert request.json["subject"] == touchpoint.subject, where
            else:
                alert = db.session.scalar(select(Alert).where(Alert.touchpoint_id == touchpoint.id))
                assert alert is not None and alert.title == touchpoint.subject, where
                if touchpoint.channel == "internal_alert":  # and the CSM's mail
                    assert delivered["mail"][touchpoint.message_id].message["Subject"] == (
                        touchpoint.subject
                    ), where
    assert delivered["counts"]["dead"] == 0 and delivered["counts"]["failed"] == 0


def test_the_journey_messages_read_right(delivered):
    sent = _sent_by_rule()
    [welcome] = sent["journey-welcome"]
    mail = delivered["mail"][welcome.message_id].message
    assert mail["Subject"] == "Welcome to your new workspace, Ines"
    assert mail["To"] == "Ines Duarte <ines.duarte@brightline.example>"
    assert mail["Message-ID"] == welcome.message_id
    [congrats] = sent["journey-first-feature"]
    body = delivered["webhooks"][congrats.message_id].json
    assert body["subject"] == "Nice work — your first feature is live"
    assert body["account"]["external_id"] == "CRM-20001"
    trial_subjects = {
        delivered["mail"][t.message_id].message["Subject"]
        for key in ("upgrade-trial-3d", "upgrade-trial-1d", "upgrade-trial-today")
        for t in sent[key]
    }
    assert trial_subjects == {
        "Your trial ends in 3 days",
        "Your trial ends tomorrow",
        "Your trial ends today",
    }
    [escalation] = sent["human-support-escalation"]
    assert escalation.subject == "Support escalation at GrowthStack Marketing: warm transfer"
