"""Health pipeline at SPEC §4 scale: ingestion, signals, scoring, against a hand-written floor.

Builds a throwaway database (SQLite in a temporary folder, or a fresh database on the PostgreSQL
server given with ``--postgres``, dropped afterwards) with the migrations, then bulk-loads
accounts, contacts, some success plans, ~100 usage events per account over the last 30 days,
weekly metric values and 30 days of daily health snapshots. Events, metrics and snapshots go in
with the driver's own bulk paths (``executemany`` on SQLite, ``COPY`` on PostgreSQL), never
through the API; what ingestion and the daily recompute would have kept beside them (account
activity, users and features, one signals row per account) is filled in too. Then it
measures, each as the median of ``--repeat`` runs:

- ingestion: ``POST /api/v1/events`` through the Flask test client with a lead's bearer token,
  in batches (when the route exists), and ``accounts.ingest.ingest_events`` called directly;
- ``compute_signals``, ``write_snapshots`` and the whole ``recompute`` over every account, and
  the catch-up recompute of 5,000 pending accounts;
- the floor: one hand-written SQL statement aggregating the same event rows per account, run
  with its best plan (a scan of the table in storage order);
- peak memory (resident high-water mark during the recompute phase; Python heap via
  tracemalloc in one extra run).

    python bench/health.py                              # SQLite, 10,000 accounts
    python bench/health.py --large                      # SQLite, 100,000 accounts (~10M events)
    python bench/health.py --postgres postgresql://postgres@127.0.0.1:5432/postgres --large
    python bench/health.py --explain                    # query plans of the slowest statements

Targets (issue): 100,000 accounts recomputed in <= 30 s and <= 3x the floor, peak memory
<= 500 MB, ingestion >= 10,000 events/s. Not part of the test run.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (  # noqa: E402
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url  # noqa: E402

TARGET_RECOMPUTE_S_PER_100K = 30.0
TARGET_FLOOR_RATIO = 3.0
TARGET_MEMORY_MB = 500.0
TARGET_EVENTS_PER_S = 10_000.0
WINDOW_DAYS = 30
CORE_BATCH = 5_000
PENDING_ACCOUNTS = 5_000  # what the catch-up job takes per run (health.jobs.PENDING_BATCH)

SEGMENTS = (("SMB", 60), ("Mid-Market", 25), ("Enterprise", 15))
STAGES = ("onboarding", "activation", "adoption", "optimization", "renewal", "expansion")
MODELS = ("high-touch", "low-touch", "hybrid", "joint")
FEATURES = (
    "dashboards",
    "reports",
    "alerts",
    "exports",
    "integrations",
    "workflows",
    "api",
    "forecasting",
    "segments",
    "playbooks",
    "surveys",
    "journeys",
    "mobile",
    "custom_fields",
    "sandbox_preview",
)
GATED = ("sso", "audit_log", "sandbox", "advanced_api")
EVENT_KINDS = (
    "login",
    "feature_used",
    "feature_gate_hit",
    "support_ticket",
    "seat_added",
    "upgrade_viewed",
    "nps_response",
)
EVENT_WEIGHTS = (45, 38, 6, 5, 2, 2, 2)
METRICS = ("pipeline_freshness_days", "quota_used_pct", "seats_used")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--large", action="store_true", help="100,000 accounts (SPEC §4 scale)")
    parser.add_argument(
        "--events-per-account",
        type=int,
        default=100,
        help="mean events per account over the last 30 days",
    )
    parser.add_argument(
        "--metrics-every",
        type=int,
        default=7,
        help="days between metric values (3 metrics per account)",
    )
    parser.add_argument(
        "--history-days", type=int, default=30, help="days of daily health snapshots before today"
    )
    parser.add_argument(
        "--plan-share",
        type=float,
        default=0.10,
        help="share of accounts with an active success plan",
    )
    parser.add_argument(
        "--api-events", type=int, default=200_000, help="events posted through POST /api/v1/events"
    )
    parser.add_argument(
        "--direct-events", type=int, default=200_000, help="events passed to ingest_events directly"
    )
    parser.add_argument("--batch", type=int, default=5_000, help="events per ingestion batch")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server URL; a throwaway database is created on it",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="run ANALYZE on SQLite after loading (PostgreSQL always is)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the query plans of the slowest recompute statements",
    )
    parser.add_argument(
        "--profile",
        choices=("ingest", "api", "recompute"),
        help="cProfile four ingestion batches (direct or through the API) or "
        "one recompute, instead of measuring",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="build and load the database, measure nothing (with --keep)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.large:
        args.accounts = 100_000
    return args


# --- the throwaway database -------------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    """A fresh, empty database URL for this run; removed afterwards unless ``--keep``."""
    if not args.postgres:
        folder = Path(tempfile.mkdtemp(prefix="cs_app_bench_health_"))
        os.environ["CS_APP_INSTANCE_PATH"] = str(folder)
        try:
            yield f"sqlite:///{folder / 'bench.sqlite3'}"
        finally:
            if args.keep:
                print(f"kept {folder}")
            else:
                for path in folder.iterdir():
                    path.unlink()
                folder.rmdir()
        return
    from cs_app.config import normalize_database_url

    instance = Path(tempfile.mkdtemp(prefix="cs_app_bench_health_"))
    os.environ["CS_APP_INSTANCE_PATH"] = str(instance)  # holds only the generated secret key
    server = make_url(normalize_database_url(args.postgres))
    name = f"cs_app_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        if args.keep:
            print(f"kept database {name}")
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
        shutil.rmtree(instance, ignore_errors=True)


# --- bulk load --------------------------------------------------------------------------------


class Clock:
    """Timestamps as the database stores them, from seconds-before-now without strftime:
    SQLAlchemy's SQLite text form, or PostgreSQL's COPY text form."""

    def __init__(self, now: datetime, dialect: str, days: int) -> None:
        self.now = now
        minutes = range(days * 1440 + 2)
        self.prefix = [(now - timedelta(minutes=j)).strftime("%Y-%m-%d %H:%M:") for j in minutes]
        tail = ".000000" if dialect == "sqlite" else "+00"
        self.suffix = [f"{s:02d}{tail}" for s in range(60)]
        self.iso_prefix = [
            (now - timedelta(minutes=j)).strftime("%Y-%m-%dT%H:%M:") for j in minutes
        ]

    def stamp(self, ago: int) -> str:
        """``ago`` seconds before now (now is on a whole minute)."""
        j, s = divmod(ago, 60)
        if s:
            j, s = j + 1, 60 - s
        return self.prefix[j] + self.suffix[s]

    def iso(self, ago: int) -> str:
        j, s = divmod(ago, 60)
        if s:
            j, s = j + 1, 60 - s
        return f"{self.iso_prefix[j]}{s:02d}Z"


class Properties:
    """Every event property object the generator uses, as dicts and as stored JSON text."""

    def __init__(self) -> None:
        self.dicts: list[dict] = [{}]
        self.feature = {f: self._add({"feature": f}) for f in FEATURES}
        self.gate = {f: self._add({"feature": f}) for f in GATED}
        self.ticket = {
            (sentiment, severity, status): self._add(
                {"sentiment": sentiment, "severity": severity, "status": status}
            )
            for sentiment in ("positive", "neutral", "negative")
            for severity in ("normal", "high")
            for status in ("open", "closed")
        }
        self.seats = {n: self._add({"count": n}) for n in (1, 2, 3)}
        self.nps = {n: self._add({"score": n}) for n in range(11)}
        self.json = [json.dumps(d) for d in self.dicts]

    def _add(self, value: dict) -> int:
        self.dicts.append(value)
        return len(self.dicts) - 1


class Profile:
    """One account's behaviour: how engaged (mood), since when silent, which features."""

    __slots__ = (
        "account_id",
        "external_id",
        "mood",
        "newest",
        "features",
        "users",
        "seats",
        "segment",
        "rate",
    )

    def __init__(self, rng: random.Random, account_id: int, seats: int, segment: str) -> None:
        self.account_id = account_id
        self.external_id = f"BENCH-{account_id:06d}"
        self.mood = rng.random()
        self.segment = segment
        self.seats = seats
        if self.mood > 0.3:
            self.newest = 60  # active today
        elif self.mood > 0.1:
            self.newest = rng.randint(5 * 86400, 20 * 86400)
        else:
            self.newest = rng.randint(20 * 86400, 29 * 86400)
        breadth = 1 + int(self.mood * 12 * rng.random())
        self.features = rng.sample(FEATURES, breadth)
        self.users = max(1, min(seats, 40))
        self.rate = 0.0


def event_stream(
    rng: random.Random,
    profile: Profile,
    count: int,
    props: Properties,
    span: int,
    newest: int | None = None,
):
    """``count`` events of one account: (kind, seconds ago, user, property index)."""
    lo = profile.newest if newest is None else newest
    width = max(1, span - lo)
    kinds = rng.choices(EVENT_KINDS, cum_weights=CUMULATIVE_WEIGHTS, k=count)
    rand = rng.random
    users, mood = profile.users, profile.mood
    for kind in kinds:
        ago = lo + int(rand() * width)
        user = f"u{int(rand() * users)}"
        if kind == "login" or kind == "upgrade_viewed":
            index = 0
        elif kind == "feature_used":
            index = props.feature[profile.features[int(rand() * len(profile.features))]]
        elif kind == "feature_gate_hit":
            index = props.gate[GATED[int(rand() * len(GATED))]]
        elif kind == "support_ticket":
            roll = rand() - (mood - 0.5) * 0.6
            sentiment = "positive" if roll < 0.35 else "neutral" if roll < 0.7 else "negative"
            index = props.ticket[
                (
                    sentiment,
                    "high" if rand() < 0.2 else "normal",
                    "open" if rand() < 0.3 else "closed",
                )
            ]
            user = None
        elif kind == "seat_added":
            index = props.seats[1 + int(rand() * 3)]
            user = None
        else:  # nps_response
            index = props.nps[max(0, min(10, round(mood * 10 + (rand() - 0.5) * 4)))]
        yield kind, ago, user, index


CUMULATIVE_WEIGHTS = [sum(EVENT_WEIGHTS[: i + 1]) for i in range(len(EVENT_WEIGHTS))]


class Loader:
    """Bulk rows through the driver: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, url: str, dialect: str) -> None:
        self.dialect = dialect
        if dialect == "sqlite":
            self.connection = sqlite3.connect(make_url(url).database, isolation_level=None)
            self.connection.execute("PRAGMA synchronous=OFF")
            self.connection.execute("PRAGMA cache_size=-200000")
        else:
            import psycopg

            conninfo = (
                make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            )
            self.connection = psycopg.connect(conninfo, autocommit=False)
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")  # no FK triggers
        self.begin()

    def begin(self) -> None:
        if self.dialect == "sqlite":
            self.connection.execute("BEGIN")

    def commit(self) -> None:
        if self.dialect == "sqlite":
            self.connection.execute("COMMIT")
            self.begin()
        else:
            self.connection.commit()

    def rows(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            self.connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )
            return
        buffer = "".join(
            "\t".join(r"\N" if v is None else str(v) for v in row) + "\n" for row in rows
        )
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(buffer)

    def close(self) -> None:
        if self.dialect == "sqlite":
            self.connection.execute("COMMIT")
        else:
            self.connection.commit()
        self.connection.close()


def core_rows(connection, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CORE_BATCH):
        connection.execute(insert(table), rows[start : start + CORE_BATCH])


def load_core(args: argparse.Namespace, rng: random.Random, now: datetime) -> dict:
    """Users, accounts, contacts, plans and their items through SQLAlchemy Core executemany."""
    from cs_app.accounts.models import Account, Contact
    from cs_app.auth.models import User
    from cs_app.extensions import db
    from cs_app.plans.models import ActionItem, Milestone, Plan, Risk

    today = now.date()
    counts: dict[str, int] = {}
    profiles: list[Profile] = []
    with db.engine.begin() as connection:
        core_rows(
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
        segment_names = [s for s, _ in SEGMENTS]
        segment_weights = [w for _, w in SEGMENTS]
        accounts, contacts = [], []
        contact_id = 0
        for n in range(1, args.accounts + 1):
            segment = rng.choices(segment_names, segment_weights)[0]
            start = today - timedelta(days=rng.randint(20, 1000))
            stage = rng.choice(STAGES)
            seats = rng.randint(5, 400)
            accounts.append(
                {
                    "id": n,
                    "external_id": f"BENCH-{n:06d}",
                    "name": f"Bench account {n}",
                    "domain": f"account{n}.example",
                    "industry": "Software",
                    "employees": rng.randint(5, 20_000),
                    "segment": segment,
                    "engagement_model": rng.choice(MODELS),
                    "arr_minor": rng.randint(5, 500) * 100_000,
                    "currency": "USD",
                    "contract_start": start,
                    "renewal_date": start + timedelta(days=365 * (1 + (today - start).days // 365)),
                    "csm_id": rng.choice(csm_ids) if rng.random() < 0.8 else None,
                    "lifecycle_stage": stage,
                    "stage_entered_on": start,
                    "product_plan": "Business",
                    "seats_purchased": seats,
                    "trial_ends_on": today + timedelta(days=rng.randint(-5, 25))
                    if stage == "onboarding" and rng.random() < 0.3
                    else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            profiles.append(Profile(rng, n, seats, segment))
            departed = rng.random() < 0.05
            for role, status in (
                ("champion", "departed" if departed else "active"),
                ("executive_sponsor", "active"),
            ):
                if role == "executive_sponsor" and rng.random() < 0.4:
                    continue
                contact_id += 1
                contacts.append(
                    {
                        "id": contact_id,
                        "account_id": n,
                        "name": f"{role} {n}",
                        "title": role.replace("_", " ").title(),
                        "email": f"{role}{n}@x.test",
                        "role": role,
                        "influence": "decision_maker",
                        "engagement": "medium",
                        "last_contact_on": today - timedelta(days=rng.randint(0, 150)),
                        "status": status,
                    }
                )
        core_rows(connection, Account.__table__, accounts)
        core_rows(connection, Contact.__table__, contacts)
        counts.update(accounts=len(accounts), contacts=len(contacts))

        lead_id = connection.execute(
            insert(User.__table__)
            .values(
                email="lead@bench.test",
                name="Bench Lead",
                role="lead",
                active=True,
                away=False,
                created_at=now,
                password_hash=None,
            )
            .returning(User.id)
        ).scalar_one()
        plan_accounts = rng.sample(
            range(1, args.accounts + 1), int(args.accounts * args.plan_share)
        )
        plans, milestones, risks, actions = [], [], [], []
        for plan_id, account_id in enumerate(plan_accounts, start=1):
            owner = accounts[account_id - 1]["csm_id"] or lead_id
            plans.append(
                {
                    "id": plan_id,
                    "account_id": account_id,
                    "title": f"Success plan {account_id}",
                    "plan_type": "hybrid",
                    "status": "active",
                    "owner_id": owner,
                    "review_cadence": "monthly",
                    "next_review_on": today + timedelta(days=rng.randint(-30, 30)),
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                    "updated_by_id": owner,
                }
            )
            for k in range(3):
                owned = {"owner_user_id": owner, "owner_contact_id": None}
                milestones.append(
                    {
                        "plan_id": plan_id,
                        "phase": "adoption",
                        "title": f"Milestone {k}",
                        "target_date": today + timedelta(days=rng.randint(-60, 90)),
                        "status": rng.choice(("planned", "in_progress", "done")),
                        "version": 1,
                        **owned,
                    }
                )
                risks.append(
                    {
                        "plan_id": plan_id,
                        "title": f"Risk {k}",
                        "category": "other",
                        "likelihood": rng.choice(("low", "medium", "high")),
                        "impact": rng.choice(("low", "medium", "high")),
                        "status": rng.choice(("open", "mitigating", "closed")),
                        "version": 1,
                        **owned,
                    }
                )
                actions.append(
                    {
                        "plan_id": plan_id,
                        "title": f"Action {k}",
                        "due_date": today + timedelta(days=rng.randint(-30, 60)),
                        "status": rng.choice(("open", "done", "blocked")),
                        "version": 1,
                        **owned,
                    }
                )
        for model, rows in (
            (Plan, plans),
            (Milestone, milestones),
            (Risk, risks),
            (ActionItem, actions),
        ):
            core_rows(connection, model.__table__, rows)
        counts.update(plans=len(plans), plan_items=len(milestones) + len(risks) + len(actions))
        if connection.dialect.name == "postgresql":
            for table in ("accounts", "contacts", "plans"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                )
    return {"counts": counts, "profiles": profiles, "lead_id": lead_id}


def load_usage(
    args: argparse.Namespace,
    url: str,
    dialect: str,
    rng: random.Random,
    now: datetime,
    profiles: list[Profile],
    props: Properties,
    clock: Clock,
) -> dict[str, int]:
    """Events, metric values and snapshot history day by day, oldest day first, each day's
    events sorted by time: rows land in the order a live system would have stored them
    (which decides how scattered one account's rows are). Then account activity."""
    from cs_app.extensions import db

    with db.engine.connect() as connection:
        versions = dict(
            connection.execute(
                text(
                    "SELECT s.segment, v.id FROM scorecards s JOIN scorecard_versions v "
                    "ON v.scorecard_id = s.id"
                )
            ).all()
        )
    loader = Loader(url, dialect)
    today = now.date()
    span = WINDOW_DAYS * 86400
    mean = args.events_per_account
    # Events per second while an account is active; accounts that went quiet simply stop,
    # and the rates are scaled so that the portfolio averages ``mean`` events per account.
    active = sum(span - profile.newest for profile in profiles) or 1
    for profile in profiles:
        count = rng.randint(mean // 2, mean + mean // 2) if mean > 1 else mean
        profile.rate = count / active * len(profiles)
    counts = {"events": 0, "metrics": 0, "snapshots": 0}
    sequence = 0
    event_columns = (
        "event_id",
        "account_id",
        "event_type",
        "occurred_at",
        "user_ref",
        "properties",
        "received_at",
    )
    snapshot_columns = (
        "account_id",
        "day",
        "scorecard_version_id",
        "score",
        "band",
        "coverage",
        "computed_score",
        "computed_band",
        "overridden",
        "measures",
        "computed_at",
    )
    metric_every = max(1, args.metrics_every)
    false = 0 if dialect == "sqlite" else "f"
    bands = (("healthy", 70), ("at_risk", 40), ("critical", 0))
    scores = [30 + 60 * p.mood for p in profiles]
    size = len(profiles) + 1
    first, last, last_login = [None] * size, [None] * size, [None] * size
    rand = rng.random
    for days_ago in range(max(WINDOW_DAYS - 1, args.history_days), -1, -1):
        day = (today - timedelta(days=days_ago)).isoformat()
        if 0 < days_ago <= args.history_days:
            rows = []
            for index, profile in enumerate(profiles):
                score = scores[index] = max(0.0, min(100.0, scores[index] + (rand() - 0.5) * 6))
                band = next(name for name, floor in bands if score >= floor)
                measures = (
                    f'[{{"key": "login_frequency", "value": {int(profile.mood * 20)}, '
                    f'"score": {score:.1f}, "weight": 25, "stale": 0}}]'
                )
                rows.append(
                    (
                        profile.account_id,
                        day,
                        versions.get(profile.segment, versions[None]),
                        round(score, 1),
                        band,
                        1.0,
                        round(score, 1),
                        band,
                        false,
                        measures,
                        clock.stamp(86400 * days_ago),
                    )
                )
            loader.rows("health_snapshots", snapshot_columns, rows)
            counts["snapshots"] += len(rows)
        if days_ago >= WINDOW_DAYS:
            loader.commit()
            continue
        lo_day, hi_day = days_ago * 86400, (days_ago + 1) * 86400
        happened = []
        for profile in profiles:
            lo = max(lo_day, profile.newest)
            if lo >= hi_day:
                continue
            expected = profile.rate * (hi_day - lo)
            count = int(expected) + (1 if rand() < expected % 1 else 0)
            if count:
                aid = profile.account_id
                happened.extend(
                    (ago, aid, kind, user, index)
                    for kind, ago, user, index in event_stream(
                        rng, profile, count, props, hi_day, newest=lo
                    )
                )
        happened.sort(key=lambda e: -e[0])
        rows = []
        for ago, aid, kind, user, index in happened:
            sequence += 1
            stamp = clock.stamp(ago)
            rows.append((f"g{sequence:010d}", aid, kind, stamp, user, props.json[index], stamp))
            if first[aid] is None:
                first[aid] = stamp
            last[aid] = stamp
            if kind == "login":
                last_login[aid] = stamp
            if len(rows) == 100_000:
                loader.rows("usage_events", event_columns, rows)
                rows = []
        loader.rows("usage_events", event_columns, rows)
        counts["events"] += len(happened)
        del happened, rows
        if days_ago % metric_every == 0:
            metrics = []
            for profile in profiles:
                mood, noise, aid = profile.mood, rand(), profile.account_id
                metrics += [
                    (aid, "pipeline_freshness_days", day, float(round((1 - mood) * 16 * noise))),
                    (aid, "quota_used_pct", day, round(20 + 90 * mood * noise, 1)),
                    (
                        aid,
                        "seats_used",
                        day,
                        float(max(1, round(profile.seats * (0.3 + 0.7 * mood * noise)))),
                    ),
                ]
            loader.rows(
                "metric_values", ("account_id", "metric_key", "measured_on", "value"), metrics
            )
            counts["metrics"] += len(metrics)
        loader.commit()
        if days_ago % 5 == 0:
            print(f"  ... {day}: {counts['events']:,} events so far", flush=True)
    loader.rows(
        "account_activity",
        ("account_id", "first_event_at", "last_event_at", "last_login_at"),
        [
            (aid, first[aid], last[aid], last_login[aid])
            for aid in range(1, size)
            if first[aid] is not None
        ],
    )
    loader.close()
    return counts


def fill_users_and_features(dialect: str) -> dict[str, int]:
    """account_users and account_features as ingestion would have kept them for the bulk-loaded
    events (the loader bypasses ingestion): the same grouped INSERT … SELECT as the migration
    that introduced them, so its time is also what that migration costs at this size."""
    from cs_app.extensions import db

    feature = (
        "json_extract(properties, '$.feature')"
        if dialect == "sqlite"
        else "(properties ->> 'feature')"
    )
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO account_users (account_id, user_ref, last_seen_at) "
                "SELECT account_id, user_ref, max(occurred_at) FROM usage_events "
                "WHERE user_ref IS NOT NULL GROUP BY account_id, user_ref ORDER BY 1, 2"
            )
        )
        connection.execute(
            text(
                "INSERT INTO account_features (account_id, feature, first_used_at, last_used_at) "
                f"SELECT account_id, {feature}, min(occurred_at), max(occurred_at) "
                "FROM usage_events WHERE event_type = 'feature_used' GROUP BY account_id, 2 "
                "ORDER BY 1, 2"
            )
        )
        return {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("account_users", "account_features")
        }


def event_indexes():
    from cs_app.accounts.usage_models import UsageEvent

    return sorted(UsageEvent.__table__.indexes, key=lambda index: index.name)


# --- measuring --------------------------------------------------------------------------------


def peak_rss_reset() -> bool:
    """Reset the kernel's resident high-water mark (VmHWM) of this process."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StatementTimer:
    """Time of every SQL statement while ``active``, for the per-statement breakdown."""

    def __init__(self, engine) -> None:
        self.active = False
        self.records: list[tuple[float, str, object]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        started = conn.info["bench_started"].pop()
        if self.active:
            self.records.append((time.perf_counter() - started, statement, parameters))


def timed(
    repeat: int, run: Callable[[], object], before: Callable[[], object] | None = None
) -> list[float]:
    timings = []
    for _ in range(repeat):
        if before is not None:
            before()
        gc.collect()
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return timings


# The event aggregates read every column, so their best plan is a scan of the table in storage
# order; left to themselves both databases walk the (account, type, time) index instead and
# fetch the rows in account order (3x slower on SQLite, 4x on PostgreSQL). The floor gets
# the best plan: on SQLite ``NOT INDEXED``, on PostgreSQL these settings for its transaction.
FLOOR_SCAN_SETTINGS = ("SET LOCAL enable_indexscan = off", "SET LOCAL enable_bitmapscan = off")


def floor_statements(dialect: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Hand-written SQL over the same event rows the signals read (the last 60 days), each with
    the settings it runs under."""
    feature = (
        "json_extract(properties, '$.feature')"
        if dialect == "sqlite"
        else "(properties ->> 'feature')"
    )
    where = "WHERE occurred_at >= :t60 AND occurred_at <= :now GROUP BY account_id"
    scanned = "usage_events NOT INDEXED" if dialect == "sqlite" else "usage_events"
    settings = FLOOR_SCAN_SETTINGS if dialect == "postgresql" else ()
    return {
        "floor: count(*) per account": (
            f"SELECT account_id, count(*) FROM usage_events {where}",
            (),
        ),
        "floor: event aggregates": (
            f"""
            SELECT account_id,
              sum(CASE WHEN event_type = 'login' AND occurred_at >= :t7 THEN 1 ELSE 0 END),
              sum(CASE WHEN event_type = 'login' AND occurred_at >= :t30 THEN 1 ELSE 0 END),
              count(DISTINCT CASE WHEN occurred_at >= :t30 THEN user_ref END),
              count(DISTINCT CASE WHEN event_type = 'feature_used' AND occurred_at >= :t30
                                  THEN {feature} END),
              sum(CASE WHEN event_type IN ('login', 'feature_used') AND occurred_at >= :t30
                       THEN 1 ELSE 0 END),
              sum(CASE WHEN event_type IN ('login', 'feature_used') AND occurred_at < :t30
                       THEN 1 ELSE 0 END),
              sum(CASE WHEN event_type = 'feature_gate_hit' AND occurred_at >= :t7
                       THEN 1 ELSE 0 END),
              max(occurred_at)
            FROM {scanned} {where}""",
            settings,
        ),
    }


def run_floor(sql: str, settings: tuple[str, ...], now: datetime) -> int:
    from cs_app.db_types import UTCDateTime
    from cs_app.extensions import db

    statement = text(sql).bindparams(
        *(
            bindparam(name, type_=UTCDateTime())
            for name in ("t7", "t30", "t60", "now")
            if f":{name}" in sql
        )
    )
    params = {
        "now": now,
        "t7": now - timedelta(days=7),
        "t30": now - timedelta(days=30),
        "t60": now - timedelta(days=60),
    }
    for setting in settings:
        db.session.execute(text(setting))
    rows = db.session.execute(statement, {k: v for k, v in params.items() if f":{k}" in sql}).all()
    db.session.rollback()
    return len(rows)


def item_batches(
    seed: int,
    profiles: list[Profile],
    props: Properties,
    clock: Clock,
    count: int,
    size: int,
    prefix: str,
) -> Iterator[list[dict]]:
    """``count`` new events as the API takes them (random accounts, the last day), in batches
    built lazily so they neither cost time in the measurement nor memory before it. The same
    seed gives the same events (and ids) again."""
    rng = random.Random(seed)
    made = 0
    while made < count:
        batch: list[dict] = []
        while len(batch) < size and made < count:
            profile = profiles[int(rng.random() * len(profiles))]
            for kind, ago, user, index in event_stream(
                rng, profile, min(10, count - made, size - len(batch)), props, 86400, newest=60
            ):
                item = {
                    "id": f"{prefix}{made:09d}",
                    "account": profile.external_id,
                    "type": kind,
                    "at": clock.iso(ago),
                }
                if user is not None:
                    item["user"] = user
                if index:
                    item["properties"] = props.dicts[index]
                batch.append(item)
                made += 1
        yield batch


def print_profile(profiler: cProfile.Profile) -> None:
    """Where the time went: our own functions by cumulative time, then everything by time
    spent in the function itself (driver work, SQLAlchemy compilation, waiting on the
    server)."""
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats("cs_app", 45)
    stats.sort_stats("tottime").print_stats(25)


def has_route(app, rule: str, method: str) -> bool:
    return any(r.rule == rule and method in r.methods for r in app.url_map.iter_rules())


def ingest_direct(chunks: Iterator[list[dict]], now: datetime) -> dict:
    """ingest_events plus the commit, per batch; only that is timed."""
    from cs_app.accounts.ingest import ingest_events
    from cs_app.extensions import db

    accepted = duplicates = sent = 0
    per_batch = []
    for chunk in chunks:
        started = time.perf_counter()
        result = ingest_events(chunk, now=now)
        db.session.commit()
        per_batch.append(time.perf_counter() - started)
        if result.errors:
            raise SystemExit(f"ingest_events refused items: {result.errors[:3]}")
        accepted += result.accepted
        duplicates += result.duplicates
        sent += len(chunk)
    return summary(sent, accepted, duplicates, per_batch)


def ingest_api(client, token: str, chunks: Iterator[list[dict]]) -> dict:
    """POST /api/v1/events per batch (the JSON body encoded beforehand); only the request is
    timed: routing, token check, JSON parsing, validation, inserts, commit, response."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    accepted = duplicates = sent = 0
    per_batch = []
    for chunk in chunks:
        payload = json.dumps({"events": chunk}).encode()
        started = time.perf_counter()
        response = client.post("/api/v1/events", data=payload, headers=headers)
        per_batch.append(time.perf_counter() - started)
        body = response.get_json(silent=True) or {}
        if response.status_code >= 300 or body.get("errors"):
            raise SystemExit(
                f"POST /api/v1/events answered {response.status_code}: {json.dumps(body)[:500]}"
            )
        accepted += body.get("accepted", 0)
        duplicates += body.get("duplicates", 0)
        sent += len(chunk)
    return summary(sent, accepted, duplicates, per_batch)


def summary(sent: int, accepted: int, duplicates: int, per_batch: list[float]) -> dict:
    total = sum(per_batch)
    return {
        "sent": sent,
        "seconds": total,
        "accepted": accepted,
        "duplicates": duplicates,
        "rate": sent / total if total else 0.0,
        "batch_median": statistics.median(per_batch) if per_batch else 0.0,
    }


def release_memory() -> float:
    """Collect garbage and hand freed heap back to the OS; the resident size in MB after."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def database_size(url: str, dialect: str) -> str:
    from cs_app.extensions import db

    if dialect == "sqlite":
        path = Path(make_url(url).database)
        main = path.stat().st_size
        wal = Path(f"{path}-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
        return f"{main / 2**20:,.0f} MB (+ WAL {wal_size / 2**20:,.0f} MB)"
    size = db.session.scalar(text("SELECT pg_database_size(current_database())"))
    db.session.rollback()
    return f"{size / 2**20:,.0f} MB"


def explain(records: list[tuple[float, str, object]], slowest: int, dialect: str) -> None:
    """Print the plans of the ``slowest`` INSERT/UPDATE statements of one recompute. SQLite:
    EXPLAIN QUERY PLAN. PostgreSQL: the whole recompute is replayed in one transaction (so each
    statement sees the rows the previous ones wrote), the slow ones under EXPLAIN ANALYZE, and
    rolled back."""
    from cs_app.extensions import db

    writes = [r for r in records if r[1].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    chosen = {id(r) for r in sorted(writes, key=lambda r: r[0], reverse=True)[:slowest]}
    with db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            for record in records:
                seconds, statement, parameters = record
                if statement.strip().upper() in ("BEGIN", "COMMIT", "ROLLBACK"):
                    continue
                if id(record) not in chosen:
                    if dialect == "postgresql":
                        connection.exec_driver_sql(statement, parameters)
                    continue
                print(f"\n  {seconds:7.2f} s  {short(statement)}")
                if dialect == "sqlite":
                    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                    print("\n".join(f"    {row[0]:>4} {row[1]:>4} {row[3]}" for row in rows))
                else:
                    rows = connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    )
                    print("\n".join("    " + row[0] for row in rows))
        finally:
            transaction.rollback()


def short(statement: str) -> str:
    flat = " ".join(statement.split())
    return flat[:96] + ("…" if len(flat) > 96 else "")


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("CS_APP_SECRET_KEY", "bench")
    from flask_migrate import upgrade

    from cs_app import create_app
    from cs_app.accounts.signals import compute_signals
    from cs_app.auth.models import User
    from cs_app.auth.service import create_token
    from cs_app.extensions import db
    from cs_app.health.models import HealthSnapshot
    from cs_app.health.recompute import recompute, write_snapshots

    rng = random.Random(args.seed)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    today = now.date()
    report: list[tuple[str, str]] = []
    rows: list[tuple[str, list[float], str]] = []

    with database(args) as url:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "WTF_CSRF_ENABLED": False,
                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            }
        )
        with app.app_context():
            dialect = db.engine.dialect.name
            started = time.perf_counter()
            upgrade()
            print(f"schema: {time.perf_counter() - started:.1f} s ({dialect})", flush=True)

            started = time.perf_counter()
            core = load_core(args, rng, now)
            print(f"accounts, contacts, plans: {time.perf_counter() - started:.1f} s", flush=True)
            with db.engine.begin() as connection:
                for index in event_indexes():
                    index.drop(connection)
            db.session.remove()
            db.engine.dispose()
            props, clock = Properties(), Clock(now, dialect, max(WINDOW_DAYS, args.history_days))
            started = time.perf_counter()
            usage = load_usage(args, url, dialect, rng, now, core["profiles"], props, clock)
            load_seconds = time.perf_counter() - started
            started = time.perf_counter()
            with db.engine.begin() as connection:
                for index in event_indexes():
                    index.create(connection)
            index_seconds = time.perf_counter() - started
            print(
                f"usage rows: {load_seconds:.1f} s, event indexes: {index_seconds:.1f} s",
                flush=True,
            )
            started = time.perf_counter()
            usage |= fill_users_and_features(dialect)
            print(f"account users and features: {time.perf_counter() - started:.1f} s", flush=True)
            # A live system with 30 days of snapshots has every account's signals row (the
            # daily recompute writes it); event rules read it, and compute signals on the fly
            # only for an account that has none yet.
            started = time.perf_counter()
            compute_signals(now=now)
            db.session.commit()
            print(f"account signals: {time.perf_counter() - started:.1f} s", flush=True)
            started = time.perf_counter()
            if dialect == "postgresql":
                with db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                ) as connection:
                    connection.execute(text("VACUUM ANALYZE"))
                print(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")
            elif args.analyze:
                with db.engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
                print(f"ANALYZE: {time.perf_counter() - started:.1f} s")
            if dialect == "sqlite":
                with db.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            lead = db.session.get(User, core["lead_id"])
            _, token = create_token(lead, name="bench", now=now)
            db.session.commit()
            counts = core["counts"] | usage
            report.append(
                (
                    "database",
                    f"{dialect} {db.engine.dialect.server_version_info or ''}"
                    if dialect == "postgresql"
                    else f"sqlite {sqlite3.sqlite_version}",
                )
            )
            for name, value in counts.items():
                report.append((name, f"{value:,}"))
            report.append(("database size after load", database_size(url, dialect)))
            if dialect == "postgresql":
                settings = {
                    name: db.session.scalar(text(f"SHOW {name}"))
                    for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather")
                }
                db.session.rollback()
                report.append(
                    ("server settings", ", ".join(f"{k}={v}" for k, v in settings.items()))
                )

        if args.load_only:
            print("\n".join(f"  {name:<28} {value}" for name, value in report))
            return 0

        # (a) ingestion ---------------------------------------------------------------------
        profiles = core["profiles"]
        ingestion: dict[str, dict] = {}

        def stream(seed: int, count: int, prefix: str) -> Iterator[list[dict]]:
            return item_batches(seed, profiles, props, clock, count, args.batch, prefix)

        with app.app_context():
            if args.profile == "ingest":
                profiler = cProfile.Profile()
                profiler.enable()
                ingest_direct(stream(1, args.batch * 4, "profile-"), now)
                profiler.disable()
                print_profile(profiler)
                return 0
            if args.direct_events:
                ingestion["ingest_events (direct)"] = ingest_direct(
                    stream(1, args.direct_events, "direct-"), now
                )
                ingestion["ingest_events re-sent (all duplicates)"] = ingest_direct(
                    stream(1, min(args.direct_events, args.batch * 4), "direct-"), now
                )
            db.session.remove()
        if args.profile == "api":
            profiler = cProfile.Profile()
            profiler.enable()
            ingest_api(app.test_client(), token, stream(3, args.batch * 4, "profile-"))
            profiler.disable()
            print_profile(profiler)
            return 0
        if args.api_events:
            if has_route(app, "/api/v1/events", "POST"):
                client = app.test_client()
                ingestion["POST /api/v1/events"] = ingest_api(
                    client, token, stream(2, args.api_events, "api-")
                )
            else:
                print("POST /api/v1/events is not there yet: API ingestion not measured")

        # (b)-(e) recompute and the floor ---------------------------------------------------
        with app.app_context():
            if dialect == "postgresql":  # what autovacuum does after the ingested rows
                with db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                ) as connection:
                    connection.execute(text("VACUUM ANALYZE"))
            timer = StatementTimer(db.engine)
            total_events = db.session.scalar(text("SELECT count(*) FROM usage_events"))
            db.session.rollback()
            report.append(("events after ingestion", f"{total_events:,}"))

            def clear_today() -> None:
                db.session.execute(delete(HealthSnapshot).where(HealthSnapshot.day == today))
                db.session.commit()

            def run_signals() -> None:
                compute_signals(now=now)
                db.session.commit()

            def run_snapshots() -> None:
                write_snapshots(now=now)
                db.session.commit()

            def run_recompute() -> None:
                recompute(now=now)
                db.session.commit()

            pending = sorted(
                random.Random(3).sample(
                    range(1, args.accounts + 1), min(PENDING_ACCOUNTS, args.accounts)
                )
            )

            def run_pending() -> None:
                recompute(now=now, account_ids=pending)
                db.session.commit()

            if args.profile == "recompute":
                run_signals()
                clear_today()
                profiler = cProfile.Profile()
                profiler.enable()
                run_recompute()
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
                return 0

            report.append(
                (
                    "load average at start",
                    " ".join(f"{v:.1f}" for v in os.getloadavg())
                    + f" ({os.cpu_count()} CPUs, shared)",
                )
            )
            floors = floor_statements(dialect)
            for name, (sql, settings) in floors.items():
                run_floor(sql, settings, now)  # warm the cache as the others are warmed
                rows.append(
                    (
                        name,
                        timed(
                            args.repeat,
                            lambda sql=sql, settings=settings: run_floor(sql, settings, now),
                        ),
                        "",
                    )
                )
            temp_before = pg_temp_bytes() if dialect == "postgresql" else None
            baseline_mb = release_memory()
            peak_rss_reset()
            rows.append(("compute_signals (all accounts)", timed(args.repeat, run_signals), ""))
            rows.append(
                (
                    "write_snapshots (all, new day)",
                    timed(args.repeat, run_snapshots, before=clear_today),
                    "",
                )
            )
            rows.append(
                (
                    "recompute (all, new day)",
                    timed(args.repeat, run_recompute, before=clear_today),
                    "",
                )
            )
            rows.append(("recompute (all, re-run same day)", timed(1, run_recompute), ""))
            rows.append(
                (
                    f"recompute {len(pending):,} pending (catch-up)",
                    timed(args.repeat, run_pending),
                    "",
                )
            )
            peak_mb = peak_rss_mb()
            temp_after = pg_temp_bytes() if dialect == "postgresql" else None
            clear_today()
            timer.active = True
            run_recompute()  # once more, new day, for the per-statement breakdown
            timer.active = False

            clear_today()
            gc.collect()
            tracemalloc.start()
            run_recompute()
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            snapshot_count = db.session.scalar(
                select(func.count()).select_from(HealthSnapshot).where(HealthSnapshot.day == today)
            )
            bands = dict(
                db.session.execute(
                    text(
                        "SELECT band, count(*) FROM health_snapshots WHERE day = :day GROUP BY band"
                    ),
                    {"day": today.isoformat() if dialect == "sqlite" else today},
                ).all()
            )
            db.session.rollback()
            report.append(
                (
                    "snapshots written today",
                    f"{snapshot_count:,} "
                    f"({', '.join(f'{k} {v:,}' for k, v in sorted(bands.items()))})",
                )
            )
            report.append(("database size after runs", database_size(url, dialect)))
            report.append(("load average at end", " ".join(f"{v:.1f}" for v in os.getloadavg())))

            statements = sorted(timer.records, key=lambda r: r[0], reverse=True)
            print_results(
                args,
                report,
                rows,
                ingestion,
                statements,
                peak_mb,
                traced_peak,
                temp_before,
                temp_after,
                baseline_mb,
            )
            if args.explain:
                print("\nquery plans of the slowest recompute statements")
                explain(timer.records, 4, dialect)
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
    return 0


def pg_temp_bytes() -> int:
    from cs_app.extensions import db

    time.sleep(1.1)  # statistics are flushed at most once a second
    db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
    value = db.session.scalar(
        text("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")
    )
    db.session.rollback()
    return int(value or 0)


def print_results(
    args,
    report,
    rows,
    ingestion,
    statements,
    peak_mb,
    traced_peak,
    temp_before,
    temp_after,
    baseline_mb,
) -> None:
    scale = args.accounts / 100_000
    print("\n== sizes " + "=" * 70)
    for name, value in report:
        print(f"  {name:<28} {value}")
    print("\n== ingestion " + "=" * 66)
    print(f"  {'path':<42} {'events':>9} {'seconds':>8} {'events/s':>10} {'batch med':>10}")
    for name, result in ingestion.items():
        print(
            f"  {name:<42} {result['sent']:>9,} {result['seconds']:>8.2f}"
            f" {result['rate']:>10,.0f} {result['batch_median'] * 1000:>8.0f}ms"
        )
    print(f"  (batches of {args.batch:,} events, each committed)")
    print("\n== recompute and floor " + "=" * 56)
    print(f"  {'measurement':<42} {'median':>8} {'min':>8} {'max':>8}  runs")
    medians = {}
    for name, timings, _ in rows:
        medians[name] = statistics.median(timings)
        print(
            f"  {name:<42} {medians[name]:>7.2f}s {min(timings):>7.2f}s {max(timings):>7.2f}s"
            f"  {len(timings)}"
        )
    floor = medians["floor: event aggregates"]
    bare = medians["floor: count(*) per account"]
    whole = medians["recompute (all, new day)"]
    print(f"\n  recompute / floor (event aggregates)   {whole / floor:6.1f}x")
    print(f"  recompute / floor (count(*) only)      {whole / bare:6.1f}x")
    print(
        f"  signals / floor (event aggregates)     "
        f"{medians['compute_signals (all accounts)'] / floor:6.1f}x"
    )
    print(f"  accounts recomputed per second         {args.accounts / whole:8,.0f}")
    print("\n== memory " + "=" * 69)
    print(f"  resident before the recompute runs           {baseline_mb:8.0f} MB")
    print(f"  peak resident (VmHWM) during recompute runs  {peak_mb:8.0f} MB")
    print(f"  Python heap peak (tracemalloc), one recompute {traced_peak / 2**20:7.1f} MB")
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  process ru_maxrss (whole run incl. loading)  {lifetime:8.0f} MB")
    if temp_before is not None:
        print(
            f"  PostgreSQL temp files written (recompute runs) "
            f"{(temp_after - temp_before) / 2**20:6.0f} MB"
        )
    print("\n== slowest statements of one recompute (new day) " + "=" * 29)
    total = sum(s for s, _, _ in statements)
    for seconds, statement, _ in statements[:6]:
        print(f"  {seconds:7.2f}s {100 * seconds / total:4.0f}%  {short(statement)}")
    print(f"  {total:7.2f}s in {len(statements)} statements")

    print("\n== targets " + "=" * 68)
    budget = TARGET_RECOMPUTE_S_PER_100K * scale
    verdicts = [
        (
            f"recompute {args.accounts:,} accounts <= {budget:.1f} s"
            + ("" if args.accounts == 100_000 else " (30 s per 100k, scaled linearly)"),
            whole <= budget,
            f"{whole:.2f} s",
        ),
        (
            f"recompute <= {TARGET_FLOOR_RATIO:.0f}x the floor (event aggregates)",
            whole <= TARGET_FLOOR_RATIO * floor,
            f"{whole / floor:.1f}x",
        ),
        (
            f"peak memory <= {TARGET_MEMORY_MB:.0f} MB",
            peak_mb <= TARGET_MEMORY_MB,
            f"{peak_mb:.0f} MB",
        ),
    ]
    for name, result in ingestion.items():
        if "re-sent" in name:
            continue
        verdicts.append(
            (
                f"ingestion {name} >= {TARGET_EVENTS_PER_S:,.0f} events/s",
                result["rate"] >= TARGET_EVENTS_PER_S,
                f"{result['rate']:,.0f}/s",
            )
        )
    for name, ok, value in verdicts:
        print(f"  {'PASS' if ok else 'MISS'}  {name:<66} {value}")


if __name__ == "__main__":
    sys.exit(main())
