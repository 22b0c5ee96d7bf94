"""Signing in and out, CSRF, cookies, how secrets are stored, and the users CLI (sessions:
test_sessions.py; throttling: test_throttling.py)."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from cs_app.auth.models import ApiToken, User
from cs_app.auth.service import create_token, create_user, find_user, user_for_token
from cs_app.cli import main
from cs_app.extensions import db
from tests.factories import TEST_PASSWORD, UserFactory


@pytest.fixture
def user(app):
    person = UserFactory(email="casey@example.com", name="Casey CSM")
    db.session.commit()
    return person


def sign_in(client, email, password, **params):
    return client.post("/login", data={"email": email, "password": password}, **params)


# --- signing in -----------------------------------------------------------------------------


def test_sign_in_lands_on_my_work(client, user):
    response = sign_in(client, "Casey@Example.com ", TEST_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "My work" in client.get("/").get_data(as_text=True)


def test_sign_in_follows_a_local_next_but_not_another_site(client, user):
    response = sign_in(client, user.email, TEST_PASSWORD, query_string={"next": "/accounts"})
    assert response.headers["Location"] == "/accounts"
    client.post("/logout")
    response = sign_in(
        client, user.email, TEST_PASSWORD, query_string={"next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/"


def test_a_wrong_password_is_refused_with_401_and_the_email_is_kept(client, user):
    response = sign_in(client, "casey@example.com", "wrong-password")
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "That email and password do not match an active user." in html
    assert 'value="casey@example.com"' in html
    assert "wrong-password" not in html
    assert client.get("/").status_code == 302  # still signed out


def test_an_unknown_email_gets_the_same_answer(client, app):
    response = sign_in(client, "nobody@example.com", "whatever-pass")
    assert response.status_code == 401
    assert "That email and password do not match an active user." in response.get_data(as_text=True)


def test_empty_fields_are_named(client, app):
    response = client.post("/login", data={"email": "", "password": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your email address." in html and "Enter your password." in html


def test_an_inactive_user_cannot_sign_in(client, app):
    UserFactory(email="gone@example.com", active=False)
    db.session.commit()
    response = sign_in(client, "gone@example.com", TEST_PASSWORD)
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_a_user_deactivated_while_signed_in_is_signed_out(client, user, login):
    login(user)
    assert client.get("/").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/").status_code == 302


# --- signing out ----------------------------------------------------------------------------


def test_sign_out_is_post_only(client, user, login):
    login(user)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


# --- CSRF and cookies -----------------------------------------------------------------------


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield app
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def csrf_token_from(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_a_post_without_the_csrf_token_is_refused(client, user, csrf_on):
    response = sign_in(client, user.email, TEST_PASSWORD)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    # signed in, every form still needs the token
    assert client.post("/logout").status_code == 400
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/").status_code == 200


def test_the_session_cookie_is_http_only_and_same_site_lax(client, user):
    response = sign_in(client, user.email, TEST_PASSWORD)
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session
    assert "SameSite=Lax" in session


def test_pages_send_security_headers(client, app):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


# --- how secrets are stored -----------------------------------------------------------------


def test_passwords_are_stored_hashed(app, now):
    user = create_user("hashed@example.com", role="csm", password="s3cret-pass", now=now)
    assert user.password_hash != "s3cret-pass"
    assert "s3cret-pass" not in user.password_hash
    assert check_password_hash(user.password_hash, "s3cret-pass")


def test_api_tokens_are_stored_as_sha256_only(app, now, user):
    record, token = create_token(user, name="integration", now=now)
    db.session.commit()
    stored = db.session.scalar(select(ApiToken.token_hash).where(ApiToken.id == record.id))
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored and len(token) > 30
    assert user_for_token(token, now=now).id == user.id
    assert user_for_token(token + "x", now=now) is None


# --- the users CLI --------------------------------------------------------------------------


def run_cli(app, *args, input=None):
    return app.test_cli_runner().invoke(main, list(args), input=input)


def test_cli_creates_a_user_with_a_hashed_password(app):
    result = run_cli(
        app,
        "users",
        "create",
        "Lena@Example.com",
        "--role",
        "lead",
        "--name",
        "Lena Lead",
        "--password",
        "long-enough-1",
    )
    assert result.exit_code == 0, result.output
    assert "Created lead lena@example.com (Lena Lead)." in result.output
    user = find_user("lena@example.com")
    assert (user.role, user.name) == ("lead", "Lena Lead")
    assert check_password_hash(user.password_hash, "long-enough-1")


def test_cli_reads_the_password_from_input_when_not_given(app, client):
    result = run_cli(
        app, "users", "create", "pat@example.com", "--role", "csm", input="typed-password\n"
    )
    assert result.exit_code == 0, result.output
    assert "typed-password" not in result.output
    assert sign_in(client, "pat@example.com", "typed-password").status_code == 302


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["taken@example.com", "--role", "csm", "--password", "long-enough-1"],
            "A user with the email taken@example.com already exists.",
        ),
        (
            ["not-an-email", "--role", "csm", "--password", "long-enough-1"],
            "Enter an email address like name@example.com.",
        ),
        (
            ["short@example.com", "--role", "csm", "--password", "short"],
            "Use at least 8 characters.",
        ),
        (
            ["role@example.com", "--role", "emperor", "--password", "long-enough-1"],
            "Invalid value for '--role'",
        ),
    ],
)
def test_cli_create_refusals(app, args, message):
    UserFactory(email="taken@example.com")
    db.session.commit()
    result = run_cli(app, "users", "create", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert (
        db.session.scalar(select(User.id).where(User.email == args[0])) is None
        or args[0] == "taken@example.com"
    )


def test_cli_prints_a_token_as_its_last_line(app, now, user):
    result = run_cli(app, "users", "token", "casey@example.com", "--name", "billing sync")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert user_for_token(token, now=now).id == user.id
    record = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert record.name == "billing sync"
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_cli_token_for_an_unknown_user_is_refused(app):
    result = run_cli(app, "users", "token", "nobody@example.com")
    assert result.exit_code != 0
    assert "No user has the email nobody@example.com." in result.output
    assert db.session.scalar(select(ApiToken.id)) is None
