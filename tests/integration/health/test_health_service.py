"""Scorecard validation and versions, what-if, overrides and an account's health story."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from cs_app.accounts.ingest import ingest_events
from cs_app.audit.models import AuditEvent
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.health import service
from cs_app.health.models import HealthSnapshot, Scorecard
from cs_app.health.recompute import recompute
from tests.factories import AccountFactory, UserFactory


def card(key="health-indicators"):
    return db.session.scalar(select(Scorecard).where(Scorecard.key == key))


def definition(**changes):
    values = service.scorecard_as_dict(card())
    values.update(changes)
    return values


def test_weights_must_sum_to_100(app):
    values = definition()
    values["measures"][0]["weight"] = 20
    with pytest.raises(ValidationError) as refused:
        service.validate_scorecard(values)
    assert refused.value.fields["weights"] == ("The weights add up to 95; they must add up to 100.")


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"signal": "logins_per_fortnight"}, "measures.0.signal", "unknown signal"),
        ({"weight": -5}, "measures.0.weight", "above 0"),
        ({"healthy": None}, "measures.0.healthy", "both the healthy and the critical"),
        ({"higher_is_better": True}, "measures.0.healthy", "better side"),
        ({"key": "Login Frequency"}, "measures.0.key", "lowercase"),
        ({"freshness_days": 0}, "measures.0.freshness_days", "whole number"),
    ],
)
def test_measure_refusals_name_the_measure_and_field(app, change, field, text):
    values = definition()
    values["measures"][0].update(change)
    with pytest.raises(ValidationError) as refused:
        service.validate_scorecard(values)
    assert text in refused.value.fields[field]
    assert refused.value.fields[field].startswith("Measure 1:")


def test_category_refusals(app):
    values = definition()
    values["measures"][2]["categories"] = {"furious": "critical"}
    with pytest.raises(ValidationError) as refused:
        service.validate_scorecard(values)
    assert "not a category of support_sentiment" in refused.value.fields["measures.2.categories"]


def test_band_limits_refused_when_out_of_order(app):
    with pytest.raises(ValidationError) as refused:
        service.validate_scorecard(definition(healthy_min=30, at_risk_min=40))
    assert "healthy" in refused.value.fields["healthy_min"]


def test_saving_makes_a_new_version_and_an_audit_event(app, now):
    lead = UserFactory(role="lead")
    scorecard = card()
    values = definition()
    values["measures"][0]["weight"], values["measures"][1]["weight"] = 40, 10
    version = service.save_version(scorecard, values, user=lead, now=now)
    assert version.number == 2 and scorecard.current_version is version
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "scorecard"))
    assert event.before["measures"][0]["weight"] == 25
    assert event.after["measures"][0]["weight"] == 40


def test_what_if_counts_bands_without_saving(app, now):
    for n in range(3):
        AccountFactory(external_id=f"W{n}", segment="SMB")
    ingest_events(
        [
            {
                "id": f"w{n}-{k}",
                "account": f"W{n}",
                "type": "login",
                "at": (now - timedelta(days=1)).isoformat(),
            }
            for n in range(3)
            for k in range(2)
        ],
        now=now,
    )
    recompute(now=now)
    values = definition()
    for measure, weight in zip(values["measures"], (70, 10, 10, 10), strict=True):
        measure["weight"] = weight
    result = service.what_if(card(), values, now=now)
    counts = {b["band"]: (b["current"], b["proposed"]) for b in result["bands"]}
    # logged in yesterday (100) but no features used (0): 50 now, 87.5 with login at 70 %
    assert counts["at_risk"] == (3, 0)
    assert counts["healthy"] == (0, 3)
    assert card().current_version.number == 1


def test_override_needs_reason_and_future_expiry(app, now):
    account = AccountFactory()
    lead = UserFactory(role="lead")
    with pytest.raises(ValidationError) as refused:
        service.set_override(
            account,
            {"band": "purple", "reason": "", "expires_on": "2026-01-01"},
            user=lead,
            now=now,
        )
    assert set(refused.value.fields) == {"band", "reason", "expires_on"}


def test_override_shows_beside_the_computed_score_and_is_audited(app, now):
    account = AccountFactory(segment="SMB")
    lead = UserFactory(role="lead")
    recompute(now=now)
    service.set_override(
        account,
        {"band": "critical", "reason": "Sponsor resigned today", "expires_on": "2026-12-31"},
        user=lead,
        now=now,
    )
    health = service.account_health(account, now=now)
    payload = service.health_json(health)
    assert payload["band"] == "critical" and payload["computed_band"] == "insufficient_data"
    assert payload["override"]["reason"] == "Sponsor resigned today"
    recompute(now=now)
    assert service.health_json(service.account_health(account, now=now))["band"] == "critical"
    assert (
        db.session.scalar(
            select(AuditEvent.action).where(AuditEvent.entity_type == "account_health")
        )
        == "override_set"
    )


def test_what_changed_against_7_and_30_days_and_drop_alert(app, now):
    account = AccountFactory(segment="SMB")
    measures = [{"key": "login_frequency", "score": 100.0}, {"key": "nps", "score": 50.0}]
    for days_ago, scores, total in (
        (30, (100.0, 100.0), 90.0),
        (7, (100.0, 50.0), 80.0),
        (0, (40.0, 50.0), 60.0),
    ):
        db.session.add(
            HealthSnapshot(
                account_id=account.id,
                day=now.date() - timedelta(days=days_ago),
                score=total,
                band="healthy",
                coverage=1.0,
                computed_score=total,
                computed_band="healthy",
                measures=[
                    dict(m, score=s, weight=50, value=None, stale=0, points_lost=0)
                    for m, s in zip(measures, scores, strict=True)
                ],
            )
        )
    db.session.flush()
    health = service.account_health(account, now=now)
    changes = {m.key: (m.change_7d, m.change_30d) for m in health.measures}
    assert changes == {"login_frequency": (-60.0, -60.0), "nps": (0.0, -50.0)}
    assert health.score_change_30d == -30.0 and health.dropped
    assert [s.day for s in health.trend][-1] == date(2026, 11, 21)
