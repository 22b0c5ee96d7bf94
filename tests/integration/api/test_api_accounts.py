"""Accounts and contacts over the API: upsert, list, read, contacts, and who may do what."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from cs_app.accounts.models import Account, Contact, LifecycleStageEntry
from cs_app.api import responses
from cs_app.extensions import db
from cs_app.jobs.models import PendingRecompute
from tests.factories import AccountFactory, ContactFactory, PlanFactory, UserFactory

ACCOUNTS = "/api/v1/accounts"

FULL_ACCOUNT = {
    "external_id": "CRM-001",
    "name": "Northwind Traders",
    "domain": "northwind.example",
    "industry": "Logistics",
    "employees": 1200,
    "segment": "Enterprise",
    "engagement_model": "high-touch",
    "arr": 12_000_000,
    "currency": "EUR",
    "contract_start": "2026-01-15",
    "renewal_date": "2027-01-15",
    "lifecycle_stage": "adoption",
    "stage_entered_on": "2026-03-01",
    "product_plan": "Business",
    "seats_purchased": 150,
    "business_context": {
        "primary_use_case": "Route planning",
        "purchase_trigger": "Missed deliveries",
        "previous_solutions": "Spreadsheets",
        "strategic_priorities": "Cut delivery time by 20 %",
    },
}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


def fields_of(response) -> dict:
    return assert_error(response, 422, "validation_error")["fields"]


@pytest.fixture
def lead(app):
    return UserFactory(role="lead", email="lena.lead@example.com", name="Lena Lead")


@pytest.fixture
def csm(app):
    return UserFactory(role="csm", email="carl.csm@example.com", name="Carl CSM")


# --- PUT: create or update ------------------------------------------------------------------


def test_put_creates_an_account_with_every_field(app, client, api_token, lead, csm):
    headers = api_token(lead)
    response = client.put(
        f"{ACCOUNTS}/CRM-001",
        json={**FULL_ACCOUNT, "csm_email": "Carl.CSM@example.com"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith("/api/v1/accounts/CRM-001")
    body = response.get_json()
    responses.AccountOut.model_validate(body)
    for key, value in FULL_ACCOUNT.items():
        assert body[key] == value, key
    assert body["csm_email"] == "carl.csm@example.com"
    assert body["csm"] == {"user_email": "carl.csm@example.com", "name": "Carl CSM"}
    assert body["health"] is None
    assert body["created_at"].endswith("Z")
    db.session.expire_all()
    account = db.session.scalar(select(Account).where(Account.external_id == "CRM-001"))
    assert (account.arr_minor, account.csm_id, account.primary_use_case) == (
        12_000_000,
        csm.id,
        "Route planning",
    )


def test_put_is_idempotent(app, client, api_token, lead):
    headers = api_token(lead)
    first = client.put(f"{ACCOUNTS}/CRM-001", json=FULL_ACCOUNT, headers=headers)
    second = client.put(f"{ACCOUNTS}/CRM-001", json=FULL_ACCOUNT, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert "Location" not in second.headers
    changing = {"updated_at"}
    assert {k: v for k, v in first.get_json().items() if k not in changing} == {
        k: v for k, v in second.get_json().items() if k not in changing
    }
    assert db.session.scalar(select(func.count(Account.id))) == 1
    assert db.session.scalar(select(func.count(LifecycleStageEntry.id))) == 1


def test_a_new_account_is_queued_for_the_catch_up_recompute(app, client, api_token, lead):
    """Its signals (and the rules reading them, like the welcome sequence) must not wait for
    the nightly recompute."""
    client.put(f"{ACCOUNTS}/CRM-001", json=FULL_ACCOUNT, headers=api_token(lead))
    account_id = db.session.scalar(select(Account.id).where(Account.external_id == "CRM-001"))
    assert db.session.get(PendingRecompute, account_id) is not None


def test_put_changes_only_the_keys_sent(app, client, api_token, lead):
    headers = api_token(lead)
    client.put(f"{ACCOUNTS}/CRM-001", json=FULL_ACCOUNT, headers=headers)
    response = client.put(
        f"{ACCOUNTS}/CRM-001", json={"seats_purchased": 200, "domain": None}, headers=headers
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["seats_purchased"], body["domain"], body["name"], body["arr"]) == (
        200,
        None,
        "Northwind Traders",
        12_000_000,
    )
    assert body["business_context"]["primary_use_case"] == "Route planning"


def test_put_null_business_context_clears_it(app, client, api_token, lead):
    headers = api_token(lead)
    client.put(f"{ACCOUNTS}/CRM-001", json=FULL_ACCOUNT, headers=headers)
    response = client.put(f"{ACCOUNTS}/CRM-001", json={"business_context": None}, headers=headers)
    assert set(response.get_json()["business_context"].values()) == {None}


def test_put_new_stage_is_recorded_in_the_stage_history(app, client, api_token, lead):
    headers = api_token(lead)
    client.put(f"{ACCOUNTS}/CRM-001", json=FULL_ACCOUNT, headers=headers)
    client.put(
        f"{ACCOUNTS}/CRM-001",
        json={"lifecycle_stage": "renewal", "stage_entered_on": "2026-11-01"},
        headers=headers,
    )
    stages = client.get(f"{ACCOUNTS}/CRM-001", headers=headers).get_json()["stages"]
    assert stages == [
        {"stage": "adoption", "entered_on": "2026-03-01"},
        {"stage": "renewal", "entered_on": "2026-11-01"},
    ]


def test_put_null_csm_email_makes_the_account_pooled(app, client, api_token, lead, csm):
    AccountFactory(external_id="CRM-001", csm_id=csm.id)
    headers = api_token(lead)
    body = client.put(f"{ACCOUNTS}/CRM-001", json={"csm_email": None}, headers=headers)
    assert (body.get_json()["csm_email"], body.get_json()["csm"]) == (None, None)


@pytest.mark.parametrize(
    "payload, field, message_part",
    [
        ({"arr": -1}, "arr", "greater than or equal to 0"),
        ({"arr": "1000"}, "arr", "valid integer"),
        ({"arr": 10.5}, "arr", "valid integer"),
        ({"employees": -3}, "employees", "greater than or equal to 0"),
        ({"segment": "Huge"}, "segment", "'SMB', 'Mid-Market' or 'Enterprise'"),
        ({"engagement_model": "no-touch"}, "engagement_model", "'high-touch'"),
        ({"lifecycle_stage": "dormant"}, "lifecycle_stage", "'onboarding'"),
        ({"contract_start": "2026-13-01"}, "contract_start", "valid date"),
        ({"contract_start": "15/01/2026"}, "contract_start", "valid date"),
        ({"renewal_date": 20260101}, "renewal_date", "valid date"),
        ({"name": None}, "name", "valid string"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"currency": "DOLLARS"}, "currency", "at most 3 characters"),
        ({"currency": "U$1"}, "currency", "three-letter ISO currency code"),
        ({"csm_email": "ghost@example.com"}, "csm_email", "No user has the email"),
        ({"renewal_date": "2025-01-01"}, "renewal_date", "after the contract start"),
        ({"business_context": {"use_case": "x"}}, "business_context.use_case", "Unknown field"),
        ({"business_context": "Route planning"}, "business_context", "should be an object"),
        ({"external_id": "CRM-999"}, "external_id", "must match the address"),
    ],
)
def test_put_refuses_bad_values_naming_the_field(
    app, client, api_token, lead, payload, field, message_part
):
    AccountFactory(external_id="CRM-001", contract_start=date(2026, 1, 15))
    headers = api_token(lead)
    fields = fields_of(client.put(f"{ACCOUNTS}/CRM-001", json=payload, headers=headers))
    assert field in fields, fields
    assert message_part in fields[field]


def test_put_refuses_a_viewer_as_csm(app, client, api_token, lead):
    UserFactory(role="viewer", email="vic@example.com")
    headers = api_token(lead)
    fields = fields_of(
        client.put(
            f"{ACCOUNTS}/CRM-001",
            json={"name": "Acme", "csm_email": "vic@example.com"},
            headers=headers,
        )
    )
    assert "CSM, lead or admin" in fields["csm_email"]


def test_put_creating_without_a_name_is_refused(app, client, api_token, lead):
    fields = fields_of(
        client.put(f"{ACCOUNTS}/NEW-1", json={"segment": "SMB"}, headers=api_token(lead))
    )
    assert fields == {"name": "Give the account a name."}
    assert db.session.scalar(select(func.count(Account.id))) == 0


def test_put_external_id_longer_than_the_column_is_refused(app, client, api_token, lead):
    fields = fields_of(
        client.put(f"{ACCOUNTS}/{'X' * 101}", json={"name": "Long"}, headers=api_token(lead))
    )
    assert "external_id" in fields


# --- PUT: who may -----------------------------------------------------------------------------


def test_viewer_may_not_write_accounts(app, client, api_token):
    AccountFactory(external_id="CRM-001")
    headers = api_token(UserFactory(role="viewer"))
    for external_id in ("CRM-001", "NEW-1"):
        response = client.put(f"{ACCOUNTS}/{external_id}", json={"name": "x"}, headers=headers)
        assert_error(response, 403, "forbidden")


def test_csm_may_not_create_accounts(app, client, api_token, csm):
    response = client.put(f"{ACCOUNTS}/NEW-1", json={"name": "New"}, headers=api_token(csm))
    assert "leads and admins" in assert_error(response, 403, "forbidden")["message"]
    assert db.session.scalar(select(func.count(Account.id))) == 0


def test_csm_updates_own_account_but_not_anothers(app, client, api_token, csm):
    AccountFactory(external_id="MINE", csm_id=csm.id)
    AccountFactory(external_id="THEIRS", csm_id=UserFactory(role="csm").id, name="Theirs")
    headers = api_token(csm)
    assert (
        client.put(f"{ACCOUNTS}/MINE", json={"seats_purchased": 10}, headers=headers).status_code
        == 200
    )
    assert_error(
        client.put(f"{ACCOUNTS}/THEIRS", json={"seats_purchased": 10}, headers=headers),
        403,
        "forbidden",
    )
    assert_error(
        client.put(f"{ACCOUNTS}/MINE", json={"csm_email": None}, headers=headers), 403, "forbidden"
    )
    same_csm = client.put(f"{ACCOUNTS}/MINE", json={"csm_email": csm.email}, headers=headers)
    assert same_csm.status_code == 200


def test_admin_and_lead_may_create_and_reassign(app, client, api_token, lead, csm):
    admin_headers = api_token(UserFactory(role="admin"))
    assert (
        client.put(f"{ACCOUNTS}/NEW-1", json={"name": "New"}, headers=admin_headers).status_code
        == 201
    )
    response = client.put(
        f"{ACCOUNTS}/NEW-1", json={"csm_email": csm.email}, headers=api_token(lead)
    )
    assert response.get_json()["csm_email"] == csm.email


# --- GET list -------------------------------------------------------------------------------


def test_list_pages_through_accounts_by_name(app, client, api_token):
    for index in range(7):
        AccountFactory(name=f"Account {index}")
    headers = api_token(UserFactory(role="viewer"))
    first = client.get(f"{ACCOUNTS}?per_page=3", headers=headers).get_json()
    last = client.get(f"{ACCOUNTS}?per_page=3&page=3", headers=headers).get_json()
    beyond = client.get(f"{ACCOUNTS}?per_page=3&page=9", headers=headers).get_json()
    responses.AccountPage.model_validate(first)
    assert (first["page"], first["per_page"], first["total"]) == (1, 3, 7)
    assert [a["name"] for a in first["items"]] == ["Account 0", "Account 1", "Account 2"]
    assert [a["name"] for a in last["items"]] == ["Account 6"]
    assert (beyond["items"], beyond["total"]) == ([], 7)


def test_list_defaults_to_50_per_page(app, client, api_token):
    body = client.get(ACCOUNTS, headers=api_token(UserFactory(role="viewer"))).get_json()
    assert (body["page"], body["per_page"], body["total"], body["items"]) == (1, 50, 0, [])


def test_list_filters(app, client, api_token, csm):
    other = UserFactory(role="csm", email="olga@example.com")
    AccountFactory(
        name="Alpha 100% Co",
        segment="SMB",
        csm_id=csm.id,
        lifecycle_stage="onboarding",
        engagement_model="low-touch",
    )
    AccountFactory(
        name="Beta",
        segment="Enterprise",
        csm_id=other.id,
        lifecycle_stage="renewal",
        engagement_model="high-touch",
        external_id="SF-BETA",
    )
    AccountFactory(
        name="Gamma",
        segment="Enterprise",
        csm_id=None,
        lifecycle_stage="renewal",
        engagement_model="joint",
    )
    headers = api_token(UserFactory(role="viewer"))

    def names(query: str) -> list[str]:
        response = client.get(f"{ACCOUNTS}?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [a["name"] for a in response.get_json()["items"]]

    assert names("segment=Enterprise") == ["Beta", "Gamma"]
    assert names("csm=CARL.CSM@example.com") == ["Alpha 100% Co"]
    assert names("csm=none") == ["Gamma"]
    assert names("csm=nobody@example.com") == []
    assert names("stage=renewal&segment=Enterprise") == ["Beta", "Gamma"]
    assert names("engagement_model=joint") == ["Gamma"]
    assert names("q=alp") == ["Alpha 100% Co"]
    assert names("q=100%25") == ["Alpha 100% Co"]
    assert names("q=%25") == ["Alpha 100% Co"]
    assert names("q=sf-beta") == ["Beta"]
    assert names("band=healthy") == []
    assert names("band=insufficient_data") == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=201", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("segment=Huge", "segment"),
        ("stage=dormant", "stage"),
        ("engagement_model=x", "engagement_model"),
        ("band=green", "band"),
        ("sort=name", "sort"),
        ("segment=SMB&segment=Enterprise", "segment"),
    ],
)
def test_list_refuses_bad_parameters(app, client, api_token, query, field):
    response = client.get(f"{ACCOUNTS}?{query}", headers=api_token(UserFactory(role="viewer")))
    assert field in fields_of(response)


def test_list_costs_the_same_queries_for_3_or_30_accounts(app, client, api_token, count_queries):
    csm = UserFactory(role="csm")
    headers = api_token(UserFactory(role="viewer"))

    def statements() -> int:
        with count_queries() as counter:
            response = client.get(f"{ACCOUNTS}?per_page=200", headers=headers)
        assert response.status_code == 200
        return counter.count

    statements()  # the token's first use writes its last-used time; count from the second
    AccountFactory.create_batch(3, csm_id=csm.id)
    db.session.commit()
    few = statements()
    AccountFactory.create_batch(27, csm_id=csm.id)
    db.session.commit()
    many = statements()
    assert few == many
    # the token (with its user), the count, the page (CSMs joined), the page's latest health
    # snapshots, their active overrides
    assert many == 5


# --- GET one --------------------------------------------------------------------------------


def test_read_account_with_contacts_and_plans(app, client, api_token):
    account = AccountFactory(external_id="CRM-001", name="Northwind")
    ContactFactory(account=account, name="Sarah Chen", role="executive_sponsor")
    plan = PlanFactory(account=account, title="FY27 plan")
    headers = api_token(UserFactory(role="viewer"))
    response = client.get(f"{ACCOUNTS}/CRM-001", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    responses.AccountDetailOut.model_validate(body)
    assert [c["name"] for c in body["contacts"]] == ["Sarah Chen"]
    assert body["contacts"][0]["role"] == "executive_sponsor"
    assert [(p["id"], p["title"], p["version"]) for p in body["plans"]] == [
        (plan.id, "FY27 plan", plan.version)
    ]
    assert body["plans"][0]["owner"]["user_email"] == plan.owner.email


def test_read_unknown_account_is_404(app, client, api_token):
    response = client.get(f"{ACCOUNTS}/NOPE", headers=api_token(UserFactory(role="viewer")))
    assert "NOPE" in assert_error(response, 404, "not_found")["message"]


# --- contacts -------------------------------------------------------------------------------


def test_add_and_change_a_contact(app, client, api_token, csm):
    AccountFactory(external_id="CRM-001", csm_id=csm.id)
    headers = api_token(csm)
    created = client.post(
        f"{ACCOUNTS}/CRM-001/contacts",
        headers=headers,
        json={
            "name": "Sarah Chen",
            "title": "VP Operations",
            "email": "sarah@northwind.example",
            "role": "executive_sponsor",
            "influence": "decision_maker",
            "engagement": "high",
            "last_contact_on": "2026-11-02",
        },
    )
    assert created.status_code == 201, created.get_json()
    contact = created.get_json()
    responses.ContactOut.model_validate(contact)
    assert (contact["role"], contact["status"], contact["last_contact_on"]) == (
        "executive_sponsor",
        "active",
        "2026-11-02",
    )
    changed = client.patch(
        f"{ACCOUNTS}/CRM-001/contacts/{contact['id']}",
        headers=headers,
        json={"status": "departed", "title": None},
    )
    assert changed.status_code == 200
    assert (
        changed.get_json()["status"],
        changed.get_json()["title"],
        changed.get_json()["name"],
    ) == ("departed", None, "Sarah Chen")
    db.session.expire_all()
    assert db.session.get(Contact, contact["id"]).status == "departed"


def test_contact_defaults(app, client, api_token, lead):
    AccountFactory(external_id="CRM-001")
    body = client.post(
        f"{ACCOUNTS}/CRM-001/contacts", json={"name": "Bo"}, headers=api_token(lead)
    ).get_json()
    assert (body["role"], body["influence"], body["engagement"], body["status"]) == (
        "end_user",
        "user",
        "medium",
        "active",
    )


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({}, "name", "Give the contact's name."),
        ({"name": "  "}, "name", "Give the contact's name."),
        ({"name": "Bo", "email": "not-an-email"}, "email", "Enter an email address"),
        ({"name": "Bo", "role": "boss"}, "role", "'executive_sponsor'"),
        ({"name": "Bo", "last_contact_on": "2999-01-01"}, "last_contact_on", "future"),
        ({"name": "Bo", "phone": "123"}, "phone", "Unknown field"),
        (
            {"name": "Evil\r\nBcc: x@example.com"},
            "name",
            "Write the name on one line, without line breaks or control characters.",
        ),
        (
            {"name": "Bo", "email": "bo@example.com\nBcc: x@example.com"},
            "email",
            "Write the email address on one line, without line breaks or control characters.",
        ),
    ],
)
def test_add_contact_refusals(app, client, api_token, lead, payload, field, message):
    AccountFactory(external_id="CRM-001")
    fields = fields_of(
        client.post(f"{ACCOUNTS}/CRM-001/contacts", json=payload, headers=api_token(lead))
    )
    assert message in fields[field]


def test_duplicate_contact_email_is_refused(app, client, api_token, lead):
    account = AccountFactory(external_id="CRM-001")
    ContactFactory(account=account, email="sarah@northwind.example")
    fields = fields_of(
        client.post(
            f"{ACCOUNTS}/CRM-001/contacts",
            headers=api_token(lead),
            json={"name": "Sarah", "email": "Sarah@Northwind.example"},
        )
    )
    assert "already has a contact" in fields["email"]


def test_change_contact_refusals(app, client, api_token, lead):
    account = AccountFactory(external_id="CRM-001")
    contact = ContactFactory(account=account)
    stranger = ContactFactory()
    headers = api_token(lead)
    url = f"{ACCOUNTS}/CRM-001/contacts"
    assert "name" in fields_of(
        client.patch(f"{url}/{contact.id}", json={"name": None}, headers=headers)
    )
    assert "status" in fields_of(
        client.patch(f"{url}/{contact.id}", json={"status": "gone"}, headers=headers)
    )
    assert (
        "on one line"
        in fields_of(
            client.patch(f"{url}/{contact.id}", json={"name": "Evil\rBcc: x@x.x"}, headers=headers)
        )["name"]
    )
    assert_error(
        client.patch(f"{url}/{stranger.id}", json={"name": "x"}, headers=headers), 404, "not_found"
    )
    assert_error(
        client.patch(f"{url}/999999", json={"name": "x"}, headers=headers), 404, "not_found"
    )
    assert_error(
        client.post(f"{ACCOUNTS}/NOPE/contacts", json={"name": "x"}, headers=headers),
        404,
        "not_found",
    )


def test_contact_writes_need_the_account_owner(app, client, api_token, csm):
    account = AccountFactory(external_id="CRM-001", csm_id=UserFactory(role="csm").id)
    contact = ContactFactory(account=account)
    for user in (UserFactory(role="viewer"), csm):
        headers = api_token(user)
        assert_error(
            client.post(f"{ACCOUNTS}/CRM-001/contacts", json={"name": "x"}, headers=headers),
            403,
            "forbidden",
        )
        assert_error(
            client.patch(
                f"{ACCOUNTS}/CRM-001/contacts/{contact.id}", json={"name": "x"}, headers=headers
            ),
            403,
            "forbidden",
        )
