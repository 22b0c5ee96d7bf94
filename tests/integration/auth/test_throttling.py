"""Sign-in throttling that cannot be turned against users: failures slow the client that made
them (for every address, and sooner for the address it failed against), a global ceiling slows
everyone, and an unknown address costs the same time as a known one."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import generate_password_hash

from cs_app.auth import service
from cs_app.auth.models import LoginFailure
from cs_app.config import TestConfig, apply_environment
from cs_app.db_types import utcnow
from cs_app.extensions import db
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.usefixtures("fresh_user_per_request")

ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


@pytest.fixture
def user(app):
    person = UserFactory(email="casey@example.com", name="Casey CSM")
    db.session.commit()
    return person


def sign_in(client, email, password, client_address=ATTACKER, **params):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": client_address},
        **params,
    )


def age_failures(seconds: int) -> None:
    """Move every recorded failure ``seconds`` into the past (waiting, without the wait)."""
    for failure in db.session.scalars(select(LoginFailure)):
        failure.failed_at -= timedelta(seconds=seconds)
    db.session.commit()


def assert_throttled(response, email: str) -> int:
    html = response.get_data(as_text=True)
    assert response.status_code == 429, html[:300]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    assert f"Too many failed sign-ins. Try again in {retry_after} seconds." in html
    assert f'value="{email}"' in html  # the form is shown again, the address kept
    return retry_after


# --- per client and account -----------------------------------------------------------------


def test_an_attack_on_an_address_does_not_lock_its_owner_out(app, client, user):
    for _ in range(10):
        sign_in(client, user.email, "wrong-password")
    assert_throttled(sign_in(client, user.email, TEST_PASSWORD), user.email)
    owner = app.test_client()
    response = sign_in(owner, user.email, TEST_PASSWORD, client_address=OWNER)
    assert response.status_code == 302
    assert owner.get("/").status_code == 200


def test_a_client_that_failed_against_an_address_waits_even_with_the_right_password(
    app, client, user
):
    free = app.config["LOGIN_FREE_ATTEMPTS"]
    for _ in range(free):
        assert sign_in(client, user.email, "wrong-password").status_code == 401
    assert assert_throttled(sign_in(client, user.email, TEST_PASSWORD), user.email) == 2
    assert client.get("/").status_code == 302
    # each further failure after a wait doubles it
    age_failures(2)
    assert sign_in(client, user.email, "wrong-password").status_code == 401
    assert assert_throttled(sign_in(client, user.email, TEST_PASSWORD), user.email) == 4
    # once the wait is over the right password works and the client's slate is wiped
    age_failures(4)
    assert sign_in(client, user.email, TEST_PASSWORD).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 0


def test_failures_before_the_limit_do_not_slow(app, client, user):
    for _ in range(app.config["LOGIN_FREE_ATTEMPTS"] - 1):
        assert sign_in(client, user.email, "wrong-password").status_code == 401
    assert sign_in(client, user.email, TEST_PASSWORD).status_code == 302


def test_an_unknown_address_is_throttled_like_a_known_one(app, client):
    for _ in range(app.config["LOGIN_FREE_ATTEMPTS"]):
        assert sign_in(client, "nobody@example.com", "wrong-password").status_code == 401
    assert_throttled(sign_in(client, "nobody@example.com", "whatever"), "nobody@example.com")


# --- per client, whatever the address -------------------------------------------------------


def test_a_client_trying_many_addresses_is_slowed(app, client, user):
    free = app.config["LOGIN_CLIENT_FREE_ATTEMPTS"]
    for number in range(free):
        response = sign_in(client, f"guess{number}@example.com", "wrong-password")
        assert response.status_code == 401
    assert_throttled(sign_in(client, user.email, TEST_PASSWORD), user.email)
    # another client is not slowed by it
    assert sign_in(app.test_client(), user.email, TEST_PASSWORD, OWNER).status_code == 302


def test_forwarded_for_is_ignored_without_trusted_proxies(app, client):
    for number in range(app.config["LOGIN_CLIENT_FREE_ATTEMPTS"]):
        sign_in(
            client,
            f"guess{number}@example.com",
            "wrong-password",
            headers={"X-Forwarded-For": f"192.0.2.{number}"},
        )
    response = sign_in(
        client, "one-more@example.com", "x", headers={"X-Forwarded-For": "192.0.2.200"}
    )
    assert_throttled(response, "one-more@example.com")


def test_behind_trusted_proxies_the_forwarded_client_is_throttled(app, user, monkeypatch):
    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1))
    client = app.test_client()
    for _ in range(app.config["LOGIN_FREE_ATTEMPTS"]):
        sign_in(client, user.email, "wrong", headers={"X-Forwarded-For": ATTACKER})
    response = sign_in(client, user.email, TEST_PASSWORD, headers={"X-Forwarded-For": ATTACKER})
    assert_throttled(response, user.email)
    response = sign_in(client, user.email, TEST_PASSWORD, headers={"X-Forwarded-For": OWNER})
    assert response.status_code == 302
    assert db.session.scalar(select(LoginFailure.client).limit(1)) == ATTACKER


def test_trusted_proxies_come_from_the_configuration(database_url):
    from cs_app import create_app

    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    settings["SQLALCHEMY_DATABASE_URI"] = database_url
    plain = create_app(settings)
    assert not isinstance(plain.wsgi_app, ProxyFix)
    proxied = create_app({**settings, "TRUSTED_PROXIES": 2})
    assert isinstance(proxied.wsgi_app, ProxyFix)
    assert (proxied.wsgi_app.x_for, proxied.wsgi_app.x_proto) == (2, 2)


# --- everyone, when failures pile up --------------------------------------------------------


def test_the_global_ceiling_slows_everyone(app, user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_GLOBAL_FAILURE_CEILING", 3)
    for number in range(3):
        response = sign_in(
            app.test_client(), f"guess{number}@example.com", "wrong", f"192.0.2.{number}"
        )
        assert response.status_code == 401
    clean = app.test_client()
    retry_after = assert_throttled(sign_in(clean, user.email, TEST_PASSWORD, OWNER), user.email)
    assert retry_after == app.config["LOGIN_GLOBAL_DELAY_SECONDS"]
    age_failures(retry_after)
    assert sign_in(clean, user.email, TEST_PASSWORD, OWNER).status_code == 302


def test_below_the_global_ceiling_a_clean_client_is_not_slowed(app, user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_GLOBAL_FAILURE_CEILING", 4)
    for number in range(3):
        sign_in(app.test_client(), f"guess{number}@example.com", "wrong", f"192.0.2.{number}")
    assert sign_in(app.test_client(), user.email, TEST_PASSWORD, OWNER).status_code == 302


# --- the table stays small ------------------------------------------------------------------


def test_failures_older_than_the_window_are_pruned(app, now):
    window = timedelta(seconds=app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    service.attempt_sign_in("a@example.com", "x", client=ATTACKER, now=now)
    service.attempt_sign_in("b@example.com", "x", client=OWNER, now=now + timedelta(seconds=2))
    later = now + window + timedelta(seconds=1)
    assert service.sign_in_wait("a@example.com", client=ATTACKER, now=later) == 0
    service.attempt_sign_in("c@example.com", "x", client=ATTACKER, now=later)
    assert db.session.scalars(select(LoginFailure.client).order_by(LoginFailure.id)).all() == [
        OWNER,
        ATTACKER,
    ]
    typed = db.session.scalars(select(LoginFailure.account_key)).all()
    assert "b@example.com" not in typed and service.account_key("b@example.com") in typed


def test_throttle_settings_come_from_the_environment():
    config: dict = {}
    apply_environment(
        config,
        {
            "CS_APP_LOGIN_FREE_ATTEMPTS": "3",
            "CS_APP_LOGIN_CLIENT_FREE_ATTEMPTS": "30",
            "CS_APP_LOGIN_MAX_DELAY_SECONDS": "60",
            "CS_APP_LOGIN_GLOBAL_FAILURE_CEILING": "500",
            "CS_APP_LOGIN_GLOBAL_DELAY_SECONDS": "1",
            "CS_APP_LOGIN_THROTTLE_WINDOW_SECONDS": "900",
        },
    )
    assert config == {
        "LOGIN_FREE_ATTEMPTS": 3,
        "LOGIN_CLIENT_FREE_ATTEMPTS": 30,
        "LOGIN_MAX_DELAY_SECONDS": 60,
        "LOGIN_GLOBAL_FAILURE_CEILING": 500,
        "LOGIN_GLOBAL_DELAY_SECONDS": 1,
        "LOGIN_THROTTLE_WINDOW_SECONDS": 900,
    }


# --- unknown and known addresses take the same time -----------------------------------------


def test_an_unknown_address_checks_a_password_hash_too(app, user, monkeypatch):
    checked: list[str] = []
    real_check = service.check_password_hash

    def spy(stored_hash, password):
        checked.append(stored_hash)
        return real_check(stored_hash, password)

    monkeypatch.setattr(service, "check_password_hash", spy)
    now = utcnow()
    assert service.attempt_sign_in("nobody@example.com", "x", client=ATTACKER, now=now).user is None
    assert service.attempt_sign_in(user.email, "x", client=OWNER, now=now).user is None
    assert len(checked) == 2
    method = app.config["PASSWORD_HASH_METHOD"]
    assert all(stored.startswith(method.split(":")[0]) for stored in checked)


def test_unknown_and_known_addresses_take_comparable_time(app, client, monkeypatch):
    """With a deliberately slow hash (as in production), the unknown address must cost about
    as much as a known one: before, it answered in ~11 ms against ~185 ms."""
    method = "pbkdf2:sha256:150000"
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", method)
    monkeypatch.setitem(app.config, "LOGIN_FREE_ATTEMPTS", 100)
    monkeypatch.setitem(app.config, "LOGIN_CLIENT_FREE_ATTEMPTS", 100)
    known = UserFactory(password_hash=generate_password_hash(TEST_PASSWORD, method=method))
    db.session.commit()
    sign_in(client, "warm-up@example.com", "wrong")  # the dummy hash is made once

    def seconds(email: str) -> float:
        start = time.perf_counter()
        assert sign_in(client, email, "wrong-password").status_code == 401
        return time.perf_counter() - start

    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(5):
        timings["known"].append(seconds(known.email))
        timings["unknown"].append(seconds("nobody@example.com"))
    known_median = statistics.median(timings["known"])
    unknown_median = statistics.median(timings["unknown"])
    assert unknown_median > known_median / 2, timings
