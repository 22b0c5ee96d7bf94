"""The application factory: configuration, extensions, blueprints, SQLite tuning."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from cs_app.config import (
    Config,
    apply_environment,
    instance_secret_key,
    normalize_database_url,
)
from cs_app.extensions import csrf, db, login_manager, migrate
from cs_app.paths import instance_folder, migrations_folder, templates_folder
from cs_app.url_ids import DatabaseIdConverter


def build_app(config: type | dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints from one explicit list, CLI."""
    app = Flask(
        __name__,
        instance_path=str(instance_folder()),
        template_folder=str(templates_folder()),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_object(Config)
    app.config.from_pyfile("config.py", silent=True)
    apply_environment(app.config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        path = Path(app.instance_path) / "cs_app.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # PostgreSQL's JIT spent ~1.4 s compiling each dashboard query at 100,000 accounts
        # and never paid back on the app's short statements.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", "-c jit=off")
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
        app.config["SECRET_KEY_GENERATED"] = True  # `cs-app check` warns about it
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # the client address (sign-in throttling) and scheme as the nearest N proxies saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    _init_extensions(app)
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    _register_blueprints(app)
    connect_hooks()

    from cs_app.commands import register_commands
    from cs_app.web import register_web

    register_web(app)
    register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from cs_app import models  # noqa: F401  (every model registered before migrations look)

    db.init_app(app)
    from cs_app.sql import for_this_dialect

    migrate.init_app(
        app,
        db,
        directory=str(migrations_folder()),
        render_as_batch=True,
        include_object=for_this_dialect,
    )
    login_manager.init_app(app)
    csrf.init_app(app)


def connect_hooks() -> None:
    """Subscribe features to the hooks other features send (``cs_app.hooks``); connecting
    the same receiver again is a no-op, so building several apps is harmless."""
    from cs_app.hooks import events_ingested
    from cs_app.triggers.rules.event_rules import on_events_ingested

    events_ingested.connect(on_events_ingested)


def _register_blueprints(app: Flask) -> None:
    from cs_app.accounts.views import bp as accounts_bp
    from cs_app.api import bp as api_bp
    from cs_app.auth.admin_views import bp as admin_bp
    from cs_app.auth.views import bp as auth_bp
    from cs_app.dashboards.views import bp as dashboards_bp
    from cs_app.health.views import bp as health_bp
    from cs_app.home.views import bp as home_bp
    from cs_app.jobs.views import bp as jobs_bp
    from cs_app.plans.share_views import bp as share_bp
    from cs_app.plans.template_views import bp as templates_bp
    from cs_app.plans.views import bp as plans_bp
    from cs_app.triggers.alerts.views import bp as alerts_bp
    from cs_app.triggers.pools.views import bp as pools_bp
    from cs_app.triggers.rules.backtest_views import bp as rule_backtests_bp
    from cs_app.triggers.rules.views import bp as rules_bp
    from cs_app.triggers.touchpoints.views import bp as touchpoints_bp

    for blueprint in (
        auth_bp,
        home_bp,
        admin_bp,
        accounts_bp,
        plans_bp,
        templates_bp,
        share_bp,
        api_bp,
        dashboards_bp,
        jobs_bp,
        health_bp,
        rules_bp,
        rule_backtests_bp,
        pools_bp,
        touchpoints_bp,
        alerts_bp,
    ):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, use WAL, and let SQLAlchemy manage transactions itself
    (pysqlite's own BEGIN handling breaks SAVEPOINT)."""
    module = type(dbapi_connection).__module__
    if "sqlite" not in module:
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    """SQLite: a transaction that may write takes the write lock when it begins.

    A deferred ``BEGIN`` reads from a snapshot and upgrades to the write lock at its first
    write; when another connection committed in between, SQLite answers "database is locked"
    at once, which no busy timeout waits out. ``BEGIN IMMEDIATE`` waits (up to the busy
    timeout) for the lock instead, so jobs, the CLI and changing requests queue for the one
    writer. Reading requests (GET, HEAD) stay deferred: in WAL mode they read beside the
    writer instead of queueing behind a long job.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN" if _reads_only() else "BEGIN IMMEDIATE")


def _reads_only() -> bool:
    return has_request_context() and request.method in READ_ONLY_METHODS
