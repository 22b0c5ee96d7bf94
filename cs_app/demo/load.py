"""``load_demo``: the order in which the demo is built, and the one place that knows it.

Users first; then each account that is not there yet with its plans (built with back-dated
``now`` values) and, after them, its departed contacts; then usage and the replayed health
history of the accounts that have none; last the journey triggers, so pools, queues, rule
firings and touchpoints are there on first sign-in. Like every service, this only flushes;
the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cs_app.accounts.models import Account
from cs_app.demo.accounts import create_account, record_departures
from cs_app.demo.context import DemoContext
from cs_app.demo.history import load_usage_and_history
from cs_app.demo.journeys import ensure_pool_members, journey_specs, play_todays_events
from cs_app.demo.people import ensure_users
from cs_app.demo.plans import build_plans
from cs_app.demo.specs import generated_specs, growthstack_spec, techcorp_spec
from cs_app.extensions import db
from cs_app.health.jobs import recompute_pending_health
from cs_app.triggers.rules.evaluation import evaluate_scheduled_rules


def load_demo(now: datetime, echo: Callable[[str], Any] = print) -> dict[str, int]:
    """Load the demo portfolio as of ``now``; returns how many users, accounts and plans were
    created (all zero when the portfolio is already there)."""
    ctx = DemoContext(now=now, users={}, echo=echo)
    ensure_users(ctx)
    specs = [
        techcorp_spec(ctx.today),
        growthstack_spec(ctx.today),
        *generated_specs(ctx.today),
        *journey_specs(ctx.today),
    ]
    existing = set(
        db.session.scalars(
            select(Account.external_id).where(
                Account.external_id.in_([s.external_id for s in specs])
            )
        )
    )
    for index, spec in enumerate(specs, start=1):
        if spec.external_id in existing:
            continue
        account = create_account(ctx, spec)
        build_plans(ctx, account, spec)
        record_departures(ctx, account, spec)
        if index % 10 == 0 or index == len(specs):
            echo(f"  accounts {index}/{len(specs)}")
    db.session.flush()
    load_usage_and_history(ctx, specs)
    _start_journeys(ctx)
    echo(
        "Demo portfolio: " + ", ".join(f"{n} {what}" for what, n in sorted(ctx.created.items()))
        if ctx.created
        else "Demo portfolio already loaded; nothing added."
    )
    return ctx.created


def _start_journeys(ctx: DemoContext) -> None:
    """Pools get their members, today's events arrive (event-driven rules react), and the
    scheduled rules run once: the queues, firings and touchpoints are there on first sign-in."""
    members = ensure_pool_members(ctx.users)
    events = play_todays_events(ctx.now)
    recompute_pending_health(now=ctx.now)  # today's events move their accounts' signals
    firings = evaluate_scheduled_rules(now=ctx.now)["firings_created"]
    for what, added in (
        ("pool members", members),
        ("journey events", events),
        ("rule firings", firings),
    ):
        if added:
            ctx.count(what, added)
