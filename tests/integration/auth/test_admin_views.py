"""User administration (admins only) and API tokens (everyone their own; admins everyone's)."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from cs_app.auth.models import ApiToken, User
from cs_app.auth.service import create_token, user_for_token
from cs_app.extensions import db
from tests.factories import UserFactory


@pytest.fixture
def admin(app, login):
    user = UserFactory(role="admin", name="Ada Admin")
    db.session.commit()
    login(user)
    return user


def new_user_form(**changes) -> dict[str, str]:
    values = {
        "email": "new.person@example.com",
        "name": "New Person",
        "role": "csm",
        "password": "long-enough-1",
        "active": "y",
    }
    values.update(changes)
    return {f"new-{k}": v for k, v in values.items() if v is not None}


def edit_form(user: User, **changes) -> dict[str, str]:
    values = {"name": user.name, "role": user.role, "password": ""}
    if user.active:
        values["active"] = "y"
    if user.away:
        values["away"] = "y"
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


# --- access ---------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in ("/admin/users", "/account/tokens"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["lead", "csm", "viewer"])
def test_user_administration_is_for_admins_only(client, login, role, now):
    user = UserFactory(role=role)
    other = UserFactory()
    record, _ = create_token(other, name="theirs", now=now)
    db.session.commit()
    login(user)
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users", data=new_user_form()).status_code == 403
    assert client.get(f"/admin/users/{other.id}").status_code == 403
    assert (
        client.post(f"/admin/users/{other.id}", data=edit_form(other, role="admin")).status_code
        == 403
    )
    assert client.post(f"/admin/users/{other.id}/tokens/{record.id}/revoke").status_code == 403
    db.session.expire_all()
    assert db.session.get(User, other.id).role == "csm"
    assert db.session.get(ApiToken, record.id).revoked_at is None
    assert db.session.scalar(select(User).where(User.email == "new.person@example.com")) is None
    assert "/admin/users" not in client.get("/account/tokens").get_data(as_text=True)


# --- users ----------------------------------------------------------------------------------


def test_admin_lists_users(client, admin):
    UserFactory(name="Casey CSM", email="casey@example.com", role="csm", away=True)
    UserFactory(name="Gone Person", active=False)
    db.session.commit()
    html = client.get("/admin/users").get_data(as_text=True)
    for text in (
        "Ada Admin",
        "Casey CSM",
        "casey@example.com",
        "CSM",
        "Away",
        "Inactive",
        "Gone Person",
        "(you)",
    ):
        assert text in html, text
    assert '<option selected value="csm">CSM</option>' in html  # never admin by default


def test_admin_creates_a_user_who_can_then_sign_in(client, admin):
    response = client.post("/admin/users", data=new_user_form(role="lead", away="y"))
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == "new.person@example.com"))
    assert (user.name, user.role, user.active, user.away) == ("New Person", "lead", True, True)
    assert user.password_hash != "long-enough-1"
    client.post("/logout")
    response = client.post(
        "/login", data={"email": "new.person@example.com", "password": "long-enough-1"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"email": "not-an-email"}, "email", "Enter an email address like name@example.com."),
        ({"email": ""}, "email", "Enter an email address."),
        ({"name": ""}, "name", "Enter the person&#39;s name."),
        ({"password": "short"}, "password", "Use at least 8 characters."),
        ({"password": None}, "password", "Set a first password (at least 8 characters)."),
        ({"role": "emperor"}, "role", "Not a valid choice."),
    ],
)
def test_create_user_refusals(client, admin, changes, field, message):
    response = client.post("/admin/users", data=new_user_form(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="new-{field}-error">{message}' in html
    assert 'id="new-user" open' in html
    db.session.expire_all()
    assert db.session.scalar(select(User.id).where(User.name == "New Person")) is None


def test_create_user_refuses_an_existing_email(client, admin):
    UserFactory(email="new.person@example.com")
    db.session.commit()
    response = client.post("/admin/users", data=new_user_form(email="New.Person@example.com"))
    assert response.status_code == 422
    assert "A user with the email New.Person@example.com already exists." in response.get_data(
        as_text=True
    )
    assert 'value="New Person"' in response.get_data(as_text=True)


def test_admin_edits_name_role_flags_and_password(client, admin):
    user = UserFactory(name="Old Name", role="csm")
    db.session.commit()
    old_hash = user.password_hash
    response = client.post(
        f"/admin/users/{user.id}",
        data=edit_form(
            user, name="New Name", role="lead", active=None, away="y", password="brand-new-pass"
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.name, user.role, user.active, user.away) == ("New Name", "lead", False, True)
    assert user.password_hash != old_hash and "brand-new-pass" not in user.password_hash


def test_an_empty_password_keeps_the_old_one(client, admin):
    user = UserFactory()
    db.session.commit()
    old_hash = user.password_hash
    assert client.post(f"/admin/users/{user.id}", data=edit_form(user)).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == old_hash


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"name": ""}, "name", "Enter the person&#39;s name."),
        ({"password": "short"}, "password", "Use at least 8 characters."),
        ({"role": "emperor"}, "role", "Not a valid choice."),
    ],
)
def test_edit_user_refusals(client, admin, changes, field, message):
    user = UserFactory(name="Kept Name")
    db.session.commit()
    response = client.post(f"/admin/users/{user.id}", data=edit_form(user, **changes))
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Kept Name"


def test_the_last_admin_cannot_be_demoted_or_deactivated(client, admin):
    response = client.post(f"/admin/users/{admin.id}", data=edit_form(admin, role="lead"))
    assert response.status_code == 422
    assert 'id="role-error">This is the last active admin' in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{admin.id}", data=edit_form(admin, active=None))
    assert response.status_code == 422
    assert 'id="active-error">This is the last active admin' in response.get_data(as_text=True)
    db.session.expire_all()
    assert (db.session.get(User, admin.id).role, db.session.get(User, admin.id).active) == (
        "admin",
        True,
    )


def test_an_admin_cannot_deactivate_themselves_but_may_step_down_if_another_admin_exists(
    client, admin
):
    UserFactory(role="admin")
    db.session.commit()
    response = client.post(f"/admin/users/{admin.id}", data=edit_form(admin, active=None))
    assert response.status_code == 422
    assert "You cannot deactivate yourself." in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{admin.id}", data=edit_form(admin, role="lead"))
    assert response.status_code == 302


def test_unknown_user_is_404(client, admin):
    assert client.get("/admin/users/999999").status_code == 404


# --- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "csm", "lead", "admin"])
def test_anyone_creates_a_token_shown_once_and_stored_hashed(client, login, role, now):
    user = UserFactory(role=role)
    db.session.commit()
    login(user)
    response = client.post("/account/tokens", data={"name": "Salesforce sync"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    token = re.search(r'<code class="token-value">([^<]+)</code>', html).group(1)
    assert "it will not be shown again" in html
    db.session.expire_all()
    record = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert record.name == "Salesforce sync"
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(record.prefix)
    assert user_for_token(token, now=now).id == user.id
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Salesforce sync" in listing and token not in listing
    assert f"{record.prefix}…" in listing
    session_cookie = client.get_cookie("session")
    assert session_cookie is None or token not in session_cookie.value


def test_a_token_needs_a_name(client, login):
    user = UserFactory()
    db.session.commit()
    login(user)
    response = client.post("/account/tokens", data={"name": "  "})
    assert response.status_code == 422
    assert 'id="name-error">Name the token' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.id)) is None


def test_users_see_and_revoke_only_their_own_tokens(client, login, now):
    me = UserFactory()
    other = UserFactory()
    mine, plain = create_token(me, name="mine", now=now)
    theirs, _ = create_token(other, name="theirs-token", now=now)
    db.session.commit()
    login(me)
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "mine" in listing and "theirs-token" not in listing
    assert client.post(f"/account/tokens/{theirs.id}/revoke").status_code == 403
    assert client.post("/account/tokens/999999/revoke").status_code == 404
    response = client.post(f"/account/tokens/{mine.id}/revoke")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, mine.id).revoked_at is not None
    assert db.session.get(ApiToken, theirs.id).revoked_at is None
    assert user_for_token(plain, now=now) is None
    assert "Revoked" in client.get("/account/tokens").get_data(as_text=True)


def test_revoking_needs_a_post(client, login, now):
    me = UserFactory()
    mine, _ = create_token(me, name="mine", now=now)
    db.session.commit()
    login(me)
    assert client.get(f"/account/tokens/{mine.id}/revoke").status_code == 405


def test_admin_sees_and_revokes_anyones_tokens(client, admin, now):
    user = UserFactory(name="Casey CSM")
    record, plain = create_token(user, name="Casey's integration", now=now)
    db.session.commit()
    html = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "Casey&#39;s integration" in html and f"{record.prefix}…" in html
    assert f"/admin/users/{user.id}/tokens/{record.id}/revoke" in html
    response = client.post(f"/admin/users/{user.id}/tokens/{record.id}/revoke")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, record.id).revoked_at is not None
    assert user_for_token(plain, now=now) is None
    # a token id under the wrong user is not found
    other, _ = create_token(admin, name="admin's", now=now)
    db.session.commit()
    assert client.post(f"/admin/users/{user.id}/tokens/{other.id}/revoke").status_code == 404
