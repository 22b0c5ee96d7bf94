"""Trigger rules over the API: list with filters and paging, read, create (201), change with
the version read (409 when stale), delete, preview (saved and unsaved), and every refusal —
403 for non-leads, 404, 422 naming the bad clause's path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.accounts.usage_models import AccountSignals
from cs_app.api.rules import PreviewOut, RuleOut, RulePage
from cs_app.audit.models import AuditEvent
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.rules.models import Rule
from tests.factories import AccountFactory, RuleFactory, UserFactory

RULES = "/api/v1/rules"
CONDITION = {
    "all": [
        {"signal": "days_since_last_login", "op": ">", "value": 14},
        {"signal": "days_to_renewal", "op": "<=", "value": 90},
    ]
}
KEYS = {
    "id",
    "key",
    "name",
    "description",
    "kind",
    "enabled",
    "mode",
    "event_type",
    "event_properties",
    "first_event_only",
    "condition",
    "actions",
    "once_policy",
    "cooldown_days",
    "snooze_days",
    "include_churned",
    "version",
    "created_at",
    "updated_at",
}


def body(**changes):
    return {
        "name": "Quiet before renewal",
        "kind": "risk",
        "condition": CONDITION,
        "actions": [
            {"type": "route_to_pool", "pool": "csm-pool", "priority": "high", "sla_hours": 24}
        ],
        **changes,
    }


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code and set(error) == {"code", "message", "fields"}
    return error


def ok(response, model, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    data = response.get_json()
    model.model_validate(data)
    return data


@pytest.fixture
def lead(app, api_token):
    return api_token(UserFactory(role="lead"))


@pytest.fixture
def viewer(app, api_token):
    return api_token(UserFactory(role="viewer"))


def test_create_answers_201_with_the_rule(client, lead):
    response = client.post(RULES, json=body(description="Why"), headers=lead)
    data = ok(response, RuleOut, 201)
    assert set(data) == KEYS
    assert (data["name"], data["kind"], data["mode"], data["version"], data["enabled"]) == (
        "Quiet before renewal",
        "risk",
        "scheduled",
        1,
        True,
    )
    assert data["condition"] == CONDITION and data["key"] is None
    assert data["actions"][0]["pool"] == "csm-pool"
    assert response.headers["Location"].endswith(f"{RULES}/{data['id']}")
    assert (
        db.session.scalar(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "rule", AuditEvent.entity_id == str(data["id"])
            )
        )
        == "created"
    )


def test_a_bad_condition_answers_422_with_the_clause_path(client, lead):
    condition = {
        "all": [
            {"signal": "days_since_last_login", "op": ">", "value": 14},
            {"signal": "foo", "op": "=", "value": 1},
        ]
    }
    fields = assert_error(
        client.post(RULES, json=body(condition=condition), headers=lead), 422, "validation_error"
    )["fields"]
    assert fields["condition"] == "condition.all[1]: unknown signal 'foo'"
    assert fields["condition.all[1]"] == "unknown signal 'foo'"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {"actions": [{"type": "route_to_pool", "pool": "nobody"}]},
            "actions[0].pool",
            "unknown pool 'nobody'",
        ),
        ({"kind": "upsell"}, "kind", "Input should be"),
        ({"condition": [1]}, "condition", "object"),
        ({"mode": "event"}, "event_type", "Name the event type"),
        ({"once_policy": "cooldown"}, "cooldown_days", "whole days"),
        ({"surprise": 1}, "surprise", "Unknown field"),
        ({"key": "Bad Key"}, "key", "lower-case"),
    ],
)
def test_create_refusals(client, lead, changes, field, words):
    fields = assert_error(
        client.post(RULES, json=body(**changes), headers=lead), 422, "validation_error"
    )["fields"]
    assert words in fields[field]


def test_a_missing_condition_says_what_to_send(client, lead):
    data = body()
    del data["condition"]
    fields = assert_error(client.post(RULES, json=data, headers=lead), 422, "validation_error")[
        "fields"
    ]
    assert "Send the condition" in fields["condition"]


@pytest.mark.parametrize("role", ["viewer", "csm"])
def test_only_leads_and_admins_write(client, api_token, role):
    headers = api_token(UserFactory(role=role))
    rule = RuleFactory(name="Guarded")
    db.session.commit()
    assert_error(client.post(RULES, json=body(), headers=headers), 403, "forbidden")
    assert_error(
        client.put(f"{RULES}/{rule.id}", json={"version": 1, "name": "x"}, headers=headers),
        403,
        "forbidden",
    )
    assert_error(client.delete(f"{RULES}/{rule.id}", headers=headers), 403, "forbidden")
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).name == "Guarded"


def test_admins_write_too(client, api_token):
    assert (
        client.post(RULES, json=body(), headers=api_token(UserFactory(role="admin"))).status_code
        == 201
    )


def test_any_token_reads_lists_and_filters(client, viewer):
    RuleFactory(name="Zz expansion on", kind="expansion")
    off = RuleFactory(name="Zz expansion off", kind="expansion", enabled=False)
    db.session.commit()
    data = ok(client.get(f"{RULES}?kind=expansion&enabled=false", headers=viewer), RulePage)
    assert [item["id"] for item in data["items"]] == [off.id]
    assert (data["total"], data["page"], data["per_page"]) == (1, 1, 50)
    everything = ok(client.get(f"{RULES}?per_page=2&page=2", headers=viewer), RulePage)
    assert len(everything["items"]) == 2 and everything["total"] >= 19  # the built-ins too
    got = ok(client.get(f"{RULES}/{off.id}", headers=viewer), RuleOut)
    assert got["name"] == "Zz expansion off" and got["enabled"] is False


def test_list_refuses_unknown_filters(client, viewer):
    fields = assert_error(
        client.get(f"{RULES}?kind=upsell&colour=red", headers=viewer), 422, "validation_error"
    )["fields"]
    assert {"kind", "colour"} <= set(fields)


def test_unknown_rules_are_404(client, lead):
    assert_error(client.get(f"{RULES}/999999", headers=lead), 404, "not_found")
    assert_error(client.put(f"{RULES}/999999", json={"version": 1}, headers=lead), 404, "not_found")
    assert_error(client.delete(f"{RULES}/999999", headers=lead), 404, "not_found")
    assert_error(client.post(f"{RULES}/999999/preview", headers=lead), 404, "not_found")


def test_put_changes_what_is_sent_and_keeps_the_rest(client, lead):
    created = client.post(RULES, json=body(description="Keep me"), headers=lead).get_json()
    data = ok(
        client.put(
            f"{RULES}/{created['id']}",
            json={
                "version": 1,
                "name": "Renamed",
                "once_policy": "cooldown",
                "cooldown_days": 14,
            },
            headers=lead,
        ),
        RuleOut,
    )
    assert (data["name"], data["description"], data["version"], data["cooldown_days"]) == (
        "Renamed",
        "Keep me",
        2,
        14,
    )
    assert data["condition"] == CONDITION


def test_snooze_days_and_the_churned_flag_default_change_and_are_refused(client, lead):
    created = ok(client.post(RULES, json=body(), headers=lead), RuleOut, 201)
    assert (created["snooze_days"], created["include_churned"]) == (14, False)
    data = ok(
        client.put(
            f"{RULES}/{created['id']}",
            json={"version": 1, "snooze_days": 30, "include_churned": True},
            headers=lead,
        ),
        RuleOut,
    )
    assert (data["snooze_days"], data["include_churned"], data["name"]) == (
        30,
        True,
        "Quiet before renewal",
    )
    error = assert_error(
        client.post(RULES, json=body(snooze_days=400), headers=lead), 422, "validation_error"
    )
    assert error["fields"] == {
        "snooze_days": "Enter the snooze in whole days, 0 to 365 (0: no snooze)."
    }
    error = assert_error(
        client.post(RULES, json=body(snooze_days=-1), headers=lead), 422, "validation_error"
    )
    assert "snooze_days" in error["fields"]


def test_a_stale_put_is_409_and_changes_nothing(client, lead):
    created = client.post(RULES, json=body(), headers=lead).get_json()
    url = f"{RULES}/{created['id']}"
    assert client.put(url, json={"version": 1, "name": "Theirs"}, headers=lead).status_code == 200
    error = assert_error(
        client.put(url, json={"version": 1, "name": "Mine"}, headers=lead), 409, "conflict"
    )
    assert "version 2" in error["fields"]["version"]
    assert client.get(url, headers=lead).get_json()["name"] == "Theirs"


def test_put_needs_the_version_and_refuses_a_bad_condition(client, lead):
    created = client.post(RULES, json=body(), headers=lead).get_json()
    url = f"{RULES}/{created['id']}"
    fields = assert_error(
        client.put(url, json={"name": "x"}, headers=lead), 422, "validation_error"
    )["fields"]
    assert "Send the version you read" in fields["version"]
    fields = assert_error(
        client.put(
            url,
            json={
                "version": 1,
                "condition": {"not": {"signal": "health_band", "op": ">", "value": 3}},
            },
            headers=lead,
        ),
        422,
        "validation_error",
    )["fields"]
    assert fields["condition"].startswith("condition.not: > compares numbers")
    assert "condition.not" in fields


def test_delete_answers_204(client, lead):
    created = client.post(RULES, json=body(), headers=lead).get_json()
    response = client.delete(f"{RULES}/{created['id']}", headers=lead)
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(f"{RULES}/{created['id']}", headers=lead), 404, "not_found")


@pytest.fixture
def quiet_accounts(app):
    now = utcnow()
    csm = UserFactory(name="Casey CSM", email="casey@example.com")
    for name, arr, csm_user, values in (
        ("Globex", 9_000_000, csm, {"days_since_last_login": 21, "days_to_renewal": 45}),
        ("Initech", 500_000, None, {"days_since_last_login": 30, "days_to_renewal": 12}),
        ("Hooli", 700_000, None, {"days_since_last_login": 1, "days_to_renewal": 12}),
    ):
        account = AccountFactory(name=name, arr_minor=arr, csm=csm_user)
        db.session.add(
            AccountSignals(account_id=account.id, computed_at=now - timedelta(hours=1), **values)
        )
    db.session.commit()


def test_preview_an_unsaved_condition(client, viewer, quiet_accounts):
    data = ok(
        client.post(f"{RULES}/preview", json={"condition": CONDITION}, headers=viewer), PreviewOut
    )
    assert (data["count"], data["accounts_with_signals"], data["limit"]) == (2, 3, 50)
    assert data["signals"] == ["days_since_last_login", "days_to_renewal"]
    first = data["accounts"][0]
    assert (first["name"], first["csm"]) == (
        "Globex",
        {"user_email": "casey@example.com", "name": "Casey CSM"},
    )
    assert first["values"] == {"days_since_last_login": 21, "days_to_renewal": 45}
    assert first["clauses"][0] == {
        "signal": "days_since_last_login",
        "op": ">",
        "value": 14,
        "actual": 21,
        "result": True,
    }
    assert data["accounts"][1]["csm"] is None


def test_preview_a_saved_rule_with_a_limit(client, viewer, quiet_accounts):
    rule = RuleFactory(condition=CONDITION)
    db.session.commit()
    data = ok(client.post(f"{RULES}/{rule.id}/preview?limit=1", headers=viewer), PreviewOut)
    assert (data["count"], len(data["accounts"])) == (2, 1)


def test_preview_refusals(client, viewer):
    fields = assert_error(
        client.post(
            f"{RULES}/preview",
            json={"condition": {"any": [{"signal": "nps_category", "op": "=", "value": "fan"}]}},
            headers=viewer,
        ),
        422,
        "validation_error",
    )["fields"]
    assert fields["condition"].startswith("condition.any[0]: 'fan' is not a value")
    assert "condition.any[0]" in fields
    fields = assert_error(
        client.post(f"{RULES}/preview", json={"condition": CONDITION, "limit": 0}, headers=viewer),
        422,
        "validation_error",
    )["fields"]
    assert "limit" in fields
    assert_error(
        client.post(
            f"{RULES}/preview", data="nope", headers={**viewer, "Content-Type": "application/json"}
        ),
        400,
        "bad_request",
    )


def test_rules_need_a_token(client):
    assert_error(client.get(RULES), 401, "unauthorized")


def test_the_rules_routes_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/rules"])
    assert {"get", "put", "delete"} <= set(paths["/rules/{rule_id}"])
    assert "post" in paths["/rules/{rule_id}/preview"] and "post" in paths["/rules/preview"]
    assert paths["/rules/{rule_id}"]["put"]["tags"] == ["Rules"]
