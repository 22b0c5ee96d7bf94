"""`cs-app check` and `cs-app serve`: which settings are warned about, and when the demo loads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cs_app.self_check import Deployment, should_load_demo, warnings

SAFE = Deployment(
    secret_key_generated=False,
    secure_cookies=True,
    database_dialect="postgresql",
    demo_users_active=0,
    debug=False,
)


def test_a_safe_deployment_has_no_warnings():
    assert warnings(SAFE) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"secret_key_generated": True}, "CS_APP_SECRET_KEY"),
        ({"secure_cookies": False}, "CS_APP_SECURE_COOKIES=1"),
        ({"demo_users_active": 7}, "7 demo user(s)"),
        ({"debug": True}, "Debug mode is on"),
    ],
)
def test_each_unsafe_setting_is_warned_about(change, words):
    found = warnings(replace(SAFE, **change))
    assert len(found) == 1 and words in found[0]


def test_demo_users_on_sqlite_are_the_demo_itself():
    assert warnings(replace(SAFE, database_dialect="sqlite", demo_users_active=7)) == []


@pytest.mark.parametrize(
    ("asked", "empty", "dialect", "loads"),
    [
        (None, True, "sqlite", True),
        (None, False, "sqlite", False),
        (None, True, "postgresql", False),  # never silently into a team's database
        (True, True, "postgresql", True),
        (True, False, "postgresql", True),
        (False, True, "sqlite", False),
    ],
)
def test_the_demo_loads_by_itself_only_into_an_empty_sqlite_database(asked, empty, dialect, loads):
    assert should_load_demo(asked, database_empty=empty, database_dialect=dialect) is loads
