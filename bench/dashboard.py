"""The portfolio dashboard at SPEC §4 scale: each widget's statements and the whole page.

Builds a throwaway database (SQLite in a temporary folder, or a fresh database on the
PostgreSQL server given with ``--postgres``, dropped afterwards) with the migrations, bulk-loads
accounts over a few dozen CSMs, one success plan per three accounts with a few actions each, and
``--days`` days of daily health snapshots per account (driver bulk paths: ``executemany`` on
SQLite, ``COPY`` on PostgreSQL), computes the signals once, then times each widget query and
``GET /dashboard`` (signed in as a lead), unfiltered and filtered by one CSM, printing the
median and the number of SQL statements.

    python bench/dashboard.py                                  # SQLite, 20,000 accounts
    python bench/dashboard.py --accounts 100000
    python bench/dashboard.py --postgres postgresql://postgres@127.0.0.1:5432/postgres \
        --accounts 100000 --keep                             # then --reuse URL to time again

Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

BANDS = ("healthy", "at_risk", "critical", "insufficient_data")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
MODELS = ("high-touch", "low-touch", "hybrid", "joint")
CSMS = 40


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", help="server URL; a throwaway database is created on it")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the loaded database and print its URL (for --reuse)",
    )
    parser.add_argument("--reuse", metavar="URL", help="time a database an earlier --keep left")
    return parser.parse_args()


def throwaway_url(args) -> tuple[str, callable]:
    if args.reuse:
        return args.reuse, lambda: None
    if not args.postgres:
        folder = tempfile.mkdtemp(prefix="dashboard-bench-")
        return f"sqlite:///{folder}/bench.sqlite3", lambda: None
    from cs_app.config import normalize_database_url

    server = make_url(normalize_database_url(args.postgres))
    name = f"cs_app_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def bulk(connection, table: str, columns: list[str], rows) -> None:
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    raw.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
        [tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in row) for row in rows],
    )


def load(db, accounts: int, days: int, now: datetime) -> None:
    rng = random.Random(11)
    today = now.date()
    connection = db.session.connection()
    password = generate_password_hash("bench-pass-1", method="pbkdf2:sha256:1000")
    bulk(
        connection,
        "users",
        ["id", "email", "name", "role", "password_hash", "active", "away", "created_at"],
        [
            (
                n + 1,
                f"user{n}@bench.test",
                f"CSM {n:02d}",
                "lead" if n == 0 else "csm",
                password,
                True,
                False,
                now,
            )
            for n in range(CSMS)
        ],
    )
    bulk(
        connection,
        "accounts",
        [
            "id",
            "external_id",
            "name",
            "segment",
            "engagement_model",
            "arr_minor",
            "currency",
            "renewal_date",
            "csm_id",
            "lifecycle_stage",
            "created_at",
            "updated_at",
        ],
        [
            (
                n + 1,
                f"B-{n:06d}",
                f"Bench account {n:06d}",
                SEGMENTS[n % 3],
                MODELS[n % 4],
                rng.randrange(100_000, 50_000_000),
                "USD",
                today + timedelta(days=rng.randrange(-60, 400)),
                None if n % 17 == 0 else 2 + n % (CSMS - 1),
                "churned" if n % 50 == 0 else "adoption",
                now,
                now,
            )
            for n in range(accounts)
        ],
    )
    plans = list(range(1, accounts + 1, 3))
    bulk(
        connection,
        "plans",
        [
            "id",
            "account_id",
            "title",
            "plan_type",
            "status",
            "owner_id",
            "review_cadence",
            "next_review_on",
            "version",
            "created_at",
            "updated_at",
        ],
        [
            (
                index + 1,
                account,
                "Plan",
                "hybrid",
                "active",
                2 + account % (CSMS - 1),
                "monthly",
                today + timedelta(days=rng.randrange(-40, 40)),
                1,
                now,
                now,
            )
            for index, account in enumerate(plans)
        ],
    )
    bulk(
        connection,
        "plan_actions",
        ["plan_id", "title", "due_date", "status", "owner_user_id", "version"],
        [
            (
                plan,
                "Action",
                today + timedelta(days=rng.randrange(-20, 30)),
                rng.choice(("open", "open", "done", "blocked")),
                2,
                1,
            )
            for plan in range(1, len(plans) + 1)
            for _ in range(3)
        ],
    )

    def snapshots():
        """Day by day, every account each night, as the nightly recompute writes them; about
        one account in 200 is missed by each run."""
        scores = [rng.uniform(20, 95) for _ in range(accounts)]
        for offset in range(days - 1, -1, -1):
            for index in range(accounts):
                score = scores[index] = max(0.0, min(100.0, scores[index] + rng.uniform(-3, 3)))
                if rng.random() < 0.005:
                    continue
                band = "healthy" if score >= 70 else "at_risk" if score >= 40 else "critical"
                yield (
                    index + 1,
                    today - timedelta(days=offset),
                    band,
                    score,
                    1.0,
                    band,
                    score,
                    False,
                    now,
                )

    bulk(
        connection,
        "health_snapshots",
        [
            "account_id",
            "day",
            "band",
            "score",
            "coverage",
            "computed_band",
            "computed_score",
            "overridden",
            "computed_at",
        ],
        snapshots(),
    )
    if connection.dialect.name == "postgresql":
        for table in ("users", "accounts", "plans"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        connection.execute(text("ANALYZE"))
    db.session.commit()


def timed(repeat: int, action) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def main() -> None:
    args = parse_args()
    url, drop = throwaway_url(args)
    if args.keep:
        print("keeping", url)
        drop = lambda: None  # noqa: E731
    os.environ.setdefault("CS_APP_INSTANCE_PATH", tempfile.mkdtemp(prefix="dashboard-inst-"))
    try:
        from flask_migrate import upgrade

        from cs_app import create_app
        from cs_app.accounts.signals import compute_signals
        from cs_app.config import TestConfig
        from cs_app.dashboards import queries
        from cs_app.dashboards.queries import DashboardFilters
        from cs_app.db_types import utcnow
        from cs_app.extensions import db

        app = create_app(
            {
                **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                "SQLALCHEMY_DATABASE_URI": url,
            }
        )
        now = utcnow()
        with app.app_context():
            if not args.reuse:
                upgrade()
                started = time.perf_counter()
                load(db, args.accounts, args.days, now)
                compute_signals(now=now)
                db.session.commit()
                print(
                    f"{db.engine.dialect.name}: {args.accounts:,} accounts, {args.days} days "
                    f"of snapshots loaded in {time.perf_counter() - started:.0f} s"
                )
            statements = []
            event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
            today = now.date()
            for label, filters in (
                ("all", DashboardFilters()),
                ("one CSM", DashboardFilters(csm="5")),
            ):
                cases = {
                    "bands": lambda f=filters: queries.band_summary(f),
                    "renewals": lambda f=filters: queries.renewals(f, today),
                    "trend": lambda f=filters: queries.health_trend(f, today),
                    "movements": lambda f=filters: queries.band_movements(f, today),
                    "workload": lambda f=filters: queries.csm_workload(f, today),
                    "coverage": lambda f=filters: queries.plan_coverage(f, today),
                }
                for name, action in cases.items():
                    statements.clear()
                    action()
                    count = len(statements)
                    median, _ = timed(args.repeat, action)
                    print(f"  {label:<8} {name:<10} {median:9.1f} ms  {count} statements")
            client = app.test_client()
            response = client.post(
                "/login", data={"email": "user0@bench.test", "password": "bench-pass-1"}
            )
            assert response.status_code == 302, response.status_code
            for path in ("/dashboard", "/dashboard?csm=5", "/dashboard/movements.csv"):
                statements.clear()
                client.get(path)
                count = len(statements)
                median, response = timed(args.repeat, lambda p=path: client.get(p))
                print(
                    f"  GET {path:<28} {median:9.1f} ms  {count} statements  "
                    f"{len(response.data) / 1024:.0f} KiB"
                )
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
