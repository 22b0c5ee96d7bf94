"""What `cs-app check` (and `cs-app serve` as it starts) warns an operator about: settings that
are fine on a laptop and unsafe in production. Pure: the caller reads the app and the database
and passes plain values, so every combination is tested without either."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deployment:
    secret_key_generated: bool  # no CS_APP_SECRET_KEY (nor SECRET_KEY in config.py)
    secure_cookies: bool  # CS_APP_SECURE_COOKIES
    database_dialect: str  # "sqlite", "postgresql"
    demo_users_active: int  # demo sign-ins (public password) that can still sign in
    debug: bool


def should_load_demo(asked: bool | None, *, database_empty: bool, database_dialect: str) -> bool:
    """``--demo`` always loads it and ``--no-demo`` never does; without either, only an empty
    SQLite database gets it: the demo's password is public, and a PostgreSQL database is a
    team's, so it never gets the demo's sign-ins without being asked."""
    if asked is not None:
        return asked
    return database_empty and database_dialect == "sqlite"


def warnings(deployment: Deployment) -> list[str]:
    found: list[str] = []
    if deployment.secret_key_generated:
        found.append(
            "The secret key was generated into the instance folder, not configured: set "
            "CS_APP_SECRET_KEY (the same on every host) so sessions survive a new host and "
            "several hosts agree."
        )
    if not deployment.secure_cookies:
        found.append(
            "Session cookies are sent without Secure: behind HTTPS set CS_APP_SECURE_COOKIES=1 "
            "so they never travel over plain HTTP."
        )
    if deployment.demo_users_active and deployment.database_dialect != "sqlite":
        found.append(
            f"{deployment.demo_users_active} demo user(s) (@demo.cs-app.example, whose "
            f"password is in the README) can sign in to this {deployment.database_dialect} "
            "database: deactivate them or change their passwords."
        )
    if deployment.debug:
        found.append(
            "Debug mode is on (FLASK_DEBUG): tracebacks and the debugger are exposed; turn "
            "it off in production."
        )
    return found
