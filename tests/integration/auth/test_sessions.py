"""Sessions end when they should: sign-out, a new password, role or active state end every
session and remember-me cookie of the user; sign-in starts a new session; remember-me and
the idle and absolute timeouts are bounded on the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from cs_app.auth import sessions
from cs_app.config import apply_environment
from cs_app.extensions import db
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.usefixtures("fresh_user_per_request")

SIGNED_IN_PAGE = "/"


@pytest.fixture
def user(app):
    person = UserFactory(email="casey@example.com", name="Casey CSM")
    db.session.commit()
    return person


@pytest.fixture
def admin(app):
    person = UserFactory(email="ada@example.com", name="Ada Admin", role="admin")
    db.session.commit()
    return person


def sign_in(client, user, *, remember=False):
    data = {"email": user.email, "password": TEST_PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response


def signed_in(client) -> bool:
    response = client.get(SIGNED_IN_PAGE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def client_with(app, **cookies):
    """A browser holding only ``cookies`` (a copy of a captured session or remember-me)."""
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser


def cookie(client, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def edit_user(client, person, **changes):
    data = {"name": person.name, "role": person.role, "active": "y", **changes}
    data = {key: value for key, value in data.items() if value is not None}
    response = client.post(f"/admin/users/{person.id}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


# --- sign-out -------------------------------------------------------------------------------


def test_a_session_cookie_captured_before_sign_out_is_refused_after_it(app, client, user):
    sign_in(client, user)
    captured = cookie(client, "session")
    assert signed_in(client_with(app, session=captured))  # the copy works while signed in
    client.post("/logout")
    assert not signed_in(client_with(app, session=captured))


def test_the_remember_me_cookie_alone_is_refused_after_sign_out(app, client, user):
    sign_in(client, user, remember=True)
    remembered = cookie(client, "remember_token")
    assert signed_in(client_with(app, remember_token=remembered))
    response = client.post("/logout")
    assert "remember_token=;" in " ".join(response.headers.getlist("Set-Cookie"))
    assert not signed_in(client_with(app, remember_token=remembered))


def test_sign_out_ends_the_users_sessions_in_other_browsers(app, client, user):
    other = app.test_client()
    sign_in(other, user)
    sign_in(client, user)
    client.post("/logout")
    assert not signed_in(other)


# --- changes an admin makes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"password": "a-brand-new-pass"}, id="password"),
        pytest.param({"role": "viewer"}, id="role"),
        pytest.param({"active": None}, id="deactivation"),
    ],
)
def test_an_admins_change_ends_every_session_of_the_user(app, client, user, admin, changes):
    sign_in(client, user, remember=True)
    captured = {"session": cookie(client, "session")}
    remembered = {"remember_token": cookie(client, "remember_token")}
    admin_browser = app.test_client()
    sign_in(admin_browser, admin)
    edit_user(admin_browser, user, **changes)
    assert not signed_in(client)
    assert not signed_in(client_with(app, **captured))
    assert not signed_in(client_with(app, **remembered))


def test_saving_only_the_name_keeps_the_users_sessions(app, client, user, admin):
    sign_in(client, user)
    admin_browser = app.test_client()
    sign_in(admin_browser, admin)
    edit_user(admin_browser, user, name="Casey Renamed")
    assert signed_in(client)


def test_an_admin_changing_their_own_password_stays_signed_in_here_only(app, client, admin):
    elsewhere = app.test_client()
    sign_in(elsewhere, admin)
    sign_in(client, admin)
    edit_user(client, admin, password="a-brand-new-pass")
    assert signed_in(client)
    assert not signed_in(elsewhere)


# --- signing in starts a new session --------------------------------------------------------


@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def csrf_token_from(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_sign_in_renews_the_session_and_the_csrf_token(app, client, user, csrf_on):
    before = csrf_token_from(client.get("/login").get_data(as_text=True))
    with client.session_transaction() as session:
        session["planted"] = "by someone who fixed this session"
    response = client.post(
        "/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
    after = csrf_token_from(client.get("/account/tokens").get_data(as_text=True))
    assert after != before
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


# --- how long sessions and remember-me last -------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """``clock.now`` is what the session code takes for now; tests move it."""

    class Clock:
        now = datetime.now(UTC)

    monkeypatch.setattr(sessions, "utcnow", lambda: Clock.now)
    return Clock


def test_remember_me_lasts_30_days_in_the_browser_and_on_the_server(app, user, clock):
    browser = app.test_client()
    sign_in(browser, user, remember=True)
    remembered = browser.get_cookie("remember_token")
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=30)
    lifetime = remembered.expires - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < lifetime <= timedelta(days=30)
    start = clock.now
    clock.now = start + timedelta(days=29, hours=23)
    assert signed_in(client_with(app, remember_token=remembered.value))
    clock.now = start + timedelta(days=30, minutes=1)
    assert not signed_in(client_with(app, remember_token=remembered.value))


def test_a_session_unused_past_the_idle_timeout_ends(app, client, user, clock):
    assert app.config["SESSION_IDLE_SECONDS"] == 12 * 3600
    sign_in(client, user)
    start = clock.now
    clock.now = start + timedelta(hours=11, minutes=59)
    assert signed_in(client)  # used: the idle time starts again
    clock.now += timedelta(hours=11, minutes=59)
    assert signed_in(client)
    clock.now += timedelta(hours=12, minutes=1)
    assert not signed_in(client)


def test_a_session_ends_at_the_absolute_timeout_however_busy(app, client, user, clock):
    assert app.config["SESSION_MAX_SECONDS"] == 7 * 24 * 3600
    sign_in(client, user)
    start = clock.now
    while clock.now < start + timedelta(days=6, hours=23):
        assert signed_in(client)
        clock.now += timedelta(hours=11)
    clock.now = start + timedelta(days=7, minutes=1)
    assert not signed_in(client)


def test_the_timeouts_follow_the_configuration(app, client, user, clock, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_SECONDS", 600)
    sign_in(client, user)
    clock.now += timedelta(minutes=11)
    assert not signed_in(client)


def test_session_settings_come_from_the_environment():
    config: dict = {}
    apply_environment(
        config,
        {
            "CS_APP_REMEMBER_COOKIE_SECONDS": "86400",
            "CS_APP_SESSION_IDLE_SECONDS": "1800",
            "CS_APP_SESSION_MAX_SECONDS": "28800",
            "CS_APP_TRUSTED_PROXIES": "2",
        },
    )
    assert config == {
        "REMEMBER_COOKIE_DURATION": timedelta(days=1),
        "SESSION_IDLE_SECONDS": 1800,
        "SESSION_MAX_SECONDS": 28800,
        "TRUSTED_PROXIES": 2,
    }


# --- changing one's own password --------------------------------------------------------------


def change_password(client, current, new, confirm=None):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_changing_your_own_password_signs_out_your_other_browsers_only(app, client, user):
    elsewhere = app.test_client()
    sign_in(elsewhere, user)
    sign_in(client, user)
    response = change_password(client, TEST_PASSWORD, "a-fresh-secret-9")
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(elsewhere)
    assert client.post("/logout").status_code == 302
    relogin = client.post("/login", data={"email": user.email, "password": "a-fresh-secret-9"})
    assert relogin.status_code == 302


@pytest.mark.parametrize(
    "current, new, confirm, field, message",
    [
        ("not-my-password", "a-fresh-secret-9", None, "current_password", "not your current"),
        (TEST_PASSWORD, "short", None, "new_password", "at least 8"),
        (TEST_PASSWORD, TEST_PASSWORD, None, "new_password", "different from the current"),
        (TEST_PASSWORD, "a-fresh-secret-9", "a-fresh-secret-8", "confirm", "differ"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    app, client, user, current, new, confirm, field, message
):
    elsewhere = app.test_client()
    sign_in(elsewhere, user)
    sign_in(client, user)
    hash_before = user.password_hash
    response = change_password(client, current, new, confirm)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page and message in page
    db.session.expire_all()
    assert db.session.get(type(user), user.id).password_hash == hash_before
    assert signed_in(elsewhere) and signed_in(client)
