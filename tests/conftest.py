"""Test harness shared by every suite.

The database under test is SQLite in a temporary folder unless ``CS_APP_TEST_DATABASE_URL``
names a PostgreSQL server, in which case a throwaway database is created on it for this run and
dropped afterwards. Either way the schema is built by the migrations, never ``create_all``.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TEST_DATABASE_URL = os.environ.get("CS_APP_TEST_DATABASE_URL", "")


def _postgres_server_url() -> str:
    from cs_app.config import normalize_database_url

    return normalize_database_url(TEST_DATABASE_URL)


@pytest.fixture(scope="session", autouse=True)
def temporary_instance_folder(tmp_path_factory):
    """Every app the tests build, in this process or a subprocess, keeps its instance folder
    (secret key, SQLite files) in a temporary folder: never in the user's data folder, which
    is the default, nor in one ``CS_APP_INSTANCE_PATH`` names outside the tests."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("instance")
        patch.setenv("CS_APP_INSTANCE_PATH", str(folder))
        yield folder


@pytest.fixture(scope="session")
def throwaway_database(tmp_path_factory):
    """``throwaway_database()`` → URL of a new empty database of the kind under test; every
    one is removed when the run ends."""
    created: list[str] = []
    server = (
        None if not TEST_DATABASE_URL.startswith("postgres") else make_url(_postgres_server_url())
    )
    admin = create_engine(server, isolation_level="AUTOCOMMIT") if server else None

    def create() -> str:
        if server is None:
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        name = f"cs_app_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    yield create
    if admin is not None:
        with admin.connect() as connection:
            for name in created:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name"
                    ),
                    {"name": name},
                )
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(throwaway_database):
    """The database the integration suite shares (each test rolls back)."""
    return throwaway_database()


@pytest.fixture(scope="session")
def migrated_app(database_url):
    """The app over a database built by running every migration once."""
    from flask_migrate import upgrade

    from cs_app import create_app
    from cs_app.config import TestConfig

    app = create_app(
        {
            **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
            "SQLALCHEMY_DATABASE_URI": database_url,
        }
    )
    with app.app_context():
        upgrade()
    yield app
    from cs_app.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
