"""Users, passwords, API tokens and sign-in throttling."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from cs_app.auth.models import ROLES, ApiToken, LoginFailure, User
from cs_app.auth.throttling import FailureCount, ThrottlePolicy, seconds_to_wait
from cs_app.errors import ValidationError
from cs_app.extensions import db

TOKEN_PREFIX = "csa_"
MIN_PASSWORD_LENGTH = 8
TOO_SHORT = f"Use at least {MIN_PASSWORD_LENGTH} characters."
TOKEN_USE_RECORDED_EVERY = timedelta(minutes=5)  # a token's last-used time is this coarse


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def list_users() -> list[User]:
    """Active users first, then by name: the admin's user list."""
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.name)))


def create_user(
    email: str, *, role: str, name: str | None = None, password: str | None = None, now: datetime
) -> User:
    errors: dict[str, str] = {}
    email = (email or "").strip()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        errors["email"] = "Enter an email address like name@example.com."
    elif find_user(email) is not None:
        errors["email"] = f"A user with the email {email} already exists."
    if role not in ROLES:
        errors["role"] = f"Role must be one of: {', '.join(ROLES)}."
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = TOO_SHORT
    if errors:
        raise ValidationError("The user was not created: " + " ".join(errors.values()), errors)
    user = User(
        email=email.lower(),
        name=name or email.split("@")[0].replace(".", " ").title(),
        role=role,
        created_at=now,
        password_hash=hash_password(password) if password else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def change_own_password(user: User, *, current: str, new: str) -> None:
    """A user's new password of their own choosing: the current one must match, the new one
    be long enough and different. Every session of the user ends (the caller starts this
    browser's again), so a session someone else holds stops with the old password."""
    errors: dict[str, str] = {}
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        errors["current_password"] = "That is not your current password."
    if len(new or "") < MIN_PASSWORD_LENGTH:
        errors["new_password"] = TOO_SHORT
    elif new == current:
        errors["new_password"] = "Choose a password different from the current one."
    if errors:
        raise ValidationError("Your password was not changed.", errors)
    user.password_hash = hash_password(new)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """End every session and remember-me cookie of ``user`` (sign-out, a new password, a new
    role, deactivation): their identity carries the session version, which moves on."""
    user.session_version = User.session_version + 1
    db.session.flush()


# --- signing in, throttled ------------------------------------------------------------------


@dataclass(frozen=True)
class SignInAttempt:
    """The user when the password matched; ``retry_after`` > 0 when the attempt was
    throttled and nothing was checked."""

    user: User | None
    retry_after: int = 0


_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash of a random password in the configured method: checked when the address is
    unknown, so an unknown address costs the same time as a known one."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_urlsafe(24), method=method)
    return _dummy_hashes[method]


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def throttle_policy() -> ThrottlePolicy:
    config = current_app.config
    return ThrottlePolicy(
        free_per_client_and_account=config["LOGIN_FREE_ATTEMPTS"],
        free_per_client=config["LOGIN_CLIENT_FREE_ATTEMPTS"],
        max_delay_seconds=config["LOGIN_MAX_DELAY_SECONDS"],
        global_ceiling=config["LOGIN_GLOBAL_FAILURE_CEILING"],
        global_delay_seconds=config["LOGIN_GLOBAL_DELAY_SECONDS"],
    )


def _window_start(now: datetime) -> datetime:
    return now - timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])


def _failures(*conditions, now: datetime, limit: int | None = None) -> FailureCount:
    recent = select(LoginFailure.failed_at).where(
        LoginFailure.failed_at > _window_start(now), *conditions
    )
    if limit is not None:  # the overall count only needs to know it reached the ceiling
        recent = recent.order_by(LoginFailure.failed_at.desc()).limit(limit)
    recent = recent.subquery()
    failures, newest = db.session.execute(select(func.count(), func.max(recent.c.failed_at))).one()
    return FailureCount(failures=failures, newest=newest)


def sign_in_wait(email: str, *, client: str, now: datetime) -> int:
    """Seconds ``client`` must still wait before trying ``email`` again (0: go ahead)."""
    policy = throttle_policy()
    key = account_key(email)
    return seconds_to_wait(
        client_and_account=_failures(
            LoginFailure.client == client, LoginFailure.account_key == key, now=now
        ),
        client=_failures(LoginFailure.client == client, now=now),
        overall=_failures(now=now, limit=policy.global_ceiling),
        policy=policy,
        now=now,
    )


def attempt_sign_in(email: str, password: str, *, client: str, now: datetime) -> SignInAttempt:
    """Check the password unless ``client`` must wait (see ``cs_app.auth.throttling``).

    A failure is recorded against the client and the (client, address) pair, whether the
    address is known or not; a success forgets this client's failures for that address.
    """
    wait = sign_in_wait(email, client=client, now=now)
    if wait:
        return SignInAttempt(user=None, retry_after=wait)
    user = find_user(email)
    stored_hash = user.password_hash if user is not None else None
    matches = check_password_hash(stored_hash or _dummy_hash(), password)
    key = account_key(email)
    if matches and stored_hash is not None and user.active:
        db.session.execute(
            delete(LoginFailure).where(
                LoginFailure.client == client, LoginFailure.account_key == key
            )
        )
        return SignInAttempt(user=user)
    db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= _window_start(now)))
    db.session.add(LoginFailure(client=client, account_key=key, failed_at=now))
    db.session.flush()
    return SignInAttempt(user=None)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, *, name: str, now: datetime) -> tuple[ApiToken, str]:
    """A new API token; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        name=name or "API token",
        prefix=token[:10],
        token_hash=_hash_token(token),
        created_at=now,
    )
    db.session.add(record)
    db.session.flush()
    return record, token


def live_token(token: str) -> ApiToken | None:
    """The token's record, unless it is unknown, revoked or its user is deactivated."""
    record = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None or record.revoked_at is not None or not record.user.active:
        return None
    return record


def user_for_token(token: str, *, now: datetime) -> User | None:
    """The token's user; reading only (``record_token_use`` writes the last-used time)."""
    record = live_token(token)
    return None if record is None else record.user


def token_use_is_stale(record: ApiToken, *, now: datetime) -> bool:
    """True when the token's last-used time is older than ``TOKEN_USE_RECORDED_EVERY``."""
    return record.last_used_at is None or now - record.last_used_at >= TOKEN_USE_RECORDED_EVERY


def record_token_use(token_id: int, *, now: datetime) -> bool:
    """Set the token's last-used time unless another request did within
    ``TOKEN_USE_RECORDED_EVERY``: one conditional UPDATE, so concurrent requests with one
    token write it once. True when this call wrote it."""
    return bool(
        db.session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                (ApiToken.last_used_at.is_(None))
                | (ApiToken.last_used_at <= now - TOKEN_USE_RECORDED_EVERY),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def get_token(token_id: int) -> ApiToken | None:
    return db.session.get(ApiToken, token_id)


def tokens_of(user_id: int) -> list[ApiToken]:
    """A user's tokens: the live ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(
                ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()
            )
        )
    )


def revoke_token(record: ApiToken, *, now: datetime) -> None:
    if record.revoked_at is None:
        record.revoked_at = now
    db.session.flush()


def _active_admin_count() -> int:
    return (
        db.session.scalar(
            select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
        )
        or 0
    )


def update_user(user: User, values: dict, *, actor: User, now: datetime) -> User:
    """Change name, role, active, away and (when given) the password. Refuses a change that
    would leave nobody able to manage users (the last active admin demoted or deactivated).
    A new password, role or active state ends all of the user's sessions."""
    errors: dict[str, str] = {}
    name = (values.get("name") or "").strip() if "name" in values else user.name
    if not name:
        errors["name"] = "Enter the person's name."
    role = values.get("role", user.role)
    if role not in ROLES:
        errors["role"] = f"Role must be one of: {', '.join(ROLES)}."
    active = bool(values.get("active", user.active))
    password = values.get("password")
    if password and len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = TOO_SHORT
    stays_admin = role == "admin" and active
    if user.role == "admin" and user.active and not stays_admin and _active_admin_count() <= 1:
        message = "This is the last active admin; make someone else admin first."
        errors["active" if role == "admin" else "role"] = message
    elif user.id == actor.id and not active:
        errors["active"] = "You cannot deactivate yourself."
    if errors:
        raise ValidationError("The user was not saved: " + " ".join(errors.values()), errors)
    ends_sessions = bool(password) or role != user.role or active != user.active
    user.name = name
    user.role = role
    user.active = active
    user.away = bool(values.get("away", user.away))
    if password:
        user.password_hash = hash_password(password)
    db.session.flush()
    if ends_sessions:
        end_sessions(user)
    return user
