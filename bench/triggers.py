"""Rule evaluation at SPEC §4 scale: 500 generated rules over N accounts with signals.

Builds a throwaway database (SQLite in a temporary folder, or a fresh database on the
PostgreSQL server named by ``--postgres``, dropped afterwards) with the migrations, then
bulk-loads users, accounts (most with a CSM, a champion contact, some an active success plan),
one ``account_signals`` row per account with realistic spreads (written directly: the signals
recompute has its own benchmark, ``bench/health.py``), a ``quota_used_pct`` metric per account,
three pools with members, touchpoint templates, and 500 rules whose conditions are drawn from
the signal catalog (thresholds at quantiles of the loaded values, so each clause keeps 2–20 %
of accounts; a rule is kept when it matches some accounts of a sample and at most twice
``--match-rate``, 2 % by default), with a mix of once-only policies and actions (route to a
pool, schedule a touchpoint, create an action item, set a stage).

It measures, as medians of ``--repeat`` runs:

- the first full ``evaluate_scheduled_rules`` (every firing new, every action run), each run
  rolled back so the next one starts from the same state;
- a second evaluation after the first was committed: nothing new fires, open firings are
  checked for closing;
- touchpoints delivered per second by ``deliver_due_touchpoints`` to a local aiosmtpd server.

    python bench/triggers.py                         # SQLite, 10,000 accounts
    python bench/triggers.py --accounts 100000       # SQLite, SPEC scale
    python bench/triggers.py --accounts 100000 \\
        --postgres postgresql://postgres@127.0.0.1:5432/postgres

Aims (issues): 500 rules over 100,000 accounts evaluated in <= 60 s the first time and
<= 15 s the second, on SQLite and on PostgreSQL. Not part of the test run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, delete, func, insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

AIM_SECONDS_PER_100K = 60.0
AIM_SECOND_SECONDS_PER_100K = 15.0
RULES = 500
CORE_BATCH = 5_000
SEGMENTS = (("SMB", 60), ("Mid-Market", 25), ("Enterprise", 15))
STAGES = ("onboarding", "activation", "adoption", "optimization", "renewal", "expansion")
POOLS = ("bench-rescue", "bench-renewal", "bench-expansion")
TEMPLATES = (
    ("bench-email", "email"),
    ("bench-in-app", "in_app"),
    ("bench-alert", "internal_alert"),
    ("bench-call", "call_task"),
)
POLICIES = (("while_open", 40), ("cooldown", 25), ("once_per_renewal_cycle", 20), ("once_ever", 15))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000, help="10000 or 100000")
    parser.add_argument("--rules", type=int, default=RULES)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--postgres",
        "--database-url",
        dest="database_url",
        metavar="URL",
        help="PostgreSQL server URL; a throwaway database is created on it",
    )
    parser.add_argument(
        "--match-rate",
        type=float,
        default=0.02,
        help="a generated rule is kept when it matches more than none and at "
        "most twice this share of a sample of accounts",
    )
    parser.add_argument(
        "--touchpoints",
        type=int,
        default=2_000,
        help="due touchpoints delivered in the delivery measurement",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one first evaluation instead of measuring"
    )
    parser.add_argument("--seed", type=int, default=11)
    return parser.parse_args(argv)


# --- the throwaway database -------------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    instance = Path(tempfile.mkdtemp(prefix="cs_app_bench_triggers_"))
    os.environ["CS_APP_INSTANCE_PATH"] = str(instance)
    if not args.database_url:
        try:
            yield f"sqlite:///{instance / 'bench.sqlite3'}"
        finally:
            shutil.rmtree(instance, ignore_errors=True)
        return
    from cs_app.config import normalize_database_url

    server = make_url(normalize_database_url(args.database_url))
    name = f"cs_app_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
        shutil.rmtree(instance, ignore_errors=True)


def core_rows(connection, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CORE_BATCH):
        connection.execute(insert(table), rows[start : start + CORE_BATCH])


# --- data -------------------------------------------------------------------------------------


def signal_row(rng: random.Random, account: dict, today: date, now: datetime) -> dict:
    """One account's signals, spread like a real portfolio (a tail of dark accounts, most
    active, a few near renewal, some on a trial)."""
    mood = rng.random()
    dark = mood < 0.12
    seats = account["seats_purchased"]
    used = max(0, int(seats * min(1.4, rng.gauss(0.3 + mood * 0.7, 0.2))))
    score = max(0.0, min(100.0, rng.gauss(35 + mood * 55, 12)))
    band = "healthy" if score >= 70 else "at_risk" if score >= 40 else "critical"
    nps = rng.randint(0, 10) if rng.random() < 0.6 else None
    return {
        "account_id": account["id"],
        "computed_at": now,
        "days_since_last_login": (rng.randint(8, 90) if dark else rng.randint(0, 7))
        if rng.random() > 0.03
        else None,
        "logins_7d": 0 if dark else int(mood * 60 * rng.random()),
        "logins_30d": rng.randint(0, 3) if dark else int(mood * 240 * rng.random()),
        "active_users_30d": min(seats, int(used * rng.random())),
        "features_used_30d": int(mood * 15 * rng.random()),
        "usage_30d": int(mood * 600 * rng.random()),
        "usage_change_pct": round(rng.gauss((mood - 0.5) * 80, 30), 1)
        if rng.random() > 0.05
        else None,
        "quota_used_pct": round(min(130.0, rng.gauss(40 + mood * 50, 25)), 1),
        "seats_purchased": seats,
        "seats_used": used,
        "seat_utilization_pct": round(100.0 * used / seats, 1),
        "seats_added_30d": rng.choice((0, 0, 0, 0, 1, 2, 5)),
        "open_tickets": rng.choice((0, 0, 0, 1, 1, 2, 3, 6)),
        "support_sentiment": rng.choice(("positive", "neutral", "negative", None)),
        "support_sentiment_on": today - timedelta(days=rng.randint(0, 60)),
        "last_nps": nps,
        "nps_category": None
        if nps is None
        else "promoter"
        if nps >= 9
        else "passive"
        if nps >= 7
        else "detractor",
        "last_nps_on": None if nps is None else today - timedelta(days=rng.randint(0, 200)),
        "health_score": round(score, 1),
        "health_band": band,
        "health_change_30d": round(rng.gauss(0, 10), 1),
        "days_to_renewal": (account["renewal_date"] - today).days,
        "account_age_days": (today - account["contract_start"]).days,
        "trial_days_left": rng.randint(-3, 20) if rng.random() < 0.05 else None,
        "lifecycle_stage": account["lifecycle_stage"],
        "segment": account["segment"],
        "arr": account["arr_minor"],
        "open_high_risks": rng.choice((0, 0, 0, 0, 1, 2)),
        "overdue_actions": rng.choice((0, 0, 0, 1, 2, 4)),
        "overdue_milestones": rng.choice((0, 0, 0, 0, 1)),
        "days_since_sponsor_contact": rng.randint(0, 200) if rng.random() < 0.7 else None,
        "champion_departed": rng.random() < 0.05,
        "plan_review_overdue": rng.random() < 0.15,
        "feature_gate_hits_7d": rng.choice((0, 0, 0, 0, 0, 1, 2, 5)),
        "upgrade_intent_open": rng.random() < 0.04,
    }


def load(args: argparse.Namespace, rng: random.Random, now: datetime) -> dict:
    from cs_app.accounts.models import Account, Contact
    from cs_app.accounts.usage_models import AccountSignals, MetricValue
    from cs_app.auth.models import User
    from cs_app.extensions import db
    from cs_app.plans.models import Plan
    from cs_app.triggers.pools.models import CsmPool, PoolMember
    from cs_app.triggers.rules.models import Rule
    from cs_app.triggers.touchpoints.models import TouchpointTemplate

    today = now.date()
    with db.engine.begin() as connection:
        connection.execute(update(Rule.__table__).values(enabled=False))  # the shipped rules
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
                for n in range(1, 41)
            ],
        )
        csm_ids = list(connection.scalars(select(User.id).where(User.role == "csm")))
        names = [s for s, _ in SEGMENTS]
        weights = [w for _, w in SEGMENTS]
        accounts, contacts, signals, metrics, plans = [], [], [], [], []
        for n in range(1, args.accounts + 1):
            start = today - timedelta(days=rng.randint(20, 1500))
            account = {
                "id": n,
                "external_id": f"BENCH-{n:06d}",
                "name": f"Bench account {n}",
                "segment": rng.choices(names, weights)[0],
                "engagement_model": "hybrid",
                "arr_minor": rng.randint(5, 500) * 100_000,
                "currency": "USD",
                "contract_start": start,
                "renewal_date": start + timedelta(days=365 * (1 + (today - start).days // 365)),
                "csm_id": rng.choice(csm_ids) if rng.random() < 0.7 else None,
                "lifecycle_stage": rng.choice(STAGES),
                "stage_entered_on": start,
                "seats_purchased": rng.randint(5, 400),
                "created_at": now,
                "updated_at": now,
            }
            accounts.append(account)
            contacts.append(
                {
                    "account_id": n,
                    "name": f"Champion {n}",
                    "email": f"champion{n}@customer.test",
                    "role": "champion",
                    "influence": "champion",
                    "engagement": "high",
                    "status": "active",
                }
            )
            signals.append(signal_row(rng, account, today, now))
            metrics.append(
                {
                    "account_id": n,
                    "metric_key": "quota_used_pct",
                    "measured_on": today,
                    "value": signals[-1]["quota_used_pct"],
                }
            )
            if rng.random() < 0.2:
                plans.append(
                    {
                        "account_id": n,
                        "title": f"Plan {n}",
                        "plan_type": "hybrid",
                        "status": "active",
                        "owner_id": account["csm_id"] or csm_ids[0],
                        "review_cadence": "monthly",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        for table, rows in (
            (Account.__table__, accounts),
            (Contact.__table__, contacts),
            (AccountSignals.__table__, signals),
            (MetricValue.__table__, metrics),
            (Plan.__table__, plans),
        ):
            core_rows(connection, table, rows)
        if connection.dialect.name == "postgresql":
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('accounts', 'id'), "
                    "(SELECT MAX(id) FROM accounts))"
                )
            )
        for index, key in enumerate(POOLS):
            pool_id = connection.execute(
                insert(CsmPool.__table__)
                .values(
                    key=key,
                    name=key.replace("-", " ").title(),
                    strategy=("segment_first", "least_loaded", "round_robin")[index],
                    default_sla_hours=24,
                    created_at=now,
                )
                .returning(CsmPool.__table__.c.id)
            ).scalar_one()
            core_rows(
                connection,
                PoolMember.__table__,
                [
                    {
                        "pool_id": pool_id,
                        "user_id": user_id,
                        "position": position,
                        "capacity": 1_000_000,
                        "segments": [names[position % 3]],
                        "away": False,
                    }
                    for position, user_id in enumerate(csm_ids[index * 8 : index * 8 + 8])
                ],
            )
        core_rows(
            connection,
            TouchpointTemplate.__table__,
            [
                {
                    "key": key,
                    "name": key,
                    "channel": channel,
                    "subject": "Hello {{ account.name }}",
                    "body": "Hi {{ contact.first_name }}, a note from {{ csm.name }}.",
                    "updated_at": now,
                    "version": 1,
                }
                for key, channel in TEMPLATES
            ],
        )
    return {
        "accounts": len(accounts),
        "contacts": len(contacts),
        "plans": len(plans),
        "signals": signals,
    }


# --- rules ------------------------------------------------------------------------------------


class ClauseMaker:
    """Clauses over the catalog with thresholds at quantiles of the loaded values."""

    NUMBERS = (
        "days_since_last_login",
        "logins_7d",
        "logins_30d",
        "active_users_30d",
        "features_used_30d",
        "usage_30d",
        "usage_change_pct",
        "quota_used_pct",
        "seat_utilization_pct",
        "seats_added_30d",
        "open_tickets",
        "last_nps",
        "health_score",
        "health_change_30d",
        "days_to_renewal",
        "account_age_days",
        "trial_days_left",
        "arr",
        "open_high_risks",
        "overdue_actions",
        "days_since_sponsor_contact",
        "feature_gate_hits_7d",
    )
    CATEGORIES = {
        "health_band": ("healthy", "at_risk", "critical"),
        "segment": ("SMB", "Mid-Market", "Enterprise"),
        "nps_category": ("promoter", "passive", "detractor"),
        "support_sentiment": ("positive", "neutral", "negative"),
        "lifecycle_stage": STAGES,
    }
    BOOLEANS = ("champion_departed", "plan_review_overdue", "upgrade_intent_open")

    def __init__(self, rng: random.Random, signals: list[dict]) -> None:
        self.rng = rng
        sample = rng.sample(signals, min(len(signals), 5_000))
        self.sorted = {
            key: sorted(v for row in sample if (v := row[key]) is not None) for key in self.NUMBERS
        }

    def quantile(self, key: str, share: float):
        values = self.sorted[key]
        return values[min(len(values) - 1, int(share * len(values)))]

    def clause(self) -> dict:
        rng = self.rng
        roll = rng.random()
        if roll < 0.7:
            key = rng.choice(self.NUMBERS)
            if not self.sorted[key]:
                return {"signal": key, "op": "not_null", "value": None}
            share = rng.uniform(0.02, 0.2)
            if rng.random() < 0.5:
                return {"signal": key, "op": ">=", "value": self.quantile(key, 1 - share)}
            if rng.random() < 0.7:
                return {"signal": key, "op": "<=", "value": self.quantile(key, share)}
            low = rng.uniform(0, 1 - share)
            return {
                "signal": key,
                "op": "between",
                "value": [self.quantile(key, low), self.quantile(key, low + share)],
            }
        if roll < 0.93:
            key = rng.choice(list(self.CATEGORIES))
            if rng.random() < 0.6:
                return {"signal": key, "op": "=", "value": rng.choice(self.CATEGORIES[key])}
            return {"signal": key, "op": "in", "value": rng.sample(self.CATEGORIES[key], 2)}
        if roll < 0.97:
            return {
                "signal": "metric.quota_used_pct",
                "op": ">=",
                "value": self.quantile("quota_used_pct", rng.uniform(0.8, 0.97)),
            }
        return {"signal": rng.choice(self.BOOLEANS), "op": "=", "value": True}

    def condition(self) -> dict:
        rng = self.rng
        shape = rng.random()
        if shape < 0.6:
            return {"all": [self.clause() for _ in range(rng.randint(2, 3))]}
        if shape < 0.75:
            return {"all": [self.clause(), {"any": [self.clause(), self.clause()]}]}
        if shape < 0.9:
            return {"all": [self.clause(), self.clause(), {"not": self.clause()}]}
        return {
            "any": [
                {"all": [self.clause(), self.clause()]},
                {"all": [self.clause(), self.clause()]},
            ]
        }


def make_actions(rng: random.Random) -> list[dict]:
    """Most rules only record (dashboards, timelines); some message the customer, a few ask
    a person to act — routes are rare, as a pool's capacity is."""
    roll = rng.random()
    if roll < 0.7:
        return []
    if roll < 0.72:  # a risk play: route, then a task for whoever takes it
        return [
            {
                "type": "route_to_pool",
                "pool": rng.choice(POOLS),
                "priority": rng.choice(("high", "normal")),
                "sla_hours": 24,
            },
            {
                "type": "schedule_touchpoint",
                "channel": "call_task",
                "template": "bench-call",
                "recipient": "pool_assignee",
                "delay_days": 0,
            },
        ]
    if roll < 0.9:
        key, channel = rng.choice(TEMPLATES[:2])
        return [
            {
                "type": "schedule_touchpoint",
                "channel": channel,
                "template": key,
                "recipient": "primary_contact",
                "delay_days": rng.choice((0, 0, 1, 3)),
            }
        ]
    if roll < 0.97:
        return [
            {
                "type": "create_action",
                "title": "Follow up on the signal",
                "owner": "owning_csm",
                "due_in_days": 7,
            }
        ]
    return [{"type": "set_stage", "stage": rng.choice(("renewal", "expansion"))}]


def make_rules(
    args: argparse.Namespace, rng: random.Random, signals: list[dict], now: datetime
) -> dict[str, int]:
    from cs_app.extensions import db
    from cs_app.triggers.rules import rules as pure
    from cs_app.triggers.rules.models import Rule
    from cs_app.triggers.rules.service import signal_info

    maker = ClauseMaker(rng, signals)
    sample = [
        row | {"metric.quota_used_pct": row["quota_used_pct"]}
        for row in rng.sample(signals, min(len(signals), 2_000))
    ]
    policies = [p for p, _ in POLICIES]
    weights = [w for _, w in POLICIES]
    rows, kinds = [], {"with_actions": 0, "sample_rates": []}
    for n in range(args.rules):
        while True:  # a condition that matches something, and not too much
            condition = maker.condition()
            rate = sum(pure.matches(condition, row) for row in sample) / len(sample)
            if 0 < rate <= 2 * args.match_rate:
                break
        kinds["sample_rates"].append(rate)
        pure.validate_condition(condition, signal_info)
        policy = rng.choices(policies, weights)[0]
        actions = make_actions(rng)
        kinds["with_actions"] += bool(actions)
        rows.append(
            {
                "name": f"Bench rule {n}",
                "kind": "risk",
                "enabled": True,
                "mode": "scheduled",
                "condition": condition,
                "actions": actions,
                "once_policy": policy,
                "cooldown_days": rng.choice((7, 30, 90)) if policy == "cooldown" else 0,
                "first_event_only": False,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    with db.engine.begin() as connection:
        core_rows(connection, Rule.__table__, rows)
    return kinds


# --- measuring --------------------------------------------------------------------------------


def timed(
    repeat: int, run: Callable[[], object], after: Callable[[], None] | None = None
) -> tuple[list[float], object]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - started)
        if after is not None:
            after()
    return timings, result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink() -> Iterator[tuple[int, list]]:
    """A local aiosmtpd server that accepts every message."""
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
            received.append(envelope.original_content)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def measure_delivery(app, args: argparse.Namespace, now: datetime) -> dict:
    """Touchpoints delivered per second to a local SMTP server: the due email touchpoints the
    first evaluation scheduled (up to ``--touchpoints``; the others are moved out of the way),
    each claimed, rendered, sent and recorded."""
    from cs_app.extensions import db
    from cs_app.triggers.touchpoints.delivery import deliver_due_touchpoints
    from cs_app.triggers.touchpoints.models import Touchpoint

    with smtp_sink() as (port, received):
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TLS=False, SMTP_USER=None)
        table = Touchpoint.__table__
        keep = (
            select(table.c.id)
            .where(table.c.status == "scheduled", table.c.channel == "email", table.c.due_at <= now)
            .order_by(table.c.id)
        )
        due = list(db.session.scalars(keep.limit(args.touchpoints)))
        db.session.execute(
            update(table)
            .where(table.c.status == "scheduled", table.c.id.not_in(due) if due else True)
            .values(due_at=now + timedelta(days=3650), next_attempt_at=now + timedelta(days=3650))
        )
        db.session.commit()
        started = time.perf_counter()
        counts = deliver_due_touchpoints(now=now + timedelta(minutes=1), limit=len(due) or 1)
        db.session.commit()
        seconds = time.perf_counter() - started
    sent = counts.get("sent", 0)
    return {
        "due": len(due),
        "counts": counts,
        "seconds": seconds,
        "per_second": sent / seconds if seconds else 0.0,
        "smtp_messages": len(received),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("CS_APP_SECRET_KEY", "bench")
    from flask_migrate import upgrade

    from cs_app import create_app
    from cs_app.extensions import db
    from cs_app.triggers.pools.models import QueueItem
    from cs_app.triggers.rules.evaluation import evaluate_scheduled_rules
    from cs_app.triggers.rules.models import RuleFiring
    from cs_app.triggers.touchpoints.models import Touchpoint

    rng = random.Random(args.seed)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    report: list[tuple[str, str]] = []
    with database(args) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
        with app.app_context():
            dialect = db.engine.dialect.name
            started = time.perf_counter()
            upgrade()
            loaded = load(args, rng, now)
            kinds = make_rules(args, rng, loaded.pop("signals"), now)
            if dialect == "postgresql":
                with db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                ) as connection:
                    connection.execute(text("VACUUM ANALYZE"))
            else:
                with db.engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
            print(f"schema and load: {time.perf_counter() - started:.1f} s ({dialect})", flush=True)
            report.append(
                (
                    "database",
                    f"postgresql {db.engine.dialect.server_version_info}"
                    if dialect == "postgresql"
                    else f"sqlite {sqlite3.sqlite_version}",
                )
            )
            report += [(name, f"{value:,}") for name, value in loaded.items()]
            report.append(("rules", f"{args.rules:,} ({kinds['with_actions']} with actions)"))
            rates = sorted(kinds["sample_rates"])
            report.append(
                (
                    "rule match rates (sample)",
                    f"mean {statistics.mean(rates):.2%}, median "
                    f"{statistics.median(rates):.2%}, max {rates[-1]:.2%} "
                    f"(kept when <= {2 * args.match_rate:.0%})",
                )
            )
            report.append(
                (
                    "load average at start",
                    " ".join(f"{v:.1f}" for v in os.getloadavg())
                    + f" ({os.cpu_count()} CPUs, shared)",
                )
            )

            def first_run() -> dict[str, int]:
                counts = evaluate_scheduled_rules(now=now)
                db.session.flush()
                return counts

            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                first_run()
                profiler.disable()
                db.session.rollback()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
                return 0
            first_timings, first_counts = timed(args.repeat, first_run, db.session.rollback)
            print(
                f"first evaluation: {statistics.median(first_timings):.1f} s; "
                + ", ".join(f"{k} {v:,}" for k, v in first_counts.items() if v),
                flush=True,
            )
            evaluate_scheduled_rules(now=now)
            db.session.commit()
            later = now + timedelta(minutes=15)

            def second_run() -> dict[str, int]:
                counts = evaluate_scheduled_rules(now=later)
                db.session.commit()
                return counts

            second_timings, second_counts = timed(args.repeat, second_run)
            totals = {
                "firings": db.session.scalar(select(func.count()).select_from(RuleFiring)),
                "queue items": db.session.scalar(select(func.count()).select_from(QueueItem)),
                "touchpoints": db.session.scalar(select(func.count()).select_from(Touchpoint)),
            }
            db.session.rollback()
            delivery = measure_delivery(app, args, now)
            db.session.execute(delete(Touchpoint))
            db.session.rollback()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()

    first = statistics.median(first_timings)
    print("\n== sizes " + "=" * 70)
    for name, value in report:
        print(f"  {name:<28} {value}")
    for name, value in totals.items():
        print(f"  {name + ' after a run':<28} {value:,}")
    print("\n== evaluation " + "=" * 65)
    print(f"  {'measurement':<44} {'median':>8} {'min':>8} {'max':>8}  runs")
    for name, timings in (
        ("first evaluation (all new, actions run)", first_timings),
        ("second evaluation (nothing new)", second_timings),
    ):
        print(
            f"  {name:<44} {statistics.median(timings):>7.2f}s {min(timings):>7.2f}s"
            f" {max(timings):>7.2f}s  {len(timings)}"
        )
    print(
        "\n  counts of the first evaluation:  "
        + ", ".join(f"{k} {v:,}" for k, v in first_counts.items() if v)
    )
    print(
        "  counts of the second evaluation: "
        + ", ".join(f"{k} {v:,}" for k, v in second_counts.items() if v)
    )
    created = first_counts["firings_created"]
    print(f"\n  firings per second (first evaluation)   {created / first:10,.0f}")
    print(
        f"  rule × account checks per second        "
        f"{args.rules * loaded['accounts'] / first:10,.0f}"
    )
    print("\n== delivery " + "=" * 67)
    print(
        f"  due touchpoints {delivery['due']:,} → {delivery['counts']} in "
        f"{delivery['seconds']:.2f} s: {delivery['per_second']:,.0f} delivered/s "
        f"({delivery['smtp_messages']:,} messages reached the SMTP server)"
    )
    print("\n== aim " + "=" * 72)
    scale = loaded["accounts"] / 100_000 * args.rules / RULES
    second = statistics.median(second_timings)
    for name, seconds, aim in (
        ("first", first, AIM_SECONDS_PER_100K),
        ("second", second, AIM_SECOND_SECONDS_PER_100K),
    ):
        budget = aim * scale
        verdict = "PASS" if seconds <= budget else "MISS"
        print(
            f"  {verdict}  {name} evaluation of {args.rules} rules over "
            f"{loaded['accounts']:,} accounts <= {budget:.1f} s ({aim:.0f} s per 500 × 100k, "
            f"scaled linearly): {seconds:.2f} s, {seconds / budget:.2f} of the budget"
        )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
