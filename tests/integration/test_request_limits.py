"""Requests past what the app stores answer with a 4xx that says so, never a 500: ids beyond
64 bits in a path or an argument, bodies over the size limit, NUL characters and huge numbers
in an API body; a 405 names the methods allowed, and HTTPS answers carry HSTS."""

from __future__ import annotations

import json

import pytest

from cs_app.accounts.ingest import MAX_BATCH
from cs_app.config import Config, apply_environment
from cs_app.request_args import MAX_ID, MAX_PAGE, database_id, page_number
from tests.factories import AccountFactory, PlanFactory, TouchpointTemplateFactory, UserFactory

HUGE = str(2**70)  # 1180591620717411303424
JUST_TOO_BIG = str(MAX_ID + 1)


@pytest.fixture
def lead(app, login):
    user = UserFactory(role="lead")
    login(user)
    return user


@pytest.fixture
def lead_token(app, api_token):
    return api_token(UserFactory(role="lead"))


# --- ids beyond 64 bits ---------------------------------------------------------------------


@pytest.mark.parametrize("number", [HUGE, JUST_TOO_BIG])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/plans/{n}", "/api/v1/plans/{n}/history", "/api/v1/rules/{n}/preview"],
)
def test_an_api_id_beyond_the_id_range_is_404(client, lead_token, path, number):
    method = client.post if path.endswith("preview") else client.get
    response = method(path.format(n=number), headers=lead_token)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    ["/plans/{n}", "/rules/{n}", "/touchpoint-templates/{n}", "/plans/{n}/export.md"],
)
def test_a_page_id_beyond_the_id_range_is_404(client, lead, path):
    response = client.get(path.format(n=HUGE))
    assert response.status_code == 404
    assert "There is nothing at this address" in response.get_data(as_text=True)


def test_the_largest_id_is_looked_up_and_not_found(client, lead, lead_token):
    assert client.get(f"/plans/{MAX_ID}").status_code == 404
    assert client.get(f"/api/v1/plans/{MAX_ID}", headers=lead_token).status_code == 404


def test_an_api_page_beyond_the_last_possible_one_is_refused(client, lead_token):
    response = client.get("/api/v1/accounts?page=32589158477190044730", headers=lead_token)
    assert response.status_code == 422
    assert "page" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "query", ["owner=" + HUGE, "owner=" + JUST_TOO_BIG, "owner=²", "page=" + HUGE, "page=²"]
)
def test_a_huge_number_in_a_list_argument_is_no_filter(client, lead, query):
    plan = PlanFactory(title="Visible joint plan")
    response = client.get(f"/plans?{query}")
    assert response.status_code == 200
    assert plan.title in response.get_data(as_text=True)


@pytest.mark.parametrize("chosen", [HUGE, JUST_TOO_BIG])
def test_the_template_preview_with_a_huge_account_id_shows_no_account(client, lead, chosen):
    template = TouchpointTemplateFactory()
    response = client.get(f"/touchpoint-templates/{template.id}?preview_account={chosen}")
    assert response.status_code == 200


def test_an_owner_reference_beyond_the_id_range_is_refused(client, lead_token):
    plan = PlanFactory()
    response = client.post(
        f"/api/v1/plans/{plan.id}/actions",
        headers=lead_token,
        json={"title": "Call", "owner": {"contact_id": 2**70}},
    )
    assert response.status_code == 422, response.get_data(as_text=True)


def test_database_id_takes_only_what_the_database_holds():
    assert database_id("42") == 42 and database_id(" 7 ") == 7 and database_id(9) == 9
    assert database_id(str(MAX_ID)) == MAX_ID
    for refused in (str(MAX_ID + 1), HUGE, "0", "-3", "²", "4a", "", None, True, 2**64, 1.0):
        assert database_id(refused) is None, refused
    assert page_number({"page": str(MAX_PAGE)}) == MAX_PAGE
    assert page_number({"page": str(MAX_PAGE + 1)}) == 1


# --- API bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "words"),
    [('"North\\u0000wind"', "NUL"), (str(2**64), "whole numbers"), ("1e400", "finite")],
)
def test_a_body_value_the_database_cannot_store_is_422(client, lead_token, literal, words):
    body = '{"name": "PLACEHOLDER", "currency": "USD"}'.replace('"PLACEHOLDER"', literal)
    response = client.put(
        "/api/v1/accounts/CRM-NUL",
        headers={**lead_token, "Content-Type": "application/json"},
        data=body,
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert words in response.get_json()["error"]["message"]


def test_a_body_nested_past_the_parsers_recursion_is_refused_not_a_500(client, lead_token):
    body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.put(
        "/api/v1/accounts/CRM-DEEP",
        headers={**lead_token, "Content-Type": "application/json"},
        data=body,
    )
    assert response.status_code == 422


# --- request size ---------------------------------------------------------------------------


def test_a_full_batch_of_ordinary_events_fits_the_default_limit():
    event = {
        "id": "evt-" + "0" * 36,
        "account": "CRM-" + "0" * 20,
        "type": "feature_used",
        "at": "2026-11-21T09:30:00.123456+00:00",
        "user": "someone.with.a.long.name@customer-domain.example",
        "properties": {"feature": "advanced-reporting-dashboard", "plan": "enterprise"},
    }
    batch = json.dumps({"events": [event] * MAX_BATCH})
    assert len(batch.encode()) * 4 < Config.MAX_CONTENT_LENGTH


def test_the_request_limit_comes_from_the_environment():
    config: dict = {}
    apply_environment(config, {"CS_APP_MAX_REQUEST_BYTES": "1048576"})
    assert config["MAX_CONTENT_LENGTH"] == 1_048_576


@pytest.fixture
def small_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)


def test_an_api_body_over_the_limit_is_413_in_json(client, lead_token, small_limit):
    AccountFactory(external_id="CRM-001")
    events = [{"id": "e1", "account": "CRM-001", "type": "login", "at": "2026-11-21T09:00:00Z"}]
    events[0]["properties"] = {"blob": "x" * 2000}
    response = client.post("/api/v1/events", headers=lead_token, json={"events": events})
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "request_too_large" and "1,000 bytes" in error["message"]


def test_a_form_over_the_limit_is_413_as_a_page(client, lead, small_limit):
    AccountFactory(external_id="CRM-1")
    response = client.post("/accounts/CRM-1/contacts", data={"name": "x" * 2000})
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "1,000 bytes" in response.get_data(as_text=True)


# --- 405 and HSTS ---------------------------------------------------------------------------


def test_a_405_names_the_methods_allowed(client, lead_token):
    response = client.delete("/api/v1/events", headers=lead_token)
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"
    page = client.delete("/login")
    assert page.status_code == 405
    assert set(page.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_https_answers_carry_hsts_and_plain_http_ones_do_not(client):
    secure = client.get("/login", base_url="https://cs.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/login").headers
