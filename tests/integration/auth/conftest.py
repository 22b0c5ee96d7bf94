"""Fixtures of the sign-in and session tests."""

from __future__ import annotations

import pytest
from flask import g, request_started


@pytest.fixture
def fresh_user_per_request(app):
    """Each request loads its user from its own cookies, as in production. The tests share
    one app context, where Flask-Login would otherwise keep the user of the request before
    (``g._login_user``) and never look at the cookies again."""

    def forget_user(sender, **extra):
        g.pop("_login_user", None)

    request_started.connect(forget_user, app)
    try:
        yield
    finally:
        request_started.disconnect(forget_user, app)
