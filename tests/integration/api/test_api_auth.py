"""The API's front door: bearer tokens, and one JSON error shape for every failure."""

from __future__ import annotations

import pytest

from cs_app.auth.models import ApiToken
from cs_app.auth.service import create_token, revoke_token
from cs_app.extensions import db
from tests.factories import AccountFactory, UserFactory

ACCOUNTS = "/api/v1/accounts"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_missing_token_is_401_with_a_bearer_challenge(client):
    response = client.get(ACCOUNTS)
    error = assert_error(response, 401, "unauthorized")
    assert error["fields"] == {}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cs_app"'


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "csa_abc"])
def test_malformed_authorization_header_is_401(client, header):
    response = client.get(ACCOUNTS, headers={"Authorization": header})
    assert_error(response, 401, "unauthorized")


def test_unknown_token_is_401_invalid_token(client):
    response = client.get(ACCOUNTS, headers={"Authorization": "Bearer csa_not-a-real-token"})
    assert_error(response, 401, "unauthorized")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoked_token_is_401(app, client, api_token, now):
    user = UserFactory(role="lead")
    headers = api_token(user)
    assert client.get(ACCOUNTS, headers=headers).status_code == 200
    record = db.session.query(ApiToken).filter_by(user_id=user.id).one()
    revoke_token(record, now=now)
    db.session.commit()
    assert_error(client.get(ACCOUNTS, headers=headers), 401, "unauthorized")


def test_token_of_a_deactivated_user_is_401(app, client, api_token):
    user = UserFactory(role="lead")
    headers = api_token(user)
    user.active = False
    db.session.commit()
    assert_error(client.get(ACCOUNTS, headers=headers), 401, "unauthorized")


def test_valid_token_records_its_last_use(app, client, now):
    user = UserFactory(role="viewer")
    record, token = create_token(user, name="crm sync", now=now)
    db.session.commit()
    response = client.get(ACCOUNTS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, record.id).last_used_at is not None


def test_a_browser_session_is_not_an_api_credential(app, client, login):
    user = UserFactory(role="admin")
    db.session.commit()
    login(user)
    assert_error(client.get(ACCOUNTS), 401, "unauthorized")


def test_openapi_document_needs_no_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")


def test_unknown_api_path_is_json_404(client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_non_numeric_plan_id_is_json_404(app, client, api_token):
    headers = api_token(UserFactory(role="lead"))
    assert_error(client.get("/api/v1/plans/abc", headers=headers), 404, "not_found")


def test_wrong_method_is_json_405(app, client, api_token):
    headers = api_token(UserFactory(role="lead"))
    assert_error(client.delete(ACCOUNTS, headers=headers), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "body, message_part",
    [
        (b"{not json", "not valid JSON"),
        (b"", "Send a JSON object"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"a string"', "must be a JSON object"),
        (b'{"name": NaN}', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(app, client, api_token, body, message_part):
    AccountFactory(external_id="ACME")
    headers = {**api_token(UserFactory(role="lead")), "Content-Type": "application/json"}
    response = client.put(f"{ACCOUNTS}/ACME", data=body, headers=headers)
    error = assert_error(response, 400, "bad_request")
    assert message_part in error["message"]


def test_unknown_body_key_is_422_naming_the_key(app, client, api_token):
    AccountFactory(external_id="ACME")
    headers = api_token(UserFactory(role="lead"))
    response = client.put(
        f"{ACCOUNTS}/ACME", json={"name": "Acme", "nmae": "typo"}, headers=headers
    )
    error = assert_error(response, 422, "validation_error")
    assert list(error["fields"]) == ["nmae"]
    assert "nmae" in error["message"] and "nmae" in error["fields"]["nmae"]


def test_a_refused_write_leaves_nothing_behind(app, client, api_token):
    account = AccountFactory(external_id="ACME", name="Acme")
    headers = api_token(UserFactory(role="lead"))
    response = client.put(
        f"{ACCOUNTS}/ACME",
        json={"name": "Renamed", "csm_email": "nobody@example.com"},
        headers=headers,
    )
    assert assert_error(response, 422, "validation_error")["fields"] == {
        "csm_email": "No user has the email nobody@example.com."
    }
    db.session.expire_all()
    assert account.name == "Acme"
