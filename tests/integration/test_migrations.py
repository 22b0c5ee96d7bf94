"""The migrations: they go all the way down and up again, and they match the models.

Each test gets its own fresh database of the kind under test (a new SQLite file, or a new
throwaway database on the PostgreSQL server of ``CS_APP_TEST_DATABASE_URL``, from the
``throwaway_database`` fixture), so walking the migrations never disturbs the database the
other tests share.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from cs_app.config import TestConfig
from cs_app.extensions import db
from cs_app.sql import for_this_dialect


@pytest.fixture
def fresh_app(throwaway_database):
    """The app over a new, empty database of the kind under test (not the shared one)."""
    from cs_app import create_app

    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": throwaway_database()})
    with app.app_context():
        yield app
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def application_tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def schema_differences() -> list:
    """What ``cs-app db check`` would report (with the app's autogenerate filter, which leaves
    out the indexes only PostgreSQL gets)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": for_this_dialect}
        )
        return compare_metadata(context, db.metadata)


def test_upgrade_downgrade_to_base_and_upgrade_again(fresh_app):
    upgrade()
    tables = application_tables()
    assert set(db.metadata.tables) <= tables
    downgrade(revision="base")
    assert application_tables() == set()
    upgrade()
    assert application_tables() == tables
    with db.engine.connect() as connection:
        templates = connection.execute(text("SELECT key FROM plan_templates WHERE built_in"))
        assert {"enterprise-high-touch", "scaled-low-touch", "hybrid-mid-market", "joint"} <= set(
            templates.scalars()
        )


def test_models_match_the_migrations(fresh_app):
    upgrade()
    assert schema_differences() == []
