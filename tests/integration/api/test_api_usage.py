"""Usage data over the API: bulk events and metric values, per-item refusals, who may push."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cs_app.accounts.ingest import MAX_BATCH
from cs_app.accounts.usage_models import MetricValue, UsageEvent
from cs_app.api import responses
from cs_app.db_types import utcnow
from cs_app.extensions import db
from tests.factories import AccountFactory, UserFactory

EVENTS = "/api/v1/events"
METRICS = "/api/v1/metrics"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


def bulk(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    responses.BulkResultOut.model_validate(body)
    return body


def stored_events() -> list:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(UsageEvent.event_id, UsageEvent.event_type, UsageEvent.user_ref).order_by(
                UsageEvent.event_id
            )
        )
    )


def stored_metrics() -> list:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(MetricValue.metric_key, MetricValue.measured_on, MetricValue.value).order_by(
                MetricValue.metric_key, MetricValue.measured_on
            )
        )
    )


def at(hours_ago: int = 1) -> str:
    return (utcnow() - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")


def event(event_id: str, account: str = "CRM-001", kind: str = "login", **extra) -> dict:
    return {"id": event_id, "account": account, "type": kind, "at": at(), **extra}


@pytest.fixture
def accounts(app):
    return AccountFactory(external_id="CRM-001"), AccountFactory(external_id="CRM-002")


@pytest.fixture
def integration(app, api_token):
    return api_token(UserFactory(role="lead", email="billing-sync@example.com"))


# --- events ---------------------------------------------------------------------------------


def test_events_are_stored_and_counted(app, client, accounts, integration):
    body = bulk(
        client.post(
            EVENTS,
            headers=integration,
            json={
                "events": [
                    event("e1", user="ana@northwind.example"),
                    event("e2", "CRM-002", "feature_used", properties={"feature": "reports"}),
                    event("e3", kind="support_ticket", properties={"sentiment": "negative"}),
                ]
            },
        )
    )
    assert body == {"accepted": 3, "duplicates": 0, "errors": []}
    assert stored_events() == [
        ("e1", "login", "ana@northwind.example"),
        ("e2", "feature_used", None),
        ("e3", "support_ticket", None),
    ]


def test_sending_the_same_events_again_counts_duplicates(app, client, accounts, integration):
    batch = {"events": [event("e1"), event("e2"), event("e3", "CRM-002")]}
    first = bulk(client.post(EVENTS, headers=integration, json=batch))
    again = bulk(client.post(EVENTS, headers=integration, json=batch))
    assert first == {"accepted": 3, "duplicates": 0, "errors": []}
    assert again == {"accepted": 0, "duplicates": 3, "errors": []}
    assert len(stored_events()) == 3


def test_a_repeated_id_within_a_batch_is_a_duplicate(app, client, accounts, integration):
    body = bulk(
        client.post(
            EVENTS, headers=integration, json={"events": [event("e1"), event("e1"), event("e2")]}
        )
    )
    assert body == {"accepted": 2, "duplicates": 1, "errors": []}


def test_bad_events_are_refused_by_index_and_the_good_ones_kept(app, client, accounts, integration):
    body = bulk(
        client.post(
            EVENTS,
            headers=integration,
            json={
                "events": [
                    event("good-1"),
                    event("e-ghost", account="NOPE"),
                    {"account": "CRM-001", "type": "login", "at": at()},
                    event("e-when", at="yesterday"),
                    "login",
                    event("e-nps", kind="nps_response", properties={"score": 11}),
                    event("e-extra", source="crm"),
                    event("e-type", kind="Log In"),
                    event("e-feature", kind="feature_used"),
                    event("good-2", "CRM-002"),
                ]
            },
        )
    )
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    errors = {error["index"]: error["message"] for error in body["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert errors[1] == "no account has the external_id 'NOPE'"
    assert errors[2].startswith("id is required")
    assert errors[3] == "at 'yesterday' is not an ISO 8601 time"
    assert errors[4] == "each event must be a JSON object"
    assert "properties.score" in errors[5]
    assert errors[6] == "unknown field(s): source"
    assert errors[7].startswith("type is required")
    assert "properties.feature" in errors[8]
    assert [row[0] for row in stored_events()] == ["good-1", "good-2"]


def test_a_batch_of_only_bad_events_still_answers_200(app, client, accounts, integration):
    body = bulk(
        client.post(EVENTS, headers=integration, json={"events": [event("e1", account="NOPE")]})
    )
    assert (body["accepted"], body["duplicates"], len(body["errors"])) == (0, 0, 1)
    assert stored_events() == []


def test_an_empty_batch_is_accepted(app, client, integration):
    assert bulk(client.post(EVENTS, headers=integration, json={"events": []})) == {
        "accepted": 0,
        "duplicates": 0,
        "errors": [],
    }


@pytest.mark.parametrize(
    "data, content_type, message_part",
    [
        ("", "application/json", "Send a JSON object"),
        ("{not json", "application/json", "not valid JSON"),
        ('[{"id": "e1"}]', "application/json", "must be a JSON object"),
    ],
)
def test_events_body_that_is_not_an_object_is_400(
    app, client, integration, data, content_type, message_part
):
    response = client.post(EVENTS, headers=integration, data=data, content_type=content_type)
    assert message_part in assert_error(response, 400, "bad_request")["message"]


@pytest.mark.parametrize(
    "payload, field, message_part",
    [
        ({}, "events", 'Send the events as {"events"'),
        ({"events": {"id": "e1"}}, "events", "valid array"),
        ({"events": None}, "events", "valid array"),
        ({"events": [], "metrics": []}, "metrics", "Unknown field 'metrics'"),
    ],
)
def test_events_envelope_refusals_are_422(app, client, integration, payload, field, message_part):
    error = assert_error(
        client.post(EVENTS, headers=integration, json=payload), 422, "validation_error"
    )
    assert message_part in error["fields"][field]


def test_a_batch_over_the_limit_is_refused_whole(app, client, accounts, integration):
    events = [event(f"e{n}") for n in range(MAX_BATCH + 1)]
    error = assert_error(
        client.post(EVENTS, headers=integration, json={"events": events}), 422, "validation_error"
    )
    assert error["fields"]["events"] == (
        f"A batch holds at most {MAX_BATCH} events; this one has {MAX_BATCH + 1}. "
        f"Split it into several requests."
    )
    assert stored_events() == []


@pytest.mark.parametrize("role", ["viewer", "csm"])
@pytest.mark.parametrize(
    "url, payload",
    [
        (
            EVENTS,
            {
                "events": [
                    {
                        "id": "e1",
                        "account": "CRM-001",
                        "type": "login",
                        "at": "2026-11-20T10:00:00Z",
                    }
                ]
            },
        ),
        (
            METRICS,
            {
                "metrics": [
                    {"account": "CRM-001", "key": "seats_used", "value": 5, "date": "2026-11-20"}
                ]
            },
        ),
    ],
)
def test_viewers_and_csms_may_not_push_usage_data(
    app, client, api_token, accounts, role, url, payload
):
    csm_of_the_account = UserFactory(role=role)
    accounts[0].csm_id = csm_of_the_account.id
    response = client.post(url, headers=api_token(csm_of_the_account), json=payload)
    assert "lead or admin" in assert_error(response, 403, "forbidden")["message"]
    assert stored_events() == [] and stored_metrics() == []


def test_admins_may_push_and_anonymous_callers_may_not(app, client, api_token, accounts):
    admin = api_token(UserFactory(role="admin"))
    assert bulk(client.post(EVENTS, headers=admin, json={"events": [event("e1")]}))["accepted"] == 1
    assert_error(client.post(EVENTS, json={"events": [event("e2")]}), 401, "unauthorized")
    assert [row[0] for row in stored_events()] == ["e1"]


# --- metrics --------------------------------------------------------------------------------


def metric(
    key: str = "seats_used", value: float = 42, day: str = "2026-11-20", account: str = "CRM-001"
) -> dict:
    return {"account": account, "key": key, "value": value, "date": day}


def test_metrics_are_stored_replaced_and_counted(app, client, accounts, integration):
    first = bulk(
        client.post(
            METRICS,
            headers=integration,
            json={
                "metrics": [
                    metric(),
                    metric("quota_used_pct", 81.5),
                    metric(day="2026-11-19", value=40),
                ]
            },
        )
    )
    assert first == {"accepted": 3, "duplicates": 0, "errors": []}
    again = bulk(
        client.post(
            METRICS, headers=integration, json={"metrics": [metric(), metric("quota_used_pct", 90)]}
        )
    )
    assert again == {"accepted": 1, "duplicates": 1, "errors": []}
    assert [(key, day.isoformat(), value) for key, day, value in stored_metrics()] == [
        ("quota_used_pct", "2026-11-20", 90.0),
        ("seats_used", "2026-11-19", 40.0),
        ("seats_used", "2026-11-20", 42.0),
    ]


def test_bad_metric_values_are_refused_by_index(app, client, accounts, integration):
    body = bulk(
        client.post(
            METRICS,
            headers=integration,
            json={
                "metrics": [
                    metric(value="5"),
                    metric(day="20/11/2026"),
                    metric(key="Seats Used"),
                    metric(account="NOPE"),
                    metric(value=True),
                    {"account": "CRM-001", "key": "seats_used", "value": 1},
                    7,
                    metric(),
                ]
            },
        )
    )
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    errors = {error["index"]: error["message"] for error in body["errors"]}
    assert errors == {
        0: "value must be a finite number",
        1: "date '20/11/2026' is not an ISO 8601 date (YYYY-MM-DD)",
        2: "key is required: lowercase letters, digits and _ . : - (e.g. seats_used)",
        3: "no account has the external_id 'NOPE'",
        4: "value must be a finite number",
        5: "date must be an ISO 8601 date such as 2026-11-21",
        6: "each metric value must be a JSON object",
    }
    assert len(stored_metrics()) == 1


@pytest.mark.parametrize(
    "payload, message_part",
    [
        ({}, 'Send the values as {"metrics"'),
        ({"metrics": "seats_used=5"}, "valid array"),
    ],
)
def test_metrics_envelope_refusals_are_422(app, client, integration, payload, message_part):
    error = assert_error(
        client.post(METRICS, headers=integration, json=payload), 422, "validation_error"
    )
    assert message_part in error["fields"]["metrics"]


def test_metrics_body_that_is_not_an_object_is_400(app, client, integration):
    response = client.post(METRICS, headers=integration, json=[metric()])
    assert_error(response, 400, "bad_request")


def test_a_metric_batch_over_the_limit_is_refused_whole(app, client, accounts, integration):
    metrics = [metric(value=n) for n in range(MAX_BATCH + 1)]
    error = assert_error(
        client.post(METRICS, headers=integration, json={"metrics": metrics}),
        422,
        "validation_error",
    )
    assert f"at most {MAX_BATCH} metric values" in error["fields"]["metrics"]
    assert db.session.scalar(select(func.count(MetricValue.id))) == 0


def test_a_batch_costs_a_fixed_number_of_statements(app, client, integration, count_queries):
    for n in range(20):
        AccountFactory(external_id=f"BULK-{n}")
    db.session.commit()

    def statements(batch_id: str, size: int) -> int:
        events = [event(f"{batch_id}-{n}", account=f"BULK-{n % 20}") for n in range(size)]
        with count_queries() as counter:
            assert (
                bulk(client.post(EVENTS, headers=integration, json={"events": events}))["accepted"]
                == size
            )
        return counter.count

    statements("warm", 1)  # the token's first use writes its last-used time
    assert statements("small", 10) == statements("large", 400)
