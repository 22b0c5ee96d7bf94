"""Health over the API: accounts read with health and signals, the band filter, scorecards
(versions, what-if, backtest) and overrides, with every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cs_app.api import responses
from cs_app.audit.models import AuditEvent
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health import service
from cs_app.health.models import HealthOverride, HealthSnapshot, Scorecard, ScorecardVersion
from cs_app.health.recompute import recompute
from tests.factories import AccountFactory, UserFactory

ACCOUNTS = "/api/v1/accounts"
SCORECARDS = "/api/v1/scorecards"
DETAIL_ONLY = {"score_change_30d", "score_drop_alert"}
MEASURE_DETAIL_ONLY = {"change_7d", "change_30d"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


def fields_of(response) -> dict:
    return assert_error(response, 422, "validation_error")["fields"]


def ok(response, model, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    model.model_validate(body)
    return body


def ago(**delta) -> str:
    return (utcnow() - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def in_days(days: int) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


def card(key: str = "health-indicators") -> Scorecard:
    return db.session.scalar(select(Scorecard).where(Scorecard.key == key))


def rescore() -> None:
    recompute(now=utcnow())
    db.session.commit()


@pytest.fixture
def lead(app):
    return UserFactory(role="lead", email="lena.lead@example.com", name="Lena Lead")


@pytest.fixture
def csm(app):
    return UserFactory(role="csm", email="carl.csm@example.com", name="Carl CSM")


@pytest.fixture
def viewer_headers(api_token):
    return api_token(UserFactory(role="viewer"))


def push_healthy_usage(client, headers, account: str) -> None:
    events = [
        {
            "id": f"{account}-login",
            "account": account,
            "type": "login",
            "at": ago(days=1),
            "user": "ana",
        }
    ]
    events += [
        {
            "id": f"{account}-f{n}",
            "account": account,
            "type": "feature_used",
            "at": ago(days=2),
            "properties": {"feature": feature},
        }
        for n, feature in enumerate(("reports", "alerts", "exports"))
    ]
    events += [
        {
            "id": f"{account}-t",
            "account": account,
            "type": "support_ticket",
            "at": ago(days=3),
            "properties": {"sentiment": "positive"},
        },
        {
            "id": f"{account}-nps",
            "account": account,
            "type": "nps_response",
            "at": ago(days=4),
            "properties": {"score": 10},
        },
    ]
    response = client.post("/api/v1/events", json={"events": events}, headers=headers)
    assert response.get_json() == {"accepted": len(events), "duplicates": 0, "errors": []}


def snapshot(account, days_ago: int, band: str, score: float | None = None) -> HealthSnapshot:
    row = HealthSnapshot(
        account_id=account.id,
        day=utcnow().date() - timedelta(days=days_ago),
        score=score,
        band=band,
        coverage=1.0 if score is not None else 0.0,
        computed_score=score,
        computed_band=band,
        scorecard_version_id=card().current_version.id,
        measures=[
            {
                "key": "login_frequency",
                "signal": "days_since_last_login",
                "value": 2,
                "score": score,
                "weight": 100.0,
                "points_lost": None if score is None else 100.0 - score,
                "stale": 0,
            }
        ],
    )
    db.session.add(row)
    return row


def override(account, user, band: str = "critical") -> HealthOverride:
    row = HealthOverride(
        account_id=account.id,
        band=band,
        score=None,
        reason="Sponsor left",
        expires_at=utcnow() + timedelta(days=30),
        created_at=utcnow(),
        created_by_id=user.id,
    )
    db.session.add(row)
    return row


# --- accounts carry health ------------------------------------------------------------------


def test_account_read_has_null_health_and_signals_until_computed(app, client, viewer_headers):
    AccountFactory(external_id="CRM-001", segment="SMB")
    body = ok(client.get(f"{ACCOUNTS}/CRM-001", headers=viewer_headers), responses.AccountDetailOut)
    assert (body["health"], body["signals"], body["signals_computed_at"]) == (None, None, None)


def test_account_read_explains_its_health_after_a_recompute(
    app, client, api_token, lead, viewer_headers
):
    AccountFactory(external_id="CRM-001", segment="SMB")
    push_healthy_usage(client, api_token(lead), "CRM-001")
    rescore()
    body = ok(client.get(f"{ACCOUNTS}/CRM-001", headers=viewer_headers), responses.AccountDetailOut)
    health = body["health"]
    assert (health["score"], health["band"], health["coverage"]) == (100.0, "healthy", 1.0)
    assert (health["scorecard"], health["scorecard_version"]) == ("health-indicators", 1)
    assert (health["computed_band"], health["override"], health["day"]) == (
        "healthy",
        None,
        utcnow().date().isoformat(),
    )
    measures = {m["key"]: m for m in health["measures"]}
    assert list(measures) == ["login_frequency", "feature_adoption", "support_sentiment", "nps"]
    assert measures["login_frequency"] == {
        "key": "login_frequency",
        "value": 1,
        "score": 100.0,
        "weight": 25.0,
        "points_lost": 0.0,
        "stale": False,
        "missing": False,
        "change_7d": None,
        "change_30d": None,
    }
    assert (measures["nps"]["value"], measures["support_sentiment"]["value"]) == (
        "promoter",
        "positive",
    )
    signals = body["signals"]
    assert set(signals) == set(responses.SignalsOut.model_fields)
    assert (
        signals["logins_30d"],
        signals["features_used_30d"],
        signals["nps_category"],
        signals["last_nps"],
        signals["health_band"],
    ) == (1, 3, "promoter", 10, "healthy")
    assert body["signals_computed_at"].endswith("Z")


def test_missing_data_is_explicit_per_measure(app, client, viewer_headers):
    AccountFactory(external_id="CRM-001", segment="SMB")
    rescore()
    health = client.get(f"{ACCOUNTS}/CRM-001", headers=viewer_headers).get_json()["health"]
    assert (health["band"], health["score"], health["coverage"]) == ("insufficient_data", None, 0.0)
    assert all(m["missing"] and m["score"] is None for m in health["measures"])


def test_list_health_is_the_detail_without_what_changed(
    app, client, api_token, lead, csm, viewer_headers
):
    account = AccountFactory(external_id="CRM-001", segment="SMB", csm_id=csm.id)
    push_healthy_usage(client, api_token(lead), "CRM-001")
    rescore()
    AccountFactory(external_id="CRM-002", segment="SMB", name="Zeta never scored")
    override(account, lead, band="at_risk")
    db.session.commit()
    detail = client.get(f"{ACCOUNTS}/CRM-001", headers=viewer_headers).get_json()["health"]
    page = ok(client.get(ACCOUNTS, headers=viewer_headers), responses.AccountPage)
    listed = {item["external_id"]: item["health"] for item in page["items"]}
    assert listed["CRM-002"] is None
    expected = {key: value for key, value in detail.items() if key not in DETAIL_ONLY}
    expected["measures"] = [
        {k: v for k, v in m.items() if k not in MEASURE_DETAIL_ONLY} for m in detail["measures"]
    ]
    assert listed["CRM-001"] == expected
    assert listed["CRM-001"]["override"]["band"] == "at_risk"
    assert listed["CRM-001"]["override"]["expires_at"].endswith("Z")
    assert listed["CRM-001"]["override"]["created_by"] == "lena.lead@example.com"


def test_put_account_answers_with_its_health(app, client, api_token, lead):
    AccountFactory(external_id="CRM-001", segment="SMB")
    rescore()
    body = ok(
        client.put(f"{ACCOUNTS}/CRM-001", json={"seats_purchased": 12}, headers=api_token(lead)),
        responses.AccountOut,
    )
    assert (body["seats_purchased"], body["health"]["band"]) == (12, "insufficient_data")


def push_logins(client, headers, account: str, days_ago: int) -> None:
    response = client.post(
        "/api/v1/events",
        headers=headers,
        json={
            "events": [
                {
                    "id": f"{account}-login-{days_ago}",
                    "account": account,
                    "type": "login",
                    "at": ago(days=days_ago),
                }
            ]
        },
    )
    assert response.get_json()["accepted"] == 1


@pytest.fixture
def banded(app, client, api_token, lead):
    """Accounts whose latest snapshot has each band (two of them had another band three days
    ago), and one never scored."""
    headers = api_token(lead)
    alpha = AccountFactory(name="Alpha", external_id="ALPHA", segment="SMB")
    beta = AccountFactory(name="Beta", external_id="BETA", segment="Enterprise")
    AccountFactory(name="Gamma", segment="SMB")
    AccountFactory(name="Epsilon", external_id="EPSILON", segment="SMB")
    push_healthy_usage(client, headers, "ALPHA")
    push_healthy_usage(client, headers, "BETA")
    push_logins(client, headers, "EPSILON", 1)  # logged in, no features: 50, at risk
    snapshot(alpha, 3, "critical", 20.0)
    snapshot(beta, 3, "healthy", 80.0)
    rescore()
    service.set_override(
        beta,
        {"band": "critical", "reason": "Champion left last week", "expires_on": in_days(14)},
        user=lead,
        now=utcnow(),
    )
    AccountFactory(name="Delta never scored", segment="SMB")
    db.session.commit()


@pytest.mark.parametrize(
    "query, names",
    [
        ("band=healthy", ["Alpha"]),
        ("band=critical", ["Beta"]),
        ("band=at_risk", ["Epsilon"]),
        ("band=insufficient_data", ["Gamma"]),
        ("band=critical&segment=SMB", []),
        ("band=healthy&segment=SMB", ["Alpha"]),
        ("", ["Alpha", "Beta", "Delta never scored", "Epsilon", "Gamma"]),
    ],
)
def test_band_filter_reads_the_latest_snapshot(app, client, viewer_headers, banded, query, names):
    body = client.get(f"{ACCOUNTS}?{query}", headers=viewer_headers).get_json()
    assert [item["name"] for item in body["items"]] == names
    assert body["total"] == len(names)
    if query:
        band = query.split("&")[0].removeprefix("band=")
        assert {item["health"]["band"] for item in body["items"]} <= {band}


def test_list_with_health_costs_the_same_queries_for_3_or_30_accounts(
    app, client, api_token, lead, count_queries
):
    headers = api_token(UserFactory(role="viewer"))

    def scored_accounts(count: int) -> None:
        accounts = [AccountFactory(segment="SMB", csm_id=lead.id) for _ in range(count)]
        rescore()
        for account in accounts:
            service.set_override(
                account,
                {"band": "critical", "reason": "Budget frozen", "expires_on": in_days(30)},
                user=lead,
                now=utcnow(),
            )
        db.session.commit()

    def statements(query: str) -> int:
        with count_queries() as counter:
            response = client.get(f"{ACCOUNTS}?per_page=200{query}", headers=headers)
        assert response.status_code == 200
        items = response.get_json()["items"]
        assert items and all(
            item["health"]["computed_band"] == "insufficient_data"
            and item["health"]["override"]["band"] == "critical"
            for item in items
        )
        return counter.count

    scored_accounts(1)
    statements("")  # the token's first use writes its last-used time; count from the second
    scored_accounts(2)
    few, few_banded = statements(""), statements("&band=critical")
    scored_accounts(27)
    many, many_banded = statements(""), statements("&band=critical")
    assert (few, few_banded) == (many, many_banded)
    # the token, the count, the page, the latest snapshots, the active overrides
    assert many == many_banded == 5


# --- scorecards -----------------------------------------------------------------------------


def definition(body: dict) -> dict:
    """A scorecard as read, made into a body for PUT (which checks ``version``)."""
    return {
        key: value for key, value in body.items() if key not in ("id", "key", "active", "versions")
    }


def new_card(body: dict, **changes) -> dict:
    """A scorecard as read, made into a body for POST."""
    return {key: value for key, value in definition(body).items() if key != "version"} | changes


def read_card(client, headers, key: str = "health-indicators") -> dict:
    return ok(
        client.get(f"{SCORECARDS}/{card(key).id}", headers=headers), responses.ScorecardDetailOut
    )


def test_list_scorecards(app, client, viewer_headers):
    body = ok(client.get(SCORECARDS, headers=viewer_headers), responses.ScorecardList)
    assert [(s["key"], s["segment"], s["version"]) for s in body["items"]] == [
        ("health-indicators", None, 1),
        ("mid-market-weighted", "Mid-Market", 1),
    ]
    weighted = body["items"][1]["measures"]
    assert [m["weight"] for m in weighted] == [30, 25, 20, 15, 10]


def test_list_scorecards_costs_the_same_queries_for_more_versions(
    app, client, api_token, lead, count_queries
):
    headers = api_token(lead)
    client.get(SCORECARDS, headers=headers)
    with count_queries() as before:
        client.get(SCORECARDS, headers=headers)
    for key in ("health-indicators", "mid-market-weighted"):
        body = definition(read_card(client, headers, key))
        assert (
            client.put(f"{SCORECARDS}/{card(key).id}", json=body, headers=headers).status_code
            == 200
        )
    with count_queries() as after:
        client.get(SCORECARDS, headers=headers)
    assert before.count == after.count == 4  # token, scorecards, versions, measures


def test_read_scorecard_with_versions(app, client, viewer_headers):
    body = read_card(client, viewer_headers)
    assert (body["key"], body["name"], body["version"], body["coverage_floor"]) == (
        "health-indicators",
        "Health Indicators",
        1,
        0.5,
    )
    assert [v["number"] for v in body["versions"]] == [1]
    assert body["measures"][2]["categories"] == {
        "positive": "healthy",
        "neutral": "at_risk",
        "negative": "critical",
    }


def test_unknown_scorecard_is_404(app, client, api_token, lead):
    headers = api_token(lead)
    assert_error(client.get(f"{SCORECARDS}/999999", headers=headers), 404, "not_found")
    body = definition(read_card(client, headers))
    assert_error(client.put(f"{SCORECARDS}/999999", json=body, headers=headers), 404, "not_found")
    for action in ("what-if", "backtest"):
        assert_error(
            client.post(f"{SCORECARDS}/999999/{action}", json={}, headers=headers), 404, "not_found"
        )


def test_put_scorecard_saves_a_new_version(app, client, api_token, lead):
    headers = api_token(lead)
    body = definition(read_card(client, headers))
    body["measures"][0]["weight"], body["measures"][1]["weight"] = 40, 10
    body["note"] = "Logins matter more"
    saved = ok(
        client.put(f"{SCORECARDS}/{card().id}", json=body, headers=headers),
        responses.ScorecardDetailOut,
    )
    assert (saved["version"], saved["note"]) == (2, "Logins matter more")
    assert [m["weight"] for m in saved["measures"]] == [40, 10, 25, 25]
    assert [(v["number"], v["note"]) for v in saved["versions"]] == [
        (2, "Logins matter more"),
        (1, "The scaled template's Health Indicators table."),
    ]
    assert saved["versions"][0]["created_by"] == {
        "user_email": "lena.lead@example.com",
        "name": "Lena Lead",
    }
    assert saved["versions"][0]["created_at"].endswith("Z")
    db.session.expire_all()
    assert card().current_version.number == 2
    assert (
        db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_type == "scorecard"))
        == "new_version"
    )


def test_put_scorecard_with_a_stale_version_is_409(app, client, api_token, lead):
    headers = api_token(lead)
    body = definition(read_card(client, headers))
    assert client.put(f"{SCORECARDS}/{card().id}", json=body, headers=headers).status_code == 200
    error = assert_error(
        client.put(f"{SCORECARDS}/{card().id}", json=body, headers=headers), 409, "conflict"
    )
    assert error["fields"]["version"].startswith(
        "You sent version 1 but the scorecard is at version 2"
    )
    db.session.expire_all()
    assert card().current_version.number == 2


def _weights_off(body):
    body["measures"][0]["weight"] = 20


def _unknown_signal(body):
    body["measures"][1]["signal"] = "logins_per_fortnight"


def _no_name(body):
    del body["name"]


def _no_measures(body):
    body["measures"] = []


def _text_weight(body):
    body["measures"][0]["weight"] = "25"


def _unknown_key(body):
    body["colour"] = "green"


def _bad_category(body):
    body["measures"][2]["categories"] = {"furious": "critical"}


def _bad_limits(body):
    body["healthy_min"], body["at_risk_min"] = 30, 40


def _signal_missing(body):
    del body["measures"][3]["signal"]


def _bad_segment(body):
    body["segment"] = "Huge"


@pytest.mark.parametrize(
    "change, field, message_part",
    [
        (_weights_off, "weights", "The weights add up to 95; they must add up to 100."),
        (_unknown_signal, "measures.1.signal", "Measure 2: unknown signal 'logins_per_fortnight'"),
        (_no_name, "name", "Give the scorecard a name."),
        (_no_measures, "measures", "Add at least one measure."),
        (_text_weight, "measures.0.weight", "valid number"),
        (_unknown_key, "colour", "Unknown field 'colour'"),
        (_bad_category, "measures.2.categories", "not a category of support_sentiment"),
        (_bad_limits, "healthy_min", "Band limits"),
        (_signal_missing, "measures.3.signal", "This field is required."),
        (_bad_segment, "segment", "'SMB', 'Mid-Market' or 'Enterprise'"),
    ],
)
def test_put_scorecard_refusals_name_the_field(
    app, client, api_token, lead, change, field, message_part
):
    headers = api_token(lead)
    body = definition(read_card(client, headers))
    change(body)
    fields = fields_of(client.put(f"{SCORECARDS}/{card().id}", json=body, headers=headers))
    assert message_part in fields[field], fields
    db.session.expire_all()
    assert card().current_version.number == 1


def test_unknown_signal_is_refused_on_create_and_what_if_too(app, client, api_token, lead):
    headers = api_token(lead)
    body = definition(read_card(client, headers))
    _unknown_signal(body)
    for response in (
        client.post(SCORECARDS, json=new_card(body, name="Copy"), headers=headers),
        client.post(f"{SCORECARDS}/{card().id}/what-if", json=body, headers=headers),
    ):
        assert "unknown signal" in fields_of(response)["measures.1.signal"]
    assert db.session.scalar(select(func.count(Scorecard.id))) == 2


@pytest.mark.parametrize("role", ["viewer", "csm"])
def test_only_leads_and_admins_author_scorecards(app, client, api_token, role):
    headers = api_token(UserFactory(role=role))
    body = definition(read_card(client, headers))
    url = f"{SCORECARDS}/{card().id}"
    for response in (
        client.put(url, json=body, headers=headers),
        client.post(SCORECARDS, json=new_card(body, name="Mine"), headers=headers),
        client.post(f"{url}/what-if", json=body, headers=headers),
        client.post(f"{url}/backtest", json={}, headers=headers),
    ):
        assert "leads and admins" in assert_error(response, 403, "forbidden")["message"]
    db.session.expire_all()
    assert (card().current_version.number, db.session.scalar(select(func.count(Scorecard.id)))) == (
        1,
        2,
    )


def test_create_scorecard(app, client, api_token):
    headers = api_token(UserFactory(role="admin"))
    body = definition(read_card(client, headers))
    response = client.post(
        SCORECARDS,
        json=new_card(body, name="Enterprise health", segment="Enterprise"),
        headers=headers,
    )
    created = ok(response, responses.ScorecardDetailOut, 201)
    assert (created["key"], created["segment"], created["version"], created["active"]) == (
        "enterprise-health",
        "Enterprise",
        1,
        True,
    )
    assert response.headers["Location"].endswith(f"/api/v1/scorecards/{created['id']}")
    assert client.get(response.headers["Location"], headers=headers).get_json()["name"] == (
        "Enterprise health"
    )


def test_create_scorecard_with_a_taken_key_is_refused(app, client, api_token, lead):
    headers = api_token(lead)
    body = definition(read_card(client, headers))
    fields = fields_of(
        client.post(SCORECARDS, json=new_card(body, key="health-indicators"), headers=headers)
    )
    assert fields == {"key": "The key 'health-indicators' is taken or not a valid slug."}
    assert (
        "Unknown field 'version'"
        in fields_of(
            client.post(SCORECARDS, json=new_card(body, key="copy", version=1), headers=headers)
        )["version"]
    )


def test_what_if_counts_bands_without_saving(app, client, api_token, lead):
    headers = api_token(lead)
    for n in range(3):
        AccountFactory(external_id=f"W{n}", segment="SMB")
    client.post(
        "/api/v1/events",
        headers=headers,
        json={
            "events": [
                {"id": f"w{n}", "account": f"W{n}", "type": "login", "at": ago(days=1)}
                for n in range(3)
            ]
        },
    )
    rescore()
    body = definition(read_card(client, headers))
    for measure, weight in zip(body["measures"], (70, 10, 10, 10), strict=True):
        measure["weight"] = weight
    result = ok(
        client.post(f"{SCORECARDS}/{card().id}/what-if", json=body, headers=headers),
        responses.WhatIfOut,
    )
    counts = {b["band"]: (b["current"], b["proposed"]) for b in result["bands"]}
    assert counts == {
        "healthy": (0, 3),
        "at_risk": (3, 0),
        "critical": (0, 0),
        "insufficient_data": (0, 0),
    }
    assert result["accounts"] == 3
    db.session.expire_all()
    assert card().current_version.number == 1


def test_what_if_refuses_a_bad_definition(app, client, api_token, lead):
    headers = api_token(lead)
    body = definition(read_card(client, headers))
    _weights_off(body)
    assert "weights" in fields_of(
        client.post(f"{SCORECARDS}/{card().id}/what-if", json=body, headers=headers)
    )


def test_backtest_current_or_named_version(app, client, api_token, lead):
    headers = api_token(lead)
    body = definition(read_card(client, headers))
    client.put(f"{SCORECARDS}/{card().id}", json=body, headers=headers)
    url = f"{SCORECARDS}/{card().id}/backtest"
    current = ok(client.post(url, json={}, headers=headers), responses.BacktestOut)
    assert (current["scorecard_version"], current["window_days"], current["lead_days"]) == (
        2,
        180,
        30,
    )
    assert set(current["groups"]) == {"churned", "expanded", "retained"}
    first = ok(
        client.post(url, json={"version": 1, "window_days": 90, "lead_days": 14}, headers=headers),
        responses.BacktestOut,
    )
    assert (first["scorecard_version"], first["window_days"], first["lead_days"]) == (1, 90, 14)


@pytest.mark.parametrize(
    "payload, field, message_part",
    [
        ({"version": 9}, "version", "has no version 9; its versions are: 1."),
        ({"version": 0}, "version", "greater than or equal to 1"),
        ({"window_days": 0}, "window_days", "greater than or equal to 1"),
        ({"lead_days": "30"}, "lead_days", "valid integer"),
        ({"scorecard": 1}, "scorecard", "Unknown field"),
    ],
)
def test_backtest_refusals(app, client, api_token, lead, payload, field, message_part):
    response = client.post(
        f"{SCORECARDS}/{card().id}/backtest", json=payload, headers=api_token(lead)
    )
    assert message_part in fields_of(response)[field]


def test_backtest_needs_a_json_object(app, client, api_token, lead):
    response = client.post(f"{SCORECARDS}/{card().id}/backtest", headers=api_token(lead))
    assert "Send a JSON object" in assert_error(response, 400, "bad_request")["message"]


# --- overrides ------------------------------------------------------------------------------


def override_url(external_id: str = "CRM-001") -> str:
    return f"{ACCOUNTS}/{external_id}/health/override"


def override_body(**changes) -> dict:
    return {
        "band": "critical",
        "reason": "Executive sponsor resigned",
        "expires_on": in_days(30),
        **changes,
    }


def overrides() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(HealthOverride.id)))


@pytest.fixture
def scored(app, csm):
    account = AccountFactory(external_id="CRM-001", segment="SMB", csm_id=csm.id)
    rescore()
    return account


def test_owning_csm_overrides_and_the_computed_score_shows_beside(
    app, client, api_token, csm, scored, viewer_headers
):
    response = client.put(override_url(), json=override_body(), headers=api_token(csm))
    health = ok(response, responses.HealthDetailOut)
    assert (health["band"], health["computed_band"]) == ("critical", "insufficient_data")
    assert health["override"] == {
        "band": "critical",
        "score": None,
        "reason": "Executive sponsor resigned",
        "expires_at": f"{in_days(30)}T00:00:00Z",
        "created_by": "carl.csm@example.com",
    }
    read = client.get(f"{ACCOUNTS}/CRM-001", headers=viewer_headers).get_json()["health"]
    assert read == health
    rescore()
    assert (
        client.get(f"{ACCOUNTS}/CRM-001", headers=viewer_headers).get_json()["health"]["band"]
        == "critical"
    )
    assert (
        db.session.scalar(
            select(AuditEvent.action).where(AuditEvent.entity_type == "account_health")
        )
        == "override_set"
    )


def test_a_new_override_replaces_the_active_one(app, client, api_token, lead, scored):
    headers = api_token(lead)
    client.put(override_url(), json=override_body(), headers=headers)
    health = ok(
        client.put(
            override_url(),
            json=override_body(band=None, score=55, reason="Renewal signed"),
            headers=headers,
        ),
        responses.HealthDetailOut,
    )
    assert (health["score"], health["band"], health["override"]["reason"]) == (
        55.0,
        "at_risk",
        "Renewal signed",
    )
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count(HealthOverride.id)).where(HealthOverride.cleared_at.is_(None))
        )
        == 1
    )


def test_an_account_never_scored_shows_its_override_at_once(app, client, api_token, lead):
    AccountFactory(external_id="CRM-001", segment="SMB")
    health = ok(
        client.put(override_url(), json=override_body(), headers=api_token(lead)),
        responses.HealthDetailOut,
    )
    assert (health["band"], health["computed_band"]) == ("critical", "insufficient_data")


def test_override_without_an_applicable_scorecard_is_409(app, client, api_token, lead):
    AccountFactory(external_id="CRM-001", segment="SMB")
    for scorecard in db.session.scalars(select(Scorecard)):
        scorecard.active = False
    db.session.commit()
    error = assert_error(
        client.put(override_url(), json=override_body(), headers=api_token(lead)), 409, "conflict"
    )
    assert "No active scorecard scores" in error["message"]
    assert overrides() == 0


@pytest.mark.parametrize(
    "changes, field, message_part",
    [
        ({"band": "purple"}, "band", "'healthy', 'at_risk' or 'critical'"),
        ({"band": "insufficient_data"}, "band", "'healthy', 'at_risk' or 'critical'"),
        ({"band": None}, "band", "Override the band, the score or both."),
        ({"score": 150}, "score", "less than or equal to 100"),
        ({"score": "50"}, "score", "valid number"),
        ({"reason": "meh"}, "reason", "Say why"),
        ({"reason": None}, "reason", "valid string"),
        ({"expires_on": "31/12/2026"}, "expires_on", "valid date"),
        ({"expires_on": in_days(0)}, "expires_on", "must end after today"),
        ({"expires_on": in_days(400)}, "expires_on", "at most 365 days"),
        ({"note": "x"}, "note", "Unknown field 'note'"),
    ],
)
def test_override_refusals(app, client, api_token, lead, scored, changes, field, message_part):
    fields = fields_of(
        client.put(override_url(), json=override_body(**changes), headers=api_token(lead))
    )
    assert message_part in fields[field], fields
    assert overrides() == 0


@pytest.mark.parametrize(
    "missing, message",
    [
        ("reason", "Say why (at least a few words): the next person will ask."),
        ("expires_on", "Give the date the override ends (YYYY-MM-DD)."),
    ],
)
def test_override_needs_reason_and_expiry(app, client, api_token, lead, scored, missing, message):
    body = override_body()
    del body[missing]
    assert fields_of(client.put(override_url(), json=body, headers=api_token(lead))) == {
        missing: message
    }


def test_override_refusals_by_role_and_account(app, client, api_token, scored, viewer_headers):
    other_csm = api_token(UserFactory(role="csm"))
    for headers in (viewer_headers, other_csm):
        assert_error(
            client.put(override_url(), json=override_body(), headers=headers), 403, "forbidden"
        )
        assert_error(client.delete(override_url(), headers=headers), 403, "forbidden")
    lead = api_token(UserFactory(role="lead"))
    assert_error(
        client.put(override_url("NOPE"), json=override_body(), headers=lead), 404, "not_found"
    )
    assert_error(client.delete(override_url("NOPE"), headers=lead), 404, "not_found")
    assert_error(
        client.put(override_url(), data="[]", content_type="application/json", headers=lead),
        400,
        "bad_request",
    )
    assert overrides() == 0


def test_clearing_an_override(app, client, api_token, lead, scored, viewer_headers):
    headers = api_token(lead)
    client.put(override_url(), json=override_body(), headers=headers)
    response = client.delete(override_url(), headers=headers)
    assert (response.status_code, response.get_data()) == (204, b"")
    health = client.get(f"{ACCOUNTS}/CRM-001", headers=viewer_headers).get_json()["health"]
    assert (health["band"], health["override"]) == ("insufficient_data", None)
    again = assert_error(client.delete(override_url(), headers=headers), 404, "not_found")
    assert "no active health override" in again["message"]
    db.session.expire_all()
    assert db.session.scalar(select(HealthOverride.cleared_at)) is not None
    assert db.session.scalar(select(func.count(ScorecardVersion.id))) == 2


# --- documentation --------------------------------------------------------------------------


def test_health_and_usage_routes_are_documented(client):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    described = {(path, method) for path, operations in paths.items() for method in operations}
    assert {
        ("/events", "post"),
        ("/metrics", "post"),
        ("/scorecards", "get"),
        ("/scorecards", "post"),
        ("/scorecards/{scorecard_id}", "get"),
        ("/scorecards/{scorecard_id}", "put"),
        ("/scorecards/{scorecard_id}/what-if", "post"),
        ("/scorecards/{scorecard_id}/backtest", "post"),
        ("/accounts/{external_id}/health/override", "put"),
        ("/accounts/{external_id}/health/override", "delete"),
    } <= described
    assert "409" in paths["/scorecards/{scorecard_id}"]["put"]["responses"]
    assert "409" in paths["/accounts/{external_id}/health/override"]["put"]["responses"]
    assert "204" in paths["/accounts/{external_id}/health/override"]["delete"]["responses"]
    schemas = document["components"]["schemas"]
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == 10_000
    assert set(schemas["EventBatch"]["properties"]["events"]["items"]["required"]) == {
        "id",
        "account",
        "type",
        "at",
    }
    assert set(schemas["HealthOut"]["required"]) >= {
        "score",
        "band",
        "coverage",
        "scorecard_version",
        "measures",
        "override",
    }
    assert set(schemas["MeasureContributionOut"]["required"]) >= {
        "key",
        "value",
        "score",
        "weight",
        "points_lost",
        "stale",
    }
