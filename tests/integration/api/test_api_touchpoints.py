"""Touchpoints over the API: list with filters and paging, read one, retry and cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cs_app.api.touchpoints import TouchpointOut, TouchpointPage
from cs_app.extensions import db
from tests.factories import AccountFactory, TouchpointFactory, UserFactory


@pytest.fixture
def people(app):
    return {
        "csm": UserFactory(role="csm"),
        "other": UserFactory(role="csm"),
        "lead": UserFactory(role="lead"),
        "viewer": UserFactory(role="viewer"),
    }


@pytest.fixture
def account(people):
    return AccountFactory(name="Acme Corp", external_id="ACME", csm=people["csm"])


def test_the_list_answers_the_documented_keys(client, api_token, people, account, now):
    touchpoint = TouchpointFactory(
        account=account,
        status="dead",
        attempts=6,
        last_error="SMTP 554 no",
        recipient_name="Dana Smith",
        recipient_email="dana@acme.example",
    )
    db.session.commit()
    response = client.get("/api/v1/touchpoints", headers=api_token(people["viewer"]))
    assert response.status_code == 200
    body = response.get_json()
    TouchpointPage.model_validate(body)
    assert (body["page"], body["per_page"], body["total"]) == (1, 50, 1)
    [item] = body["items"]
    assert item == {
        "id": touchpoint.id,
        "account": {"external_id": "ACME", "name": "Acme Corp"},
        "channel": "email",
        "template": {"key": touchpoint.template.key, "name": touchpoint.template.name},
        "recipient": {
            "kind": "primary_contact",
            "email": "dana@acme.example",
            "name": "Dana Smith",
        },
        "due_at": "2026-11-21T09:00:00Z",
        "next_attempt_at": "2026-11-21T09:00:00Z",
        "status": "dead",
        "attempts": 6,
        "last_error": "SMTP 554 no",
        "sent_at": None,
        "message_id": touchpoint.message_id,
        "subject": None,
        "body": None,
    }


def test_the_list_filters_by_account_status_and_channel_and_pages(
    client, api_token, people, account, now
):
    globex = AccountFactory(external_id="GLOBEX")
    for hours in range(3):
        TouchpointFactory(account=account, due_at=now + timedelta(hours=hours))
    dead = TouchpointFactory(account=globex, status="dead")
    in_app = TouchpointFactory(account=globex, channel="in_app")
    db.session.commit()
    headers = api_token(people["viewer"])

    def ids(query):
        response = client.get(f"/api/v1/touchpoints?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert len(ids("account=ACME")) == 3
    assert ids("account=ACM") == []  # the external ID, exactly
    assert ids("status=dead") == [dead.id]
    assert ids("channel=in_app") == [in_app.id]
    page = client.get(
        "/api/v1/touchpoints?account=ACME&per_page=2&page=2", headers=headers
    ).get_json()
    assert (page["total"], len(page["items"]), page["page"]) == (3, 1, 2)


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=lost", "status"),
        ("channel=fax", "channel"),
        ("per_page=500", "per_page"),
        ("acount=ACME", "acount"),
    ],
)
def test_bad_filters_are_refused(client, api_token, people, query, field):
    response = client.get(f"/api/v1/touchpoints?{query}", headers=api_token(people["viewer"]))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_read_one_and_404(client, api_token, people, account):
    touchpoint = TouchpointFactory(account=account)
    db.session.commit()
    headers = api_token(people["viewer"])
    body = client.get(f"/api/v1/touchpoints/{touchpoint.id}", headers=headers).get_json()
    TouchpointOut.model_validate(body)
    assert body["id"] == touchpoint.id
    response = client.get("/api/v1/touchpoints/999999", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_csm_retries_a_dead_touchpoint(client, api_token, people, account):
    touchpoint = TouchpointFactory(account=account, status="dead", attempts=6)
    db.session.commit()
    response = client.post(
        f"/api/v1/touchpoints/{touchpoint.id}/retry", headers=api_token(people["csm"])
    )
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["attempts"]) == ("scheduled", 6)


def test_a_lead_cancels_and_a_second_cancel_conflicts(client, api_token, people, account):
    touchpoint = TouchpointFactory(account=account)
    db.session.commit()
    headers = api_token(people["lead"])
    response = client.post(f"/api/v1/touchpoints/{touchpoint.id}/cancel", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    again = client.post(f"/api/v1/touchpoints/{touchpoint.id}/cancel", headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"] == {
        "code": "conflict",
        "message": "This touchpoint is cancelled and cannot be cancelled.",
        "fields": {},
    }


def test_retrying_a_scheduled_touchpoint_conflicts(client, api_token, people, account):
    touchpoint = TouchpointFactory(account=account)
    db.session.commit()
    response = client.post(
        f"/api/v1/touchpoints/{touchpoint.id}/retry", headers=api_token(people["lead"])
    )
    assert response.status_code == 409


@pytest.mark.parametrize("role", ["viewer", "other"])
def test_viewers_and_other_csms_may_not_act(client, api_token, people, account, role):
    touchpoint = TouchpointFactory(account=account, status="dead")
    db.session.commit()
    for action in ("retry", "cancel"):
        response = client.post(
            f"/api/v1/touchpoints/{touchpoint.id}/{action}", headers=api_token(people[role])
        )
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"
    db.session.expire_all()
    assert touchpoint.status == "dead"


def test_a_token_is_needed(client):
    assert client.get("/api/v1/touchpoints").status_code == 401
