"""Signed-in sessions: starting and ending them, which ones still count, and their timeouts.

A session (and a remember-me cookie, which Flask-Login fills from the same value) names its
user as ``"<user id>:<session version>:<sign-in time>"``. The session version belongs to the
user (``User.session_version``) and moves on at sign-out and at a new password, role or
active state, so every earlier session and remember-me cookie of that user stops loading
anyone. The sign-in time bounds a remember-me cookie on the server, not only by its expiry
in the browser. Each session also keeps when it began and when it was last used, for the
idle and absolute timeouts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, current_app, g, session
from flask_login import login_user, logout_user, user_loaded_from_cookie

from cs_app.auth import service
from cs_app.auth.models import User
from cs_app.db_types import utcnow

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
SEEN_RECORDED_EVERY_SECONDS = 60  # the last-used time is this coarse (fewer new cookies)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def session_identity(user: User, signed_in_at: datetime) -> str:
    return f"{user.get_id()}:{_seconds(signed_in_at)}"


def start_session(user: User, *, remember: bool, now: datetime) -> None:
    """Sign ``user`` in on a new session: nothing of the session before it survives, the
    CSRF token included."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's per-request copy of the old token
    login_user(user, remember=remember)
    session["_user_id"] = session_identity(user, now)
    session[SIGNED_IN_AT] = session[SEEN_AT] = _seconds(now)


def end_session() -> None:
    """Forget this browser's session and tell it to drop the remember-me cookie (the
    caller ends the user's other sessions with ``service.end_sessions``)."""
    session.clear()
    logout_user()


def load_user(identity: str) -> User | None:
    """Flask-Login's user loader: the active user, unless the session version moved on since
    the sign-in or the sign-in is older than anything may live (remember-me or session)."""
    try:
        user_id, version, signed_in_at = (int(part) for part in identity.split(":"))
    except ValueError:
        return None
    config = current_app.config
    remember = config["REMEMBER_COOKIE_DURATION"]  # Flask-Login also takes plain seconds
    if isinstance(remember, timedelta):
        remember = remember.total_seconds()
    longest = max(remember, config["SESSION_MAX_SECONDS"])
    if _seconds(utcnow()) - signed_in_at > longest:
        return None
    user = service.get_user(user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def end_expired_session() -> None:
    """Before every request: a session unused past ``SESSION_IDLE_SECONDS`` or older than
    ``SESSION_MAX_SECONDS`` is emptied (a valid remember-me cookie may then start a new
    one); a live one records that it was used."""
    if "_user_id" not in session:
        return
    now = _seconds(utcnow())
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    config = current_app.config
    if (
        not isinstance(signed_in_at, int)
        or not isinstance(seen_at, int)
        or now - seen_at > config["SESSION_IDLE_SECONDS"]
        or now - signed_in_at > config["SESSION_MAX_SECONDS"]
    ):
        session.clear()
        return
    if now - seen_at >= SEEN_RECORDED_EVERY_SECONDS:
        session[SEEN_AT] = now


def _session_from_remember_cookie(app: Flask, user: User) -> None:
    """A remember-me cookie started a new session: its timeouts count from now."""
    session[SIGNED_IN_AT] = session[SEEN_AT] = _seconds(utcnow())


def register_sessions(app: Flask) -> None:
    app.before_request(end_expired_session)
    user_loaded_from_cookie.connect(_session_from_remember_cookie, app)
