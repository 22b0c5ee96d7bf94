"""Pools and queues over the API: list, create, read, change, the queue with filters and
paging, claim / reassign / resolve, and every refusal in the standard error shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from cs_app.api.pools import PoolList, PoolOut, QueueItemOut, QueuePageOut
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.pools.models import CsmPool, QueueItem
from cs_app.triggers.rules.models import RuleFiring
from tests.factories import (
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFiringFactory,
    UserFactory,
)

POOLS = "/api/v1/pools"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


def ok(response, model, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    model.model_validate(body)
    return body


@pytest.fixture
def team(app):
    lead = UserFactory(role="lead", email="lena@example.com")
    pool = PoolFactory(lead=lead, key="rescue", name="Rescue")
    ana = PoolMemberFactory(
        pool=pool,
        position=0,
        capacity=2,
        segments=["SMB"],
        user=UserFactory(email="ana@example.com", name="Ana"),
    ).user
    bo = PoolMemberFactory(
        pool=pool, position=1, capacity=1, user=UserFactory(email="bo@example.com", name="Bo")
    ).user
    db.session.commit()
    return {
        "pool": pool,
        "lead": lead,
        "ana": ana,
        "bo": bo,
        "cy": UserFactory(email="cy@example.com"),
        "viewer": UserFactory(role="viewer"),
    }


def new_item(team, **values) -> QueueItem:
    values.setdefault("sla_due_at", utcnow() + timedelta(hours=4))
    item = QueueItemFactory(pool=team["pool"], **values)
    db.session.commit()
    return item


# --- pools ----------------------------------------------------------------------------------


def test_list_and_read_pools_with_loads(client, api_token, team):
    new_item(team, assignee=team["ana"])
    new_item(team, assignee=None, sla_due_at=utcnow() - timedelta(hours=1))
    headers = api_token(team["viewer"])
    body = ok(client.get(POOLS, headers=headers), PoolList)
    rescue = next(p for p in body["items"] if p["key"] == "rescue")
    assert rescue["lead"] == {"user_email": "lena@example.com", "name": team["lead"].name}
    assert [
        (m["user_email"], m["open_items"], m["capacity"], m["segments"]) for m in rescue["members"]
    ] == [("ana@example.com", 1, 2, ["SMB"]), ("bo@example.com", 0, 1, [])]
    assert (rescue["open_items"], rescue["unassigned"], rescue["breached"]) == (2, 1, 1)
    assert ok(client.get(f"{POOLS}/{team['pool'].id}", headers=headers), PoolOut) == rescue
    assert_error(client.get(f"{POOLS}/999999", headers=headers), 404, "not_found")


def test_a_lead_creates_a_pool(client, api_token, team):
    response = client.post(
        POOLS,
        headers=api_token(team["lead"]),
        json={
            "name": "Renewal desk",
            "strategy": "round_robin",
            "lead_email": "LENA@example.com",
            "default_sla_hours": 48,
            "members": [
                {"user_email": "ana@example.com", "capacity": 5, "segments": ["Enterprise"]},
                {"user_email": "bo@example.com", "away": True},
            ],
        },
    )
    body = ok(response, PoolOut, 201)
    assert response.headers["Location"].endswith(f"{POOLS}/{body['id']}")
    assert (body["key"], body["strategy"], body["default_sla_hours"]) == (
        "renewal-desk",
        "round_robin",
        48,
    )
    assert [(m["user_email"], m["capacity"], m["away"]) for m in body["members"]] == [
        ("ana@example.com", 5, False),
        ("bo@example.com", 20, True),
    ]


def test_a_refused_pool_names_the_keys_sent(client, api_token, team):
    response = client.post(
        POOLS,
        headers=api_token(team["lead"]),
        json={
            "name": "Desk",
            "key": "rescue",
            "lead_email": "ghost@example.com",
            "members": [
                {"user_email": "nobody@example.com"},
                {"user_email": "ana@example.com"},
                {"user_email": "ana@example.com"},
            ],
        },
    )
    fields = assert_error(response, 422, "validation_error")["fields"]
    assert fields == {
        "key": "The key 'rescue' is taken by another pool; choose another.",
        "lead_email": "No user with the email ghost@example.com.",
        "members.0.user_email": "No user with the email nobody@example.com.",
        "members.2.user_email": "Ana is listed twice.",
    }


def test_a_malformed_pool_is_refused_by_the_schema(client, api_token, team):
    response = client.post(
        POOLS,
        headers=api_token(team["lead"]),
        json={
            "strategy": "lottery",
            "members": [{"capacity": 0, "segments": ["Startup"]}],
            "colour": "blue",
        },
    )
    fields = assert_error(response, 422, "validation_error")["fields"]
    assert fields["name"] == "Give the pool a name."
    assert "strategy" in fields and "colour" in fields
    assert fields["members.0.user_email"] == "This field is required."
    assert "members.0.capacity" in fields and "members.0.segments.0" in fields


def test_only_leads_and_admins_change_pools(client, api_token, team):
    for user in (team["ana"], team["viewer"]):
        assert_error(
            client.post(POOLS, headers=api_token(user), json={"name": "Mine"}), 403, "forbidden"
        )
        assert_error(
            client.put(
                f"{POOLS}/{team['pool'].id}", headers=api_token(user), json={"name": "Mine"}
            ),
            403,
            "forbidden",
        )
    assert db.session.scalar(select(CsmPool).where(CsmPool.name == "Mine")) is None


def test_put_replaces_the_definition_and_the_key_stays(client, api_token, team):
    headers = api_token(UserFactory(role="admin"))
    url = f"{POOLS}/{team['pool'].id}"
    body = ok(
        client.put(
            url,
            headers=headers,
            json={
                "name": "Rescue team",
                "strategy": "segment_first",
                "members": [{"user_email": "bo@example.com", "capacity": 3}],
            },
        ),
        PoolOut,
    )
    assert (body["name"], body["key"], body["lead"]) == ("Rescue team", "rescue", None)
    assert [m["user_email"] for m in body["members"]] == ["bo@example.com"]
    fields = assert_error(
        client.put(url, headers=headers, json={"name": "X", "key": "other"}),
        422,
        "validation_error",
    )["fields"]
    assert "stays 'rescue'" in fields["key"]


# --- the queue ------------------------------------------------------------------------------


def test_the_queue_filters_and_pages(client, api_token, team):
    items = [
        new_item(team, assignee=team["ana"], sla_due_at=utcnow() + timedelta(hours=h))
        for h in (3, 1, 2)
    ]
    done = new_item(team, assignee=team["bo"], status="resolved", outcome="saved")
    headers = api_token(team["viewer"])
    url = f"{POOLS}/{team['pool'].id}/queue"
    body = ok(client.get(f"{url}?per_page=2", headers=headers), QueuePageOut)
    assert [i["id"] for i in body["items"]] == [items[1].id, items[2].id]
    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 2)
    assert body["counts"]["all"] == 4 and body["counts"]["resolved"] == 1
    second = ok(client.get(f"{url}?per_page=2&page=2", headers=headers), QueuePageOut)
    assert [i["id"] for i in second["items"]] == [items[0].id]
    assert ok(client.get(f"{url}?per_page=2&page=3", headers=headers), QueuePageOut)["items"] == []
    resolved = ok(client.get(f"{url}?status=resolved", headers=headers), QueuePageOut)
    assert [i["id"] for i in resolved["items"]] == [done.id]
    assert resolved["items"][0]["outcome"] == "saved"
    assert resolved["items"][0]["assignee"]["user_email"] == "bo@example.com"
    fields = assert_error(
        client.get(f"{url}?status=lost&colour=1", headers=headers), 422, "validation_error"
    )["fields"]
    assert set(fields) == {"status", "colour"}


def test_claim_reassign_resolve(client, api_token, team):
    firing = RuleFiringFactory()
    item = new_item(team, assignee=None, firing_id=firing.id, reason={"usage_30d": 3})
    url = f"/api/v1/queue/{item.id}"
    read = item.version
    claimed = ok(client.post(f"{url}/claim", headers=api_token(team["ana"])), QueueItemOut)
    assert (claimed["status"], claimed["assignee"]["user_email"]) == ("claimed", "ana@example.com")
    assert claimed["reason"] == {"usage_30d": 3} and claimed["version"] == read + 1
    moved = ok(
        client.post(
            f"{url}/reassign",
            headers=api_token(team["ana"]),
            json={"user_email": "BO@example.com", "version": claimed["version"]},
        ),
        QueueItemOut,
    )
    assert (moved["status"], moved["assignee"]["user_email"]) == ("open", "bo@example.com")
    resolved = ok(
        client.post(
            f"{url}/resolve",
            headers=api_token(team["bo"]),
            json={"outcome": "no_action", "notes": "Already renewed"},
        ),
        QueueItemOut,
    )
    assert (resolved["status"], resolved["outcome"], resolved["notes"]) == (
        "resolved",
        "no_action",
        "Already renewed",
    )
    assert resolved["resolved_by"]["user_email"] == "bo@example.com"
    db.session.expire_all()
    assert db.session.get(RuleFiring, firing.id).status == "closed"


def test_an_item_lists_its_reasons_with_their_snooze(client, api_token, team):
    firing = RuleFiringFactory()
    item = new_item(
        team, assignee=team["ana"], rule=firing.rule, firing_id=firing.id, reason={"usage_30d": 3}
    )
    url = f"/api/v1/queue/{item.id}"
    resolved = ok(
        client.post(f"{url}/resolve", headers=api_token(team["ana"]), json={"outcome": "saved"}),
        QueueItemOut,
    )
    [reason] = resolved["reasons"]
    assert (reason["rule_id"], reason["firing_id"], reason["matched"]) == (
        firing.rule_id,
        firing.id,
        {"usage_30d": 3},
    )
    assert reason["snoozed_until"] is not None  # the rule's 14 days from now


def test_reopening_over_the_api_ends_the_snooze(client, api_token, team):
    firing = RuleFiringFactory()
    item = new_item(team, assignee=team["ana"], rule=firing.rule, firing_id=firing.id)
    url = f"/api/v1/queue/{item.id}"
    resolved = ok(
        client.post(f"{url}/resolve", headers=api_token(team["ana"]), json={"outcome": "saved"}),
        QueueItemOut,
    )
    assert resolved["reasons"][0]["snoozed_until"] is not None
    reopened = ok(client.post(f"{url}/reopen", headers=api_token(team["bo"])), QueueItemOut)
    assert (reopened["status"], reopened["outcome"]) == ("open", None)
    assert reopened["assignee"]["user_email"] == "ana@example.com"
    assert reopened["reasons"][0]["snoozed_until"] is None
    assert reopened["version"] > resolved["version"]


def test_reopen_refusals(client, api_token, team):
    item = new_item(team, assignee=team["ana"])
    url = f"/api/v1/queue/{item.id}/reopen"
    # an open item cannot be reopened
    assert_error(client.post(url, headers=api_token(team["ana"])), 409, "conflict")
    client.post(
        f"/api/v1/queue/{item.id}/resolve",
        headers=api_token(team["ana"]),
        json={"outcome": "no_action"},
    )
    assert_error(client.post(url, headers=api_token(team["cy"])), 403, "forbidden")
    assert_error(client.post(url, headers=api_token(team["viewer"])), 403, "forbidden")
    assert_error(
        client.post(url, headers=api_token(team["ana"]), json={"version": 999}), 409, "conflict"
    )
    assert_error(
        client.post(url, headers=api_token(team["ana"]), json={"version": "x"}),
        422,
        "validation_error",
    )
    new_item(team, account=item.account, assignee=team["bo"])  # the account's new open item
    assert_error(client.post(url, headers=api_token(team["ana"])), 409, "conflict")
    assert_error(
        client.post("/api/v1/queue/999999/reopen", headers=api_token(team["ana"])), 404, "not_found"
    )


def test_queue_refusals(client, api_token, team):
    item = new_item(team, assignee=team["ana"])
    url = f"/api/v1/queue/{item.id}"
    assert_error(client.post(f"{url}/claim", headers=api_token(team["cy"])), 403, "forbidden")
    assert_error(
        client.post(f"{url}/claim", headers=api_token(team["viewer"]), json={}), 403, "forbidden"
    )
    assert_error(client.post(f"{url}/claim", headers=api_token(team["bo"])), 409, "conflict")
    assert_error(
        client.post(
            f"{url}/claim", headers=api_token(team["ana"]), json={"version": item.version + 5}
        ),
        409,
        "conflict",
    )
    assert_error(
        client.post(
            f"{url}/reassign", headers=api_token(team["bo"]), json={"user_email": "bo@example.com"}
        ),
        403,
        "forbidden",
    )
    fields = assert_error(
        client.post(
            f"{url}/reassign", headers=api_token(team["ana"]), json={"user_email": "cy@example.com"}
        ),
        422,
        "validation_error",
    )["fields"]
    assert fields == {"user_email": f"{team['cy'].name} is not a member of Rescue."}
    fields = assert_error(
        client.post(
            f"{url}/reassign",
            headers=api_token(team["ana"]),
            json={"user_email": "ghost@example.com"},
        ),
        422,
        "validation_error",
    )["fields"]
    assert fields == {"user_email": "No user with the email ghost@example.com."}
    fields = assert_error(
        client.post(f"{url}/resolve", headers=api_token(team["ana"]), json={"notes": "x"}),
        422,
        "validation_error",
    )["fields"]
    assert fields == {"outcome": "Choose an outcome: saved, churned, expanded or no action."}
    assert (
        "outcome"
        in assert_error(
            client.post(f"{url}/resolve", headers=api_token(team["ana"]), json={"outcome": "won"}),
            422,
            "validation_error",
        )["fields"]
    )
    assert_error(
        client.post(
            f"{url}/resolve",
            headers=api_token(team["ana"]),
            json={"outcome": "saved", "version": item.version - 1},
        ),
        409,
        "conflict",
    )
    ok(
        client.post(f"{url}/resolve", headers=api_token(team["ana"]), json={"outcome": "saved"}),
        QueueItemOut,
    )
    error = assert_error(
        client.post(f"{url}/resolve", headers=api_token(team["lead"]), json={"outcome": "churned"}),
        409,
        "conflict",
    )
    assert "already resolved" in error["message"]
    assert_error(
        client.post("/api/v1/queue/999999/claim", headers=api_token(team["ana"])), 404, "not_found"
    )


def test_the_routes_are_documented_under_pools(client):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = {
        ("/pools", "get"),
        ("/pools", "post"),
        ("/pools/{pool_id}", "get"),
        ("/pools/{pool_id}", "put"),
        ("/pools/{pool_id}/queue", "get"),
        ("/queue/{queue_item_id}/claim", "post"),
        ("/queue/{queue_item_id}/resolve", "post"),
        ("/queue/{queue_item_id}/reassign", "post"),
        ("/queue/{queue_item_id}/reopen", "post"),
    }
    for path, method in paths:
        operation = document["paths"][path][method]
        assert operation["tags"] == ["Pools"], path
    assert "409" in document["paths"]["/queue/{queue_item_id}/resolve"]["post"]["responses"]
