"""Configuration: SQLite in the instance folder by default, the environment overrides.

Every key of SPEC §3 can come from the environment or from ``config.py`` in the instance folder
(see ``cs_app.paths``); the environment wins so that a deployment can be reconfigured without
touching files.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

ENVIRONMENT_KEYS = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "CS_APP_SECRET_KEY": "SECRET_KEY",
    "CS_APP_SMTP_HOST": "SMTP_HOST",
    "CS_APP_SMTP_PORT": "SMTP_PORT",
    "CS_APP_SMTP_USER": "SMTP_USER",
    "CS_APP_SMTP_PASSWORD": "SMTP_PASSWORD",
    "CS_APP_SMTP_TLS": "SMTP_TLS",
    "CS_APP_MAIL_FROM": "MAIL_FROM",
    "CS_APP_WEBHOOK_URL": "WEBHOOK_URL",
    "CS_APP_WEBHOOK_SECRET": "WEBHOOK_SECRET",
    "CS_APP_DELIVERY_LEASE_SECONDS": "DELIVERY_LEASE_SECONDS",
    "CS_APP_SECURE_COOKIES": "SESSION_COOKIE_SECURE",
    "CS_APP_JOBS_EVERY_SECONDS": "JOBS_EVERY_SECONDS",
    "CS_APP_TRUSTED_PROXIES": "TRUSTED_PROXIES",
    "CS_APP_REMEMBER_COOKIE_SECONDS": "REMEMBER_COOKIE_DURATION",
    "CS_APP_SESSION_IDLE_SECONDS": "SESSION_IDLE_SECONDS",
    "CS_APP_SESSION_MAX_SECONDS": "SESSION_MAX_SECONDS",
    "CS_APP_LOGIN_FREE_ATTEMPTS": "LOGIN_FREE_ATTEMPTS",
    "CS_APP_LOGIN_CLIENT_FREE_ATTEMPTS": "LOGIN_CLIENT_FREE_ATTEMPTS",
    "CS_APP_LOGIN_MAX_DELAY_SECONDS": "LOGIN_MAX_DELAY_SECONDS",
    "CS_APP_LOGIN_GLOBAL_FAILURE_CEILING": "LOGIN_GLOBAL_FAILURE_CEILING",
    "CS_APP_LOGIN_GLOBAL_DELAY_SECONDS": "LOGIN_GLOBAL_DELAY_SECONDS",
    "CS_APP_LOGIN_THROTTLE_WINDOW_SECONDS": "LOGIN_THROTTLE_WINDOW_SECONDS",
    "CS_APP_MAX_REQUEST_BYTES": "MAX_CONTENT_LENGTH",
}

BOOLEAN_KEYS = {"SMTP_TLS", "SESSION_COOKIE_SECURE"}
INTEGER_KEYS = {
    "SMTP_PORT",
    "DELIVERY_LEASE_SECONDS",
    "JOBS_EVERY_SECONDS",
    "TRUSTED_PROXIES",
    "SESSION_IDLE_SECONDS",
    "SESSION_MAX_SECONDS",
    "LOGIN_FREE_ATTEMPTS",
    "LOGIN_CLIENT_FREE_ATTEMPTS",
    "LOGIN_MAX_DELAY_SECONDS",
    "LOGIN_GLOBAL_FAILURE_CEILING",
    "LOGIN_GLOBAL_DELAY_SECONDS",
    "LOGIN_THROTTLE_WINDOW_SECONDS",
    "MAX_CONTENT_LENGTH",
}
# given in seconds in the environment, kept as a duration
DURATION_KEYS = {"REMEMBER_COOKIE_DURATION"}


def normalize_database_url(url: str) -> str:
    """Point plain ``postgres://`` / ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled in from the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SECRET_KEY: str | None = None
    WTF_CSRF_TIME_LIMIT = None  # a plan left open over lunch must still save
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # CS_APP_SECURE_COOKIES=1 behind HTTPS
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # "Keep me signed in" lasts this long from the sign-in, checked on the server too
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    SESSION_IDLE_SECONDS = 12 * 3600  # a session unused this long ends
    SESSION_MAX_SECONDS = 7 * 24 * 3600  # and any session ends this long after its sign-in
    TRUSTED_PROXIES = 0  # reverse proxies in front whose X-Forwarded-For/-Proto are believed
    PASSWORD_HASH_METHOD = "scrypt"
    # Sign-in throttling (cs_app.auth.throttling): failures within the window are counted
    LOGIN_THROTTLE_WINDOW_SECONDS = 3600
    LOGIN_FREE_ATTEMPTS = 5  # failures by one client for one address before it waits
    LOGIN_CLIENT_FREE_ATTEMPTS = 20  # failures by one client, any address, before it waits
    LOGIN_MAX_DELAY_SECONDS = 900  # waits double from 2 s up to this
    LOGIN_GLOBAL_FAILURE_CEILING = 1000  # failures overall before everyone is slowed ...
    LOGIN_GLOBAL_DELAY_SECONDS = 2  # ... to one attempt this long after the newest failure
    STAKEHOLDER_DARK_DAYS = 30  # no contact for this long counts as "gone dark"
    ACCOUNTS_PER_PAGE = 50
    SMTP_HOST = None  # unset: email goes to the development outbox (/admin/outbox)
    SMTP_PORT = 25
    SMTP_USER = None
    SMTP_PASSWORD = None
    SMTP_TLS = False
    MAIL_FROM = "cs-app@localhost"
    WEBHOOK_URL = None
    WEBHOOK_SECRET = None
    # touchpoint delivery: a worker holds the rows it claimed this long (renewed before each
    # send), claims this many at a time and sends at most this many per run
    DELIVERY_LEASE_SECONDS = 300
    DELIVERY_BATCH_SIZE = 20
    DELIVERY_MAX_PER_RUN = 500
    JOBS_EVERY_SECONDS: int | None = None  # every job on one interval (soak tests only)
    # the largest request body, in bytes; larger answers 413. A batch of 10,000 ordinary
    # events is 2-3 MB, so this leaves room for events that carry properties
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    TESTING = False


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    SECRET_KEY = "test-secret-key"
    # Test users are created by the hundred; a cheap hash keeps the suite fast.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


def apply_environment(app_config: dict, environ: os._Environ | dict = os.environ) -> None:
    for env_key, config_key in ENVIRONMENT_KEYS.items():
        if environ.get(env_key):
            value: object = environ[env_key]
            if config_key in BOOLEAN_KEYS:
                value = parse_bool(value)
            elif config_key in INTEGER_KEYS:
                value = int(value)
            elif config_key in DURATION_KEYS:
                value = timedelta(seconds=int(value))
            app_config[config_key] = value


def instance_secret_key(instance_path: str) -> str:
    """A secret key kept in the instance folder so sessions survive restarts."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
