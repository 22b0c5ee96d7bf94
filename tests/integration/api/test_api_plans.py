"""Success plans over the API: create, read, change with versions, components, history, roles."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from cs_app.api import responses
from cs_app.extensions import db
from cs_app.plans.models import ActionItem, Contact, Plan, PlanChange
from tests.factories import (
    AccountFactory,
    ActionFactory,
    ContactFactory,
    MilestoneFactory,
    OutcomeFactory,
    PlanFactory,
    RiskFactory,
    StakeholderFactory,
    UserFactory,
)

API = "/api/v1"
PAST = "2020-01-10"
FUTURE = "2099-06-30"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


def fields_of(response) -> dict:
    return assert_error(response, 422, "validation_error")["fields"]


@pytest.fixture
def csm(app):
    return UserFactory(role="csm", email="carl.csm@example.com", name="Carl CSM")


@pytest.fixture
def plan(app, csm):
    account = AccountFactory(external_id="CRM-001", name="Northwind", csm_id=csm.id)
    return PlanFactory(
        account=account,
        owner=csm,
        title="FY27 plan",
        plan_type="hybrid",
        status="active",
        next_review_on=date(2099, 1, 1),
    )


@pytest.fixture
def headers(api_token, csm, plan):
    return api_token(csm)


def history_count(plan_id: int) -> int:
    return db.session.scalar(select(func.count(PlanChange.id)).where(PlanChange.plan_id == plan_id))


# --- creating plans -------------------------------------------------------------------------


def test_create_a_blank_plan(app, client, csm, plan, headers):
    response = client.post(
        f"{API}/accounts/CRM-001/plans",
        headers=headers,
        json={
            "title": "Expansion plan",
            "plan_type": "high-touch",
            "status": "active",
            "review_cadence": "quarterly",
            "summary": "Grow to 3 teams",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    responses.PlanOut.model_validate(body)
    assert response.headers["Location"].endswith(f"/api/v1/plans/{body['id']}")
    assert (body["title"], body["plan_type"], body["status"], body["review_cadence"]) == (
        "Expansion plan",
        "high-touch",
        "active",
        "quarterly",
    )
    assert body["owner"] == {"user_email": "carl.csm@example.com", "name": "Carl CSM"}
    assert body["account"] == {"external_id": "CRM-001", "name": "Northwind"}
    assert body["outcomes"] == [] and body["version"] >= 1


def test_create_a_plan_from_a_template(app, client, plan, headers):
    ContactFactory(account=plan.account, role="executive_sponsor", name="Sarah Chen")
    db.session.commit()
    response = client.post(
        f"{API}/accounts/CRM-001/plans", headers=headers, json={"template": "enterprise-high-touch"}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    responses.PlanOut.model_validate(body)
    assert body["template_key"] == "enterprise-high-touch"
    assert body["plan_type"] == "high-touch"
    assert len(body["milestones"]) == 6 and len(body["risks"]) == 3
    assert {s["person"]["name"] for s in body["stakeholders"]} == {"Sarah Chen", "Carl CSM"}


def test_create_plan_with_another_owner(app, client, plan, headers):
    UserFactory(role="lead", email="lena@example.com", name="Lena")
    db.session.commit()
    body = client.post(
        f"{API}/accounts/CRM-001/plans",
        headers=headers,
        json={"title": "x", "plan_type": "joint", "owner_email": "LENA@example.com"},
    ).get_json()
    assert body["owner"] == {"user_email": "lena@example.com", "name": "Lena"}


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({}, {"title", "plan_type"}),
        ({"title": "x"}, {"plan_type"}),
        ({"template": "no-such-template"}, {"template"}),
        ({"title": "x", "plan_type": "no-touch"}, {"plan_type"}),
        ({"title": "x", "plan_type": "joint", "status": "paused"}, {"status"}),
        ({"title": "x", "plan_type": "joint", "review_cadence": "daily"}, {"review_cadence"}),
        ({"title": "x", "plan_type": "joint", "owner_email": "ghost@example.com"}, {"owner_email"}),
        ({"title": "x", "plan_type": "joint", "owner": "Carl"}, {"owner"}),
    ],
)
def test_create_plan_refusals(app, client, plan, headers, payload, expected):
    before = db.session.scalar(select(func.count(Plan.id)))
    fields = fields_of(client.post(f"{API}/accounts/CRM-001/plans", json=payload, headers=headers))
    assert set(fields) == expected
    assert db.session.scalar(select(func.count(Plan.id))) == before


def test_unknown_template_names_the_known_ones(app, client, plan, headers):
    fields = fields_of(
        client.post(f"{API}/accounts/CRM-001/plans", json={"template": "gold"}, headers=headers)
    )
    assert "enterprise-high-touch" in fields["template"]


def test_a_viewer_cannot_own_a_plan(app, client, plan, headers):
    UserFactory(role="viewer", email="vic@example.com")
    db.session.commit()
    fields = fields_of(
        client.post(
            f"{API}/accounts/CRM-001/plans",
            headers=headers,
            json={"title": "x", "plan_type": "joint", "owner_email": "vic@example.com"},
        )
    )
    assert "CSM, lead or admin" in fields["owner_email"]


def test_list_an_accounts_plans(app, client, plan, headers):
    PlanFactory(account=plan.account, title="Older plan")
    db.session.commit()
    response = client.get(f"{API}/accounts/CRM-001/plans", headers=headers)
    body = response.get_json()
    responses.PlanList.model_validate(body)
    assert {p["title"] for p in body["items"]} == {"FY27 plan", "Older plan"}
    assert_error(client.get(f"{API}/accounts/NOPE/plans", headers=headers), 404, "not_found")


# --- reading a plan -------------------------------------------------------------------------


def test_read_a_whole_plan(app, client, csm, plan, headers):
    champion = ContactFactory(
        account=plan.account, name="Sarah Chen", engagement="high", last_contact_on=date(2020, 1, 1)
    )
    OutcomeFactory(plan=plan, baseline=18.0, target=8.0, current_value=13.0)
    MilestoneFactory(
        plan=plan,
        title="Late",
        target_date=date(2020, 1, 1),
        owner_user=None,
        owner_contact=champion,
    )
    MilestoneFactory(plan=plan, title="Later", target_date=date(2099, 1, 1))
    StakeholderFactory(plan=plan, contact=champion, role="champion")
    RiskFactory(plan=plan, likelihood="high", impact="high")
    ActionFactory(plan=plan, title="Overdue", due_date=date(2020, 2, 1))
    ActionFactory(plan=plan, title="Done", due_date=date(2020, 2, 1), status="done")
    db.session.commit()
    response = client.get(f"{API}/plans/{plan.id}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    responses.PlanOut.model_validate(body)
    assert body["version"] == plan.version
    outcome = body["outcomes"][0]
    assert (outcome["progress"], outcome["lower_is_better"]) == (0.5, True)
    assert {m["title"]: m["overdue"] for m in body["milestones"]} == {"Late": True, "Later": False}
    late = next(m for m in body["milestones"] if m["title"] == "Late")
    assert late["owner"] == {"contact_id": champion.id, "name": "Sarah Chen"}
    assert body["risks"][0]["severity"] == "critical"
    assert {a["title"]: a["overdue"] for a in body["actions"]} == {"Overdue": True, "Done": False}
    stakeholder = body["stakeholders"][0]
    assert (stakeholder["person"], stakeholder["engagement"], stakeholder["contact_status"]) == (
        {"contact_id": champion.id, "name": "Sarah Chen"},
        "high",
        "active",
    )
    flag_keys = {flag["key"] for flag in body["flags"]}
    assert {
        "overdue_actions",
        "overdue_milestones",
        "severe_risks",
        "single_threaded",
        "gone_dark",
    } <= flag_keys
    assert all(
        isinstance(item["id"], int) and isinstance(item["version"], int)
        for name in ("outcomes", "milestones", "stakeholders", "risks", "actions")
        for item in body[name]
    )


def test_read_unknown_plan_is_404(app, client, plan, headers):
    assert_error(client.get(f"{API}/plans/999999", headers=headers), 404, "not_found")


def test_reading_a_plan_costs_the_same_queries_for_few_or_many_items(
    app, client, plan, headers, count_queries
):
    def statements() -> int:
        with count_queries() as counter:
            assert client.get(f"{API}/plans/{plan.id}", headers=headers).status_code == 200
        return counter.count

    statements()  # the token's first use writes its last-used time
    ActionFactory.create_batch(2, plan=plan)
    RiskFactory.create_batch(2, plan=plan)
    OutcomeFactory(plan=plan)
    db.session.commit()
    few = statements()
    ActionFactory.create_batch(20, plan=plan)
    RiskFactory.create_batch(20, plan=plan)
    OutcomeFactory.create_batch(5, plan=plan)
    db.session.commit()
    db.session.expire_all()
    assert statements() == few


def test_viewer_reads_plans_and_history(app, client, api_token, plan):
    headers = api_token(UserFactory(role="viewer"))
    assert client.get(f"{API}/plans/{plan.id}", headers=headers).status_code == 200
    assert client.get(f"{API}/plans/{plan.id}/history", headers=headers).status_code == 200
    assert client.get(f"{API}/accounts/CRM-001/plans", headers=headers).status_code == 200


# --- changing a plan ------------------------------------------------------------------------


def test_patch_plan_with_current_version(app, client, plan, headers):
    version = plan.version
    response = client.patch(
        f"{API}/plans/{plan.id}",
        headers=headers,
        json={"version": version, "title": "FY27 plan v2", "status": "completed"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["title"], body["status"]) == ("FY27 plan v2", "completed")
    assert body["version"] == version + 1
    assert body["updated_by"] == {"user_email": "carl.csm@example.com", "name": "Carl CSM"}


def test_patch_plan_with_stale_version_is_409_and_changes_nothing(app, client, plan, headers):
    stale = plan.version
    first = client.patch(
        f"{API}/plans/{plan.id}", headers=headers, json={"version": stale, "title": "First save"}
    )
    assert first.status_code == 200
    changes_before = history_count(plan.id)
    current = first.get_json()["version"]
    second = client.patch(
        f"{API}/plans/{plan.id}",
        headers=headers,
        json={"version": stale, "title": "Second save", "status": "archived"},
    )
    error = assert_error(second, 409, "conflict")
    assert f"version {current}" in error["fields"]["version"]
    db.session.expire_all()
    saved = db.session.get(Plan, plan.id)
    assert (saved.title, saved.status, saved.version) == ("First save", "active", current)
    assert history_count(plan.id) == changes_before


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"title": "No version"}, "version"),
        ({"version": "3", "title": "x"}, "version"),
        ({"version": None, "title": "x"}, "version"),
        ({"version": 1, "title": None}, "title"),
        ({"version": 1, "title": ""}, "title"),
        ({"version": 1, "status": "paused"}, "status"),
        ({"version": 1, "owner_email": "ghost@example.com"}, "owner_email"),
        ({"version": 1, "next_review_on": "soon"}, "next_review_on"),
        ({"version": 1, "account_id": 5}, "account_id"),
    ],
)
def test_patch_plan_refusals(app, client, plan, headers, payload, field):
    title, version = plan.title, plan.version
    payload = {**payload, "version": version} if payload.get("version") == 1 else payload
    fields = fields_of(client.patch(f"{API}/plans/{plan.id}", json=payload, headers=headers))
    assert field in fields
    db.session.expire_all()
    assert (plan.title, plan.version) == (title, version)


def test_missing_version_explains_why_it_is_needed(app, client, plan, headers):
    fields = fields_of(client.patch(f"{API}/plans/{plan.id}", json={"title": "x"}, headers=headers))
    assert "never overwritten" in fields["version"]


# --- components -----------------------------------------------------------------------------


COMPONENT_BODIES = {
    "outcomes": {
        "title": "Faster resolution",
        "metric": "Resolution time",
        "unit": "h",
        "baseline": 18,
        "target": 8,
        "current_value": 15.5,
        "target_date": FUTURE,
    },
    "milestones": {
        "phase": "adoption",
        "title": "Team live",
        "target_date": FUTURE,
        "owner": {"user_email": "carl.csm@example.com"},
    },
    "risks": {
        "title": "Budget freeze",
        "category": "budget_cuts",
        "likelihood": "high",
        "impact": "medium",
        "owner": {"user_email": "carl.csm@example.com"},
    },
    "actions": {
        "title": "Send the rollout deck",
        "due_date": FUTURE,
        "owner": {"user_email": "carl.csm@example.com"},
    },
    "reviews": {"held_on": "2026-11-20", "attendees": "Carl, Sarah", "notes": "Good"},
    "stakeholders": {"person": {"user_email": "carl.csm@example.com"}, "role": "csm"},
}


@pytest.mark.parametrize("component", list(COMPONENT_BODIES))
def test_add_change_and_delete_each_component(app, client, plan, headers, component):
    url = f"{API}/plans/{plan.id}/{component}"
    created = client.post(url, json=COMPONENT_BODIES[component], headers=headers)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    responses.COMPONENT_RESPONSES[component].model_validate(item)
    assert isinstance(item["id"], int) and item["version"] == 1
    change = (
        {"notes": "Updated"} if component in ("reviews", "stakeholders") else {"title": "Renamed"}
    )
    changed = client.patch(
        f"{url}/{item['id']}", json={**change, "version": item["version"]}, headers=headers
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()[next(iter(change))] == next(iter(change.values()))
    assert changed.get_json()["version"] == 2
    deleted = client.delete(f"{url}/{item['id']}", headers=headers)
    assert (deleted.status_code, deleted.get_data()) == (204, b"")
    assert_error(
        client.patch(f"{url}/{item['id']}", json=change, headers=headers), 404, "not_found"
    )
    history = client.get(f"{API}/plans/{plan.id}/history", headers=headers).get_json()
    assert [(e["component"], e["action"]) for e in history["items"]][:1] == [(component, "deleted")]


def test_added_outcome_reports_progress_and_its_first_measurement(app, client, plan, headers):
    body = client.post(
        f"{API}/plans/{plan.id}/outcomes", json=COMPONENT_BODIES["outcomes"], headers=headers
    ).get_json()
    assert (body["progress"], body["lower_is_better"]) == (0.25, True)
    assert [m["value"] for m in body["measurements"]] == [15.5]


@pytest.mark.parametrize(
    "owner",
    [
        "Marketing team",
        "the customer",
        None,
        42,
        ["user:1"],
        {"name": "Marketing team"},
        {"contact_id": 1, "user_email": "carl.csm@example.com"},
        {},
        {"contact_id": "7"},
        {"contact_id": True},
        {"user_email": None},
    ],
)
@pytest.mark.parametrize("component", ["actions", "milestones", "risks"])
def test_owner_must_name_a_person(app, client, plan, headers, component, owner):
    body = {**COMPONENT_BODIES[component], "owner": owner}
    fields = fields_of(
        client.post(f"{API}/plans/{plan.id}/{component}", json=body, headers=headers)
    )
    assert list(fields) == ["owner"]


def test_bare_string_owner_gets_the_named_person_message(app, client, plan, headers):
    body = {**COMPONENT_BODIES["actions"], "owner": "Marketing team"}
    error = assert_error(
        client.post(f"{API}/plans/{plan.id}/actions", json=body, headers=headers),
        422,
        "validation_error",
    )
    assert "named person" in error["fields"]["owner"]
    assert db.session.scalar(select(func.count(ActionItem.id))) == 0


@pytest.mark.parametrize(
    "owner, message",
    [
        ({"user_email": "ghost@example.com"}, "No active user"),
        ({"contact_id": 999999}, "not a contact of this account"),
    ],
)
def test_owner_must_exist_and_belong_to_the_account(app, client, plan, headers, owner, message):
    body = {**COMPONENT_BODIES["actions"], "owner": owner}
    fields = fields_of(client.post(f"{API}/plans/{plan.id}/actions", json=body, headers=headers))
    assert message in fields["owner"]


def test_contact_of_another_account_cannot_own_an_action(app, client, plan, headers):
    stranger = ContactFactory()
    db.session.commit()
    body = {**COMPONENT_BODIES["actions"], "owner": {"contact_id": stranger.id}}
    fields = fields_of(client.post(f"{API}/plans/{plan.id}/actions", json=body, headers=headers))
    assert "not a contact of this account" in fields["owner"]


def test_missing_owner_is_refused(app, client, plan, headers):
    body = {k: v for k, v in COMPONENT_BODIES["actions"].items() if k != "owner"}
    fields = fields_of(client.post(f"{API}/plans/{plan.id}/actions", json=body, headers=headers))
    assert "Name the owner" in fields["owner"]


@pytest.mark.parametrize("due_date", ["missing", None, "", "next week"])
def test_action_needs_a_due_date(app, client, plan, headers, due_date):
    body = {**COMPONENT_BODIES["actions"], "due_date": due_date}
    if due_date == "missing":
        del body["due_date"]
    fields = fields_of(client.post(f"{API}/plans/{plan.id}/actions", json=body, headers=headers))
    assert list(fields) == ["due_date"]
    if due_date == "missing":
        assert fields["due_date"] == "An action needs a due date."


@pytest.mark.parametrize(
    "component, payload, field",
    [
        ("outcomes", {"title": "x"}, "metric"),
        ("outcomes", {"title": "x", "metric": "y", "target": "high"}, "target"),
        ("outcomes", {"title": "x", "metric": "y", "status": "green"}, "status"),
        (
            "milestones",
            {"title": "x", "phase": "adoption", "owner": {"user_email": "carl.csm@example.com"}},
            "target_date",
        ),
        (
            "risks",
            {"title": "x", "likelihood": "huge", "owner": {"user_email": "carl.csm@example.com"}},
            "likelihood",
        ),
        ("reviews", {"held_on": "2026-11-20"}, "attendees"),
        ("stakeholders", {"person": "Sarah", "role": "champion"}, "person"),
        (
            "stakeholders",
            {"person": {"user_email": "carl.csm@example.com"}, "role": "boss"},
            "role",
        ),
        ("actions", {**COMPONENT_BODIES["actions"], "milestone_id": 999999}, "milestone_id"),
        ("actions", {**COMPONENT_BODIES["actions"], "priority": "high"}, "priority"),
    ],
)
def test_component_refusals_name_the_field(app, client, plan, headers, component, payload, field):
    fields = fields_of(
        client.post(f"{API}/plans/{plan.id}/{component}", json=payload, headers=headers)
    )
    assert field in fields


def test_same_person_cannot_be_on_the_map_twice(app, client, plan, headers):
    url = f"{API}/plans/{plan.id}/stakeholders"
    body = COMPONENT_BODIES["stakeholders"]
    assert client.post(url, json=body, headers=headers).status_code == 201
    assert (
        "already on the stakeholder map"
        in fields_of(client.post(url, json=body, headers=headers))["person"]
    )


def test_stakeholder_engagement_writes_through_to_the_contact(app, client, plan, headers):
    contact = ContactFactory(account=plan.account, engagement="high")
    db.session.commit()
    response = client.post(
        f"{API}/plans/{plan.id}/stakeholders",
        headers=headers,
        json={
            "person": {"contact_id": contact.id},
            "role": "champion",
            "engagement": "low",
            "last_contact_on": "2026-11-01",
        },
    )
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["engagement"], response.get_json()["last_contact_on"]) == (
        "low",
        "2026-11-01",
    )
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).engagement == "low"


def test_review_moves_the_next_review_date(app, client, plan, headers):
    client.post(
        f"{API}/plans/{plan.id}/reviews",
        headers=headers,
        json={"held_on": "2026-11-20", "attendees": "Carl, Sarah"},
    )
    body = client.get(f"{API}/plans/{plan.id}", headers=headers).get_json()
    assert (body["last_reviewed_on"], body["next_review_on"]) == ("2026-11-20", "2026-12-20")


def test_reassign_an_action_to_a_contact(app, client, plan, headers):
    action = ActionFactory(plan=plan)
    contact = ContactFactory(account=plan.account, name="Sarah Chen")
    db.session.commit()
    response = client.patch(
        f"{API}/plans/{plan.id}/actions/{action.id}",
        headers=headers,
        json={"owner": {"contact_id": contact.id}, "status": "done"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["owner"] == {"contact_id": contact.id, "name": "Sarah Chen"}
    assert body["completed_on"] is not None and body["overdue"] is False
    assert "owner" in fields_of(
        client.patch(
            f"{API}/plans/{plan.id}/actions/{action.id}", json={"owner": "Sarah"}, headers=headers
        )
    )
    assert "owner" in fields_of(
        client.patch(
            f"{API}/plans/{plan.id}/actions/{action.id}", json={"owner": None}, headers=headers
        )
    )


def test_patch_item_with_stale_version_is_409_and_changes_nothing(app, client, plan, headers):
    action = ActionFactory(plan=plan, title="Original")
    db.session.commit()
    url = f"{API}/plans/{plan.id}/actions/{action.id}"
    seen = action.version
    assert (
        client.patch(url, json={"title": "First", "version": seen}, headers=headers).status_code
        == 200
    )
    error = assert_error(
        client.patch(url, json={"title": "Second", "version": seen}, headers=headers),
        409,
        "conflict",
    )
    assert "version" in error["fields"]
    db.session.expire_all()
    assert db.session.get(ActionItem, action.id).title == "First"


def test_patch_item_refusals(app, client, plan, headers):
    action = ActionFactory(plan=plan)
    db.session.commit()
    url = f"{API}/plans/{plan.id}/actions/{action.id}"
    assert "title" in fields_of(client.patch(url, json={"title": None}, headers=headers))
    assert "due_date" in fields_of(client.patch(url, json={"due_date": None}, headers=headers))
    assert "version" in fields_of(client.patch(url, json={"version": "1"}, headers=headers))
    assert "person" in fields_of(
        client.patch(url, json={"person": {"contact_id": 1}}, headers=headers)
    )


def test_item_of_another_plan_is_404(app, client, plan, headers):
    other_action = ActionFactory()
    db.session.commit()
    for method in (client.patch, client.delete):
        response = method(
            f"{API}/plans/{plan.id}/actions/{other_action.id}", json={"title": "x"}, headers=headers
        )
        assert_error(response, 404, "not_found")
    assert_error(
        client.post(f"{API}/plans/999999/actions", json={}, headers=headers), 404, "not_found"
    )


def test_unknown_component_is_404(app, client, plan, headers):
    assert_error(
        client.post(f"{API}/plans/{plan.id}/widgets", json={}, headers=headers), 404, "not_found"
    )


# --- history --------------------------------------------------------------------------------


def test_history_newest_first_with_who_and_what(app, client, plan, headers):
    version = plan.version
    client.patch(
        f"{API}/plans/{plan.id}", headers=headers, json={"version": version, "title": "Renamed"}
    )
    client.post(f"{API}/plans/{plan.id}/actions", json=COMPONENT_BODIES["actions"], headers=headers)
    response = client.get(f"{API}/plans/{plan.id}/history", headers=headers)
    body = response.get_json()
    responses.PlanHistory.model_validate(body)
    first, second = body["items"][0], body["items"][1]
    assert (first["component"], first["action"], first["item_label"]) == (
        "actions",
        "created",
        "Send the rollout deck",
    )
    assert (second["field"], second["old_value"], second["new_value"], second["user_email"]) == (
        "title",
        "FY27 plan",
        "Renamed",
        "carl.csm@example.com",
    )
    assert first["changed_at"].endswith("Z")
    assert_error(client.get(f"{API}/plans/999999/history", headers=headers), 404, "not_found")


# --- who may --------------------------------------------------------------------------------


def _writes(plan_id: int, action_id: int) -> list[tuple[str, str, dict | None]]:
    base = f"{API}/plans/{plan_id}"
    return [
        ("post", f"{API}/accounts/CRM-001/plans", {"title": "x", "plan_type": "joint"}),
        ("patch", base, {"version": 1, "title": "x"}),
        ("post", f"{base}/actions", COMPONENT_BODIES["actions"]),
        ("patch", f"{base}/actions/{action_id}", {"title": "x"}),
        ("delete", f"{base}/actions/{action_id}", None),
    ]


def test_viewer_gets_403_on_every_plan_write(app, client, api_token, plan):
    action = ActionFactory(plan=plan)
    headers = api_token(UserFactory(role="viewer"))
    for method, url, body in _writes(plan.id, action.id):
        response = getattr(client, method)(url, json=body, headers=headers)
        assert "read-only" in assert_error(response, 403, "forbidden")["message"], url
    db.session.expire_all()
    assert db.session.get(ActionItem, action.id) is not None


def test_csm_gets_403_on_someone_elses_plan(app, client, api_token, plan):
    action = ActionFactory(plan=plan)
    headers = api_token(UserFactory(role="csm"))
    for method, url, body in _writes(plan.id, action.id):
        assert_error(getattr(client, method)(url, json=body, headers=headers), 403, "forbidden")


def test_csm_owning_the_plan_but_not_the_account_may_edit_it(app, client, api_token):
    owner = UserFactory(role="csm")
    plan = PlanFactory(owner=owner, account=AccountFactory(csm_id=UserFactory(role="csm").id))
    headers = api_token(owner)
    response = client.patch(
        f"{API}/plans/{plan.id}", headers=headers, json={"version": plan.version, "title": "Mine"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_leads_and_admins_write_any_plan(app, client, api_token, plan, role):
    headers = api_token(UserFactory(role=role))
    response = client.post(
        f"{API}/plans/{plan.id}/actions", json=COMPONENT_BODIES["actions"], headers=headers
    )
    assert response.status_code == 201
    assert (
        client.post(
            f"{API}/accounts/CRM-001/plans",
            headers=headers,
            json={"title": "x", "plan_type": "joint"},
        ).status_code
        == 201
    )
