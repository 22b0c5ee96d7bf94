"""Who may move an account to another CSM is the accounts service's rule: only leads and
admins. The account page's form and the API (``PUT /api/v1/accounts/<id>``) both go through
it, so a CSM is refused alike: 403, and nothing changed."""

from __future__ import annotations

import pytest

from cs_app.accounts import service
from cs_app.accounts.models import Account
from cs_app.db_types import utcnow
from cs_app.errors import PermissionDenied
from cs_app.extensions import db
from tests.factories import AccountFactory, UserFactory


@pytest.fixture
def casey(app):
    return UserFactory(role="csm", name="Casey CSM")


@pytest.fixture
def dana(app):
    return UserFactory(role="csm", name="Dana CSM")


@pytest.fixture
def account(casey):
    account = AccountFactory(external_id="ACME", name="Acme", industry="Software", csm=casey)
    db.session.commit()
    return account


def edit_form(account: Account, **changes: str) -> dict[str, str]:
    """The account page's edit form as it is filled in, with ``changes`` typed over it."""
    values = {
        "name": account.name,
        "segment": account.segment,
        "engagement_model": account.engagement_model,
        "arr": f"{account.arr_minor / 100:.2f}",
        "currency": account.currency,
        "contract_start": account.contract_start.isoformat(),
        "renewal_date": account.renewal_date.isoformat(),
        "csm_id": str(account.csm_id or ""),
        "lifecycle_stage": account.lifecycle_stage,
        "industry": account.industry or "",
        **changes,
    }
    return {f"account-{name}": value for name, value in values.items()}


def saved(account: Account) -> tuple[int | None, str | None]:
    db.session.expire_all()
    stored = db.session.get(Account, account.id)
    return stored.csm_id, stored.industry


@pytest.mark.parametrize("new_owner", ["dana", "pool"])
def test_a_csm_cannot_reassign_their_account_with_the_form(
    client, login, casey, dana, account, new_owner
):
    login(casey)
    csm_id = str(dana.id) if new_owner == "dana" else ""
    response = client.post(
        "/accounts/ACME/edit", data=edit_form(account, csm_id=csm_id, industry="Retail")
    )
    assert response.status_code == 403
    assert "Your role does not allow this." in response.get_data(as_text=True)
    assert saved(account) == (casey.id, "Software")  # nothing changed, the industry neither


def test_a_csm_may_edit_the_rest_of_their_account_with_the_form(client, login, casey, account):
    login(casey)
    response = client.post("/accounts/ACME/edit", data=edit_form(account, industry="Retail"))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert saved(account) == (casey.id, "Retail")


def test_a_lead_reassigns_with_the_form(client, login, dana, account):
    login(UserFactory(role="lead"))
    response = client.post("/accounts/ACME/edit", data=edit_form(account, csm_id=str(dana.id)))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert saved(account)[0] == dana.id


def test_the_api_refuses_the_same_reassignment(client, api_token, casey, dana, account):
    response = client.put(
        "/api/v1/accounts/ACME",
        json={"csm_email": dana.email, "industry": "Retail"},
        headers=api_token(casey),
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert saved(account) == (casey.id, "Software")


def test_the_service_decides_for_any_caller(casey, dana, account):
    with pytest.raises(PermissionDenied, match="Only leads and admins reassign"):
        service.update_account(account, {"csm_id": dana.id}, user=casey, now=utcnow())
    with pytest.raises(PermissionDenied):
        service.update_account(account, {"csm_email": dana.email}, user=casey, now=utcnow())
    # the same owner, by id or by email in another case, is no reassignment
    service.update_account(account, {"csm_id": casey.id}, user=casey, now=utcnow())
    service.update_account(account, {"csm_email": casey.email.upper()}, user=casey, now=utcnow())
    # the system (imports, the demo) acts without a user
    service.update_account(account, {"csm_id": dana.id}, user=None, now=utcnow())
    assert account.csm_id == dana.id
