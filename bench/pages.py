"""Server-side rendering time of the accounts list and the plan page at SPEC §4 scale.

Builds a throwaway database (SQLite in a temporary instance folder, or a fresh database on the
PostgreSQL server given with ``--postgres``) holding 100,000 accounts and 10,000 success plans
with about five rows per component, loaded with set-based bulk inserts. Then signs in as a
CS lead through the Flask test client and times each page N times, printing the response size,
the number of SQL statements, and the median and 95th percentile in milliseconds.

    python bench/pages.py                       # SQLite, 100k accounts, 10k plans
    python bench/pages.py --accounts 20000 --plans 2000 --repeat 10
    python bench/pages.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python bench/pages.py --profile accounts-search   # cProfile one case, top functions
    python bench/pages.py --keep                # ... then, after a code change, without reloading:
    python bench/pages.py --database sqlite:////tmp/cs_app_bench_XXXX/bench.sqlite3 --only plan

Wall times on a shared machine are noisy; the "cpu" column (median process CPU time per
request) is steadier for SQLite, where the queries run inside this process. On PostgreSQL it
leaves out the server's share.

Targets: accounts page <= 100 ms, plan page <= 50 ms (median). Not part of the test run.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

FAST_HASH = "pbkdf2:sha256:1000"  # the bench signs in once; no need for a slow hash
TARGET_MS = {"accounts": 100.0, "plan": 50.0}
BATCH = 5_000
PER_COMPONENT = 5
PREFIXES = (
    "Northwind",
    "Bluepeak",
    "Brightline",
    "Cedarworks",
    "Harborview",
    "Ironwood",
    "Lumen",
    "Maplegate",
    "Nimbus",
    "Orbitron",
    "Pioneer",
    "Quartzite",
    "Redwood",
    "Silverline",
    "Tidewater",
    "Vertex",
    "Willowbrook",
    "Beacon",
    "Cobalt",
    "Evergreen",
    "Granite",
    "Horizon",
    "Juniper",
    "Keystone",
    "Meridian",
    "Oakridge",
    "Pinnacle",
)
KINDS = (
    "Analytics",
    "Logistics",
    "Health",
    "Foods",
    "Robotics",
    "Capital",
    "Energy",
    "Bio",
    "Media",
    "Outfitters",
    "Insurance",
    "Learning",
    "Software",
    "Travel",
    "Legal",
)
PLACES = (
    "Austin",
    "Berlin",
    "Boston",
    "Dublin",
    "Lisbon",
    "Lyon",
    "Madrid",
    "Melbourne",
    "Nairobi",
    "Osaka",
    "Oslo",
    "Porto",
    "Seoul",
    "Toronto",
    "Utrecht",
    "Zurich",
)
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
MODELS = ("high-touch", "low-touch", "hybrid", "joint")
STAGES = ("onboarding", "activation", "adoption", "optimization", "renewal", "expansion", "churned")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per case")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server URL; a throwaway database is created on it",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="run ANALYZE on SQLite after loading (PostgreSQL always gets VACUUM ANALYZE)",
    )
    parser.add_argument(
        "--profile",
        metavar="CASE",
        help="profile one case (e.g. accounts-default, plan) with cProfile",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="reuse a database kept with --keep: migrate it to head, load nothing, drop nothing",
    )
    parser.add_argument(
        "--only",
        metavar="PREFIX",
        action="append",
        help="time only the cases whose name starts with PREFIX (repeatable)",
    )
    return parser.parse_args(argv)


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    """A fresh, empty database URL for this run, with its own instance folder; both are
    removed afterwards unless ``--keep``."""
    folder = Path(tempfile.mkdtemp(prefix="cs_app_bench_"))
    os.environ["CS_APP_INSTANCE_PATH"] = str(folder)
    if args.database:
        from cs_app.config import normalize_database_url

        try:
            yield normalize_database_url(args.database)
        finally:
            shutil.rmtree(folder)
        return
    if not args.postgres:
        try:
            yield f"sqlite:///{folder / 'bench.sqlite3'}"
        finally:
            if args.keep:
                print(f"kept {folder}: --database sqlite:///{folder / 'bench.sqlite3'}")
            else:
                shutil.rmtree(folder)
        return
    from cs_app.config import normalize_database_url

    server = make_url(normalize_database_url(args.postgres))
    name = f"cs_app_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        shutil.rmtree(folder)
        if args.keep:
            print(
                f"kept database {name}: --database "
                f"{server.set(database=name).render_as_string(hide_password=False)}"
            )
        else:
            with admin.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name"
                    ),
                    {"name": name},
                )
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


# --- bulk load --------------------------------------------------------------------------------


def bulk(connection, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        connection.execute(insert(table), rows[start : start + BATCH])


def load(accounts: int, plans: int, now: datetime) -> dict[str, int]:
    """Fill the database with set-based inserts (executemany), not ORM objects one by one."""
    from cs_app.accounts.models import Account, Contact, LifecycleStageEntry
    from cs_app.auth.models import User
    from cs_app.extensions import db
    from cs_app.plans.models import (
        ActionItem,
        Milestone,
        Outcome,
        OutcomeMeasurement,
        Plan,
        PlanChange,
        Review,
        Risk,
        Stakeholder,
    )

    rng = random.Random(7)
    today = now.date()
    counts: dict[str, int] = {}
    with db.engine.begin() as connection:
        bulk(
            connection,
            User.__table__,
            [
                {
                    "email": f"csm{n}@bench.test",
                    "name": f"CSM {n:02d}",
                    "role": "csm",
                    "password_hash": None,
                    "active": True,
                    "away": False,
                    "created_at": now,
                }
                for n in range(1, 21)
            ],
        )
        csm_ids = list(connection.scalars(select(User.id).where(User.role == "csm")))

        account_rows, stage_rows, contact_rows = [], [], []
        for n in range(1, accounts + 1):
            segment = rng.choice(SEGMENTS)
            start = today - timedelta(days=rng.randint(0, 900))
            stage = rng.choice(STAGES)
            account_rows.append(
                {
                    "id": n,
                    "external_id": f"BENCH-{n:06d}",
                    "name": f"{rng.choice(PREFIXES)} {rng.choice(KINDS)} {rng.choice(PLACES)}",
                    "domain": f"account{n}.example",
                    "industry": rng.choice(KINDS),
                    "employees": rng.randint(5, 20_000),
                    "segment": segment,
                    "engagement_model": rng.choice(MODELS),
                    "arr_minor": rng.randint(5, 500) * 100_000,
                    "currency": "USD",
                    "contract_start": start,
                    "renewal_date": start + timedelta(days=365),
                    "csm_id": rng.choice(csm_ids) if rng.random() < 0.8 else None,
                    "lifecycle_stage": stage,
                    "stage_entered_on": start,
                    "product_plan": "Business",
                    "seats_purchased": rng.randint(1, 500),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            stage_rows.append({"account_id": n, "stage": stage, "entered_on": start})
            contact_rows.append(_contact(rng, n, "champion", today))
        plan_accounts = rng.sample(range(1, accounts + 1), plans)
        for account_id in plan_accounts:
            for role in ("executive_sponsor", "technical_admin", "end_user"):
                contact_rows.append(_contact(rng, account_id, role, today))
        for index, row in enumerate(contact_rows, start=1):
            row["id"] = index
        contacts_of: dict[int, list[int]] = {}
        for row in contact_rows:
            contacts_of.setdefault(row["account_id"], []).append(row["id"])
        bulk(connection, Account.__table__, account_rows)
        bulk(connection, LifecycleStageEntry.__table__, stage_rows)
        bulk(connection, Contact.__table__, contact_rows)
        counts.update(accounts=len(account_rows), contacts=len(contact_rows))

        lead_id = connection.execute(
            insert(User.__table__)
            .values(
                email="lead@bench.test",
                name="Bench Lead",
                role="lead",
                active=True,
                away=False,
                created_at=now,
                password_hash=generate_password_hash("bench-password", method=FAST_HASH),
            )
            .returning(User.id)
        ).scalar_one()

        tables: dict[str, list[dict]] = {
            name: []
            for name in (
                "plans",
                "outcomes",
                "measurements",
                "milestones",
                "stakeholders",
                "risks",
                "actions",
                "reviews",
                "changes",
            )
        }
        ids = dict.fromkeys(tables, 0)

        def add(name: str, row: dict) -> int:
            ids[name] += 1
            row["id"] = ids[name]
            tables[name].append(row)
            return ids[name]

        for account_id in plan_accounts:
            owner = account_rows[account_id - 1]["csm_id"] or lead_id
            created = now - timedelta(days=rng.randint(10, 400))
            plan_id = add(
                "plans",
                {
                    "account_id": account_id,
                    "title": f"Success plan {account_id}",
                    "plan_type": rng.choice(MODELS),
                    "status": rng.choice(
                        ("draft", "active", "active", "active", "completed", "archived")
                    ),
                    "owner_id": owner,
                    "review_cadence": "monthly",
                    "last_reviewed_on": today - timedelta(days=rng.randint(1, 60)),
                    "next_review_on": today + timedelta(days=rng.randint(-30, 30)),
                    "template_key": "enterprise-high-touch",
                    "summary": "Bench plan.",
                    "version": 1,
                    "created_at": created,
                    "updated_at": created,
                    "updated_by_id": owner,
                },
            )
            people = contacts_of[account_id]
            milestone_ids = []
            for k in range(PER_COMPONENT):
                baseline, target = float(rng.randint(10, 60)), float(rng.randint(61, 100))
                outcome_id = add(
                    "outcomes",
                    {
                        "plan_id": plan_id,
                        "title": f"Outcome {k + 1}",
                        "metric": "Adoption",
                        "unit": "%",
                        "baseline": baseline,
                        "target": target,
                        "current_value": baseline + 5,
                        "target_date": today + timedelta(days=90),
                        "status": "on_track",
                        "version": 1,
                    },
                )
                for m in range(4):
                    add(
                        "measurements",
                        {
                            "outcome_id": outcome_id,
                            "measured_on": today - timedelta(days=30 * (4 - m)),
                            "value": baseline + m,
                        },
                    )
                milestone_ids.append(
                    add(
                        "milestones",
                        {
                            "plan_id": plan_id,
                            "phase": "adoption",
                            "title": f"Milestone {k + 1}",
                            "target_date": today + timedelta(days=rng.randint(-60, 120)),
                            "success_criteria": "Criteria.",
                            "status": rng.choice(("planned", "in_progress", "done")),
                            "completed_on": None,
                            "version": 1,
                            **_owner(rng, owner, people),
                        },
                    )
                )
                add(
                    "risks",
                    {
                        "plan_id": plan_id,
                        "title": f"Risk {k + 1}",
                        "category": "other",
                        "likelihood": rng.choice(("low", "medium", "high")),
                        "impact": rng.choice(("low", "medium", "high")),
                        "mitigation": "Mitigate.",
                        "status": "open",
                        "version": 1,
                        **_owner(rng, owner, people),
                    },
                )
                add(
                    "actions",
                    {
                        "plan_id": plan_id,
                        "title": f"Action {k + 1}",
                        "due_date": today + timedelta(days=rng.randint(-30, 60)),
                        "status": rng.choice(("open", "done", "blocked")),
                        "milestone_id": milestone_ids[-1],
                        "completed_on": None,
                        "version": 1,
                        **_owner(rng, owner, people),
                    },
                )
                add(
                    "reviews",
                    {
                        "plan_id": plan_id,
                        "held_on": today - timedelta(days=30 * (k + 1)),
                        "attendees": "Champion, CSM",
                        "notes": "Review notes.",
                        "recorded_by_id": owner,
                        "version": 1,
                    },
                )
                for c in range(4):
                    add(
                        "changes",
                        {
                            "plan_id": plan_id,
                            "changed_at": created + timedelta(days=k * 4 + c),
                            "user_id": owner,
                            "component": "actions",
                            "item_id": None,
                            "item_label": f"Action {k + 1}",
                            "action": "updated",
                            "field": "status",
                            "old_value": "open",
                            "new_value": "done",
                        },
                    )
            for contact_id in people:
                add(
                    "stakeholders",
                    {
                        "plan_id": plan_id,
                        "contact_id": contact_id,
                        "user_id": None,
                        "role": "champion",
                        "notes": None,
                        "version": 1,
                    },
                )
            add(
                "stakeholders",
                {
                    "plan_id": plan_id,
                    "contact_id": None,
                    "user_id": owner,
                    "role": "csm",
                    "notes": None,
                    "version": 1,
                },
            )
        for name, model in (
            ("plans", Plan),
            ("outcomes", Outcome),
            ("measurements", OutcomeMeasurement),
            ("milestones", Milestone),
            ("stakeholders", Stakeholder),
            ("risks", Risk),
            ("actions", ActionItem),
            ("reviews", Review),
            ("changes", PlanChange),
        ):
            bulk(connection, model.__table__, tables[name])
            counts[name] = len(tables[name])
        if connection.dialect.name == "postgresql":
            for model in (
                Account,
                Contact,
                Plan,
                Outcome,
                OutcomeMeasurement,
                Milestone,
                Stakeholder,
                Risk,
                ActionItem,
                Review,
                PlanChange,
            ):
                table = model.__table__.name
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                )
    return counts


def _contact(rng: random.Random, account_id: int, role: str, today: date) -> dict:
    first = rng.choice(("Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana"))
    return {
        "account_id": account_id,
        "name": f"{first} {role.title()} {account_id}",
        "title": role.replace("_", " ").title(),
        "email": f"{first.lower()}{account_id}@x.test",
        "role": role,
        "influence": "influencer",
        "engagement": rng.choice(("high", "medium", "low")),
        "last_contact_on": today - timedelta(days=rng.randint(0, 90)),
        "status": "active",
    }


def _owner(rng: random.Random, user_id: int, contacts: list[int]) -> dict:
    if rng.random() < 0.5:
        return {"owner_user_id": user_id, "owner_contact_id": None}
    return {"owner_user_id": None, "owner_contact_id": rng.choice(contacts)}


# --- timing -----------------------------------------------------------------------------------


class StatementCounter:
    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.count += 1


def time_case(client, counter: StatementCounter, url: str, repeat: int) -> dict:
    response = client.get(url)  # warm-up: templates compiled, caches filled
    status, size = response.status_code, len(response.data)
    timings, cpu = [], []
    statements = 0
    for _ in range(repeat):
        before = counter.count
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        statements = counter.count - before
        if response.status_code != status:
            raise SystemExit(f"{url} answered {response.status_code}, then {status}")
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    return {
        "url": url,
        "status": status,
        "kb": size / 1024,
        "statements": statements,
        "median": statistics.median(timings),
        "p95": p95,
        "cpu": statistics.median(cpu),
    }


def cases(plans: int, accounts: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(name, kind, url) for every case: kind picks the target."""
    per_page = 50
    deep = max(1, accounts // per_page // 2)
    items = [
        ("accounts-default", "accounts", "/accounts"),
        ("accounts-search", "accounts", "/accounts?q=harbor"),
        (
            "accounts-filter-sort",
            "accounts",
            "/accounts?segment=Enterprise&stage=renewal&sort=arr&dir=desc",
        ),
        ("accounts-sort-renewal", "accounts", "/accounts?sort=renewal"),
        ("accounts-sort-csm", "accounts", "/accounts?sort=csm&dir=desc"),
        ("accounts-deep-page", "accounts", f"/accounts?page={deep}"),
    ]
    for plan_id in rng.sample(range(1, plans + 1), min(5, plans)):
        items.append((f"plan-{plan_id}", "plan", f"/plans/{plan_id}"))
    return items


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("CS_APP_SECRET_KEY", "bench")
    from flask_migrate import upgrade

    from cs_app import create_app
    from cs_app.extensions import db

    now = datetime.now(UTC)
    with database(args) as url:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "WTF_CSRF_ENABLED": False,
                "PASSWORD_HASH_METHOD": FAST_HASH,
            }
        )
        with app.app_context():
            started = time.perf_counter()
            upgrade()
            print(f"schema: {time.perf_counter() - started:.1f} s ({db.engine.dialect.name})")
            started = time.perf_counter()
            loaded = bool(db.session.scalar(text("SELECT COUNT(*) FROM accounts")))
            if loaded:
                print("load: skipped, the database already holds accounts")
            else:
                counts = load(args.accounts, args.plans, now)
                print(
                    f"load: {time.perf_counter() - started:.1f} s, "
                    + ", ".join(f"{n:,} {what}" for what, n in counts.items())
                )
            if db.engine.dialect.name == "postgresql":
                # the state autovacuum brings a bulk-loaded table to: planner statistics, and a
                # visibility map that lets index-only scans skip the table
                with db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                ) as connection:
                    connection.execute(text("VACUUM ANALYZE"))
                print("VACUUM ANALYZE done")
            elif args.analyze:
                with db.engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
                print("ANALYZE done")
            db.session.remove()
        client = app.test_client()
        response = client.post(
            "/login", data={"email": "lead@bench.test", "password": "bench-password"}
        )
        if response.status_code != 302:
            raise SystemExit(f"sign-in failed: {response.status_code}")
        with app.app_context():
            counter = StatementCounter(db.engine)
        chosen = cases(args.plans, args.accounts, random.Random(11))
        if args.only:
            chosen = [c for c in chosen if c[0].startswith(tuple(args.only))]
        if args.profile:
            matching = [c for c in chosen if c[0].startswith(args.profile)]
            if not matching:
                raise SystemExit(f"no case starts with {args.profile!r}")
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.repeat):
                client.get(matching[0][2])
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            return 0
        print(f"load average: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
        print(
            f"\n{'case':<24} {'status':>6} {'size':>9} {'SQL':>4} {'median':>9} {'p95':>9}"
            f" {'cpu':>9}  target"
        )
        worst = {"accounts": 0.0, "plan": 0.0}
        for name, kind, case_url in chosen:
            result = time_case(client, counter, case_url, args.repeat)
            worst[kind] = max(worst[kind], result["median"])
            verdict = "ok" if result["median"] <= TARGET_MS[kind] else "SLOW"
            print(
                f"{name:<24} {result['status']:>6} {result['kb']:>7.1f}KB "
                f"{result['statements']:>4} {result['median']:>7.1f}ms {result['p95']:>7.1f}ms"
                f" {result['cpu']:>7.1f}ms  <= {TARGET_MS[kind]:.0f} ms {verdict}"
            )
        print(f"load average: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
        print(
            "\nworst median: "
            + ", ".join(
                f"{kind} {ms:.1f} ms (target {TARGET_MS[kind]:.0f})" for kind, ms in worst.items()
            )
        )
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
