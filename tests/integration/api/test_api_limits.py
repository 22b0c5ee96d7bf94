"""Bulk usage data past what the database stores: each bad item is refused by its index and the
good items of the same batch are kept (SQLite and PostgreSQL alike), never a 500."""

from __future__ import annotations

import json

import pytest

from cs_app.accounts.ingest import MAX_PROPERTIES_BYTES
from cs_app.json_limits import MAX_JSON_DEPTH
from tests.factories import AccountFactory, UserFactory
from tests.integration.api.test_api_usage import (
    EVENTS,
    METRICS,
    bulk,
    event,
    stored_events,
    stored_metrics,
)


@pytest.fixture
def accounts(app):
    return AccountFactory(external_id="CRM-001"), AccountFactory(external_id="CRM-002")


@pytest.fixture
def integration(app, api_token):
    return api_token(UserFactory(role="lead", email="billing-sync@example.com"))


def nested(depth: int) -> dict:
    """A properties object ``depth`` levels of objects deep."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def post_raw(client, headers, url: str, body: str):
    return client.post(
        url, headers={**headers, "Content-Type": "application/json"}, data=body.encode()
    )


def assert_one_refused(body: dict, index: int, words: str) -> None:
    assert [error["index"] for error in body["errors"]] == [index], body
    assert words in body["errors"][0]["message"], body


@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:59:59-01:00",  # past the end of datetime once in UTC
        "0001-01-01T00:00:00+01:00",  # before its start
        "1850-06-01T00:00:00Z",
        "2300-01-01T00:00:00Z",
    ],
)
def test_a_time_outside_the_stored_years_is_refused_alone(client, accounts, integration, when):
    body = bulk(
        client.post(
            EVENTS,
            headers=integration,
            json={"events": [event("good-1"), event("bad", at=when), event("good-2")]},
        )
    )
    assert_one_refused(body, 1, "outside the years we store")
    assert body["accepted"] == 2
    assert [row.event_id for row in stored_events()] == ["good-1", "good-2"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 300, 1000, 5000])
def test_properties_nested_too_deep_are_refused_alone(client, accounts, integration, depth):
    body = bulk(
        client.post(
            EVENTS,
            headers=integration,
            json={"events": [event("good-1"), event("deep", properties=nested(depth))]},
        )
        if depth < 500
        else post_raw(
            client,
            integration,
            EVENTS,
            json.dumps({"events": [event("good-1"), event("deep")]})[:-3]
            + ', "properties": '
            + '{"a": ' * depth
            + "{}"
            + "}" * depth
            + "}]}",
        )
    )
    assert_one_refused(body, 1, "nests more than")
    assert [row.event_id for row in stored_events()] == ["good-1"]


def test_properties_as_deep_as_allowed_are_stored(client, accounts, integration):
    body = bulk(
        client.post(
            EVENTS,
            headers=integration,
            json={"events": [event("deep", properties=nested(MAX_JSON_DEPTH))]},
        )
    )
    assert body == {"accepted": 1, "duplicates": 0, "errors": []}


def test_properties_larger_than_the_cap_are_refused_alone(client, accounts, integration):
    big = {"blob": "x" * MAX_PROPERTIES_BYTES}
    body = bulk(
        client.post(
            EVENTS,
            headers=integration,
            json={"events": [event("big", properties=big), event("good-1")]},
        )
    )
    assert_one_refused(body, 0, f"at most {MAX_PROPERTIES_BYTES}")
    assert [row.event_id for row in stored_events()] == ["good-1"]


@pytest.mark.parametrize(
    "literal", ["1e400", "-1e400", "1" + "0" * 400, str(2**63), "Infinity", "NaN"]
)
def test_a_number_out_of_range_in_properties_is_refused_alone(
    client, accounts, integration, literal
):
    body = json.dumps(
        {"events": [event("good-1"), event("huge", properties={"n": "PLACEHOLDER"})]}
    ).replace('"PLACEHOLDER"', literal)
    response = post_raw(client, integration, EVENTS, body)
    if literal in ("Infinity", "NaN"):  # not JSON at all: the body is refused as a whole
        assert response.status_code == 400
        assert stored_events() == []
        return
    assert_one_refused(bulk(response), 1, "properties")
    assert [row.event_id for row in stored_events()] == ["good-1"]


@pytest.mark.parametrize(
    "field", ["id", "account", "user", "properties.note", "properties key", "properties list"]
)
def test_a_nul_character_in_any_string_is_refused_alone(client, accounts, integration, field):
    bad = event("bad-1")
    if field == "properties.note":
        bad["properties"] = {"note": "a\x00b"}
    elif field == "properties key":
        bad["properties"] = {"a\x00b": 1}
    elif field == "properties list":
        bad["properties"] = {"tags": ["ok", ["a\x00b"]]}
    else:
        bad[field] = bad.get(field, "ana") + "\x00"
    body = bulk(client.post(EVENTS, headers=integration, json={"events": [bad, event("good-1")]}))
    assert_one_refused(body, 0, "NUL")
    assert [row.event_id for row in stored_events()] == ["good-1"]


def metric(account: str = "CRM-001", key: str = "seats_used", value="7", day="2026-11-20"):
    return f'{{"account": "{account}", "key": "{key}", "value": {value}, "date": "{day}"}}'


@pytest.mark.parametrize(
    "value", ["1e400", "-1e400", "1" + "0" * 400, "-" + "1" * 400, "1.7976931348623157e308"]
)
def test_a_metric_value_beyond_float8_is_refused_alone(client, accounts, integration, value):
    body = f'{{"metrics": [{metric(value=value)}, {metric(key="nps")}]}}'
    result = bulk(post_raw(client, integration, METRICS, body))
    assert_one_refused(result, 0, "finite number")
    assert [row.metric_key for row in stored_metrics()] == ["nps"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1850-01-01"])
def test_a_metric_date_outside_the_stored_years_is_refused_alone(
    client, accounts, integration, day
):
    body = f'{{"metrics": [{metric(day=day)}, {metric(key="nps")}]}}'
    result = bulk(post_raw(client, integration, METRICS, body))
    assert_one_refused(result, 0, "outside the years we store")
    assert [row.metric_key for row in stored_metrics()] == ["nps"]


def test_a_nul_character_in_a_metric_account_is_refused_alone(client, accounts, integration):
    bad = metric(account="CRM-001\\u0000")
    body = f'{{"metrics": [{bad}, {metric(key="nps")}]}}'
    result = bulk(post_raw(client, integration, METRICS, body))
    assert_one_refused(result, 0, "NUL")
    assert [row.metric_key for row in stored_metrics()] == ["nps"]
