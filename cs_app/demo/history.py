"""90 days of health history for the demo accounts, replayed day by day with the real
services: the events and metric values of each past day (from ``usage.py``) are ingested and
the health recompute runs as of that morning, so signals, snapshots, trends and what-changed
read like 90 days of the real job (daily for the last 35 days, every 3 days before that).
Sponsors' last-contact dates are wound back for each replayed day, and the lead sets one
override on a healthy-looking account whose renewal is at risk.

Accounts that already have history are left alone, so loading twice replays nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from cs_app.accounts.ingest import BulkResult, ingest_events, ingest_metrics
from cs_app.accounts.models import Account, Contact
from cs_app.demo.context import DemoContext
from cs_app.demo.people import LEAD_EMAIL
from cs_app.demo.specs import AccountSpec
from cs_app.demo.usage import HISTORY_DAYS, UsageStory, usage_data, usage_stories
from cs_app.extensions import db
from cs_app.health.models import HealthOverride, HealthSnapshot
from cs_app.health.recompute import recompute
from cs_app.health.service import set_override
from cs_app.jobs.models import PendingRecompute

DAILY_DAYS = 35  # daily snapshots for the last 35 days: 7- and 30-day what-changed, alerts
SPARSE_STEP = 3
REPLAY_HOUR = time(6, 0)
SPONSOR_CADENCE = {"high": 14, "medium": 30, "low": 60}
OVERRIDE_DAYS_AGO = 4
MAX_INGEST_BATCH = 5_000
OVERRIDE_REASON = (
    "The sponsor told us the renewal budget is frozen pending a procurement "
    "review; usage looks healthy but the renewal is at risk."
)


def _replay_moments(now: datetime) -> list[datetime]:
    """Every 3 days from 90 days ago, daily for the last 35 days (06:00 UTC), then ``now``."""
    today = now.date()
    offsets = [*range(-HISTORY_DAYS, -DAILY_DAYS, SPARSE_STEP), *range(-DAILY_DAYS, 0)]
    moments = [
        datetime.combine(today + timedelta(days=o), REPLAY_HOUR, tzinfo=UTC) for o in offsets
    ]
    return [m for m in moments if m < now] + [now]


def _sponsor_contact_as_of(final: date, engagement: str, day: date) -> date:
    """When the sponsor had last been contacted on ``day``, given the latest contact and a
    cadence for their engagement (the contact row only keeps the latest date)."""
    if final <= day:
        return final
    cadence = SPONSOR_CADENCE.get(engagement, 30)
    return final - timedelta(days=cadence * -(-(final - day).days // cadence))


def load_usage_and_history(ctx: DemoContext, specs: list[AccountSpec]) -> None:
    """Usage, metrics and a replayed health history for every demo account that has none
    (no snapshot before today); accounts that have one are left alone."""
    accounts = {
        a.external_id: a
        for a in db.session.scalars(
            select(Account).where(Account.external_id.in_([s.external_id for s in specs]))
        )
    }
    ids = [a.id for a in accounts.values()]
    with_history = set(
        db.session.scalars(
            select(HealthSnapshot.account_id)
            .distinct()
            .where(HealthSnapshot.account_id.in_(ids), HealthSnapshot.day < ctx.today)
        )
    )
    todo = [s for s in specs if accounts[s.external_id].id not in with_history]
    if not todo:
        return
    stories = usage_stories(specs, ctx.today)
    events: list[dict] = []
    metrics: list[dict] = []
    for spec in todo:
        account_events, account_metrics = usage_data(spec, stories[spec.external_id], ctx.now)
        events += account_events
        metrics += account_metrics
    events.sort(key=lambda item: (item["at"], item["id"]))
    metrics.sort(key=lambda item: (item["date"], item["account"], item["key"]))
    starts = {accounts[s.external_id].id: s.contract_start for s in todo}
    sponsors = _sponsor_timeline(list(starts))
    override_spec = _override_target(specs, stories, ctx.today)
    override_day = ctx.today - timedelta(days=OVERRIDE_DAYS_AGO)
    set_contacts: dict[int, date] = {}
    event_index = metric_index = 0
    moments = _replay_moments(ctx.now)
    for number, moment in enumerate(moments, start=1):
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        batch = []
        while event_index < len(events) and events[event_index]["at"] <= stamp:
            batch.append(events[event_index])
            event_index += 1
        day_metrics = []
        while metric_index < len(metrics) and metrics[metric_index]["date"] <= moment.date():
            day_metrics.append(metrics[metric_index])
            metric_index += 1
        for start in range(0, len(batch), MAX_INGEST_BATCH):
            _ingested(
                ctx,
                "usage events",
                ingest_events(batch[start : start + MAX_INGEST_BATCH], now=moment, react=False),
            )
        for start in range(0, len(day_metrics), MAX_INGEST_BATCH):
            _ingested(
                ctx,
                "metric values",
                ingest_metrics(day_metrics[start : start + MAX_INGEST_BATCH], now=moment),
            )
        _set_sponsor_contacts(sponsors, moment.date(), set_contacts)
        in_scope = [account_id for account_id, start in starts.items() if start <= moment.date()]
        if in_scope:
            recompute(now=moment, account_ids=in_scope)
        if override_spec is not None and override_spec in todo and moment.date() == override_day:
            _demo_override(ctx, accounts[override_spec.external_id], moment)
        if number % 10 == 0 or number == len(moments):
            ctx.echo(f"  health history {number}/{len(moments)}")
    if _set_sponsor_contacts(sponsors, None, set_contacts):  # back to the latest dates
        recompute(now=ctx.now, account_ids=list(starts))
    if sponsors:  # contacts loaded during the replay must not keep a past date in memory
        db.session.scalars(
            select(Contact)
            .where(Contact.id.in_([s[0] for s in sponsors]))
            .execution_options(populate_existing=True)
        ).all()
    db.session.execute(
        delete(PendingRecompute).where(
            PendingRecompute.account_id.in_(list(starts)), PendingRecompute.since <= ctx.now
        )
    )
    ctx.count(
        "health snapshots",
        db.session.scalar(
            select(func.count(HealthSnapshot.id)).where(HealthSnapshot.account_id.in_(list(starts)))
        ),
    )


def _ingested(ctx: DemoContext, what: str, result: BulkResult) -> None:
    if result.errors:  # the demo's own data: a refusal is a bug here, not bad input
        raise RuntimeError(f"demo {what} refused: {result.errors[:3]}")
    if result.accepted:
        ctx.count(what, result.accepted)


def _sponsor_timeline(account_ids: list[int]) -> list[Any]:
    """Active executive sponsors with a last contact date: (contact id, date, engagement)."""
    return list(
        db.session.execute(
            select(Contact.id, Contact.last_contact_on, Contact.engagement)
            .where(
                Contact.account_id.in_(account_ids),
                Contact.role == "executive_sponsor",
                Contact.status == "active",
                Contact.last_contact_on.is_not(None),
            )
            .order_by(Contact.id)
        ).all()
    )


def _set_sponsor_contacts(sponsors: list[Any], day: date | None, current: dict[int, date]) -> bool:
    """Set each sponsor's last contact date as it was on ``day`` (``None``: the latest), so a
    past recompute reads "days since sponsor contact" as it was then. One executemany of the
    rows that change."""
    changes = []
    for contact_id, final, engagement in sponsors:
        value = final if day is None else _sponsor_contact_as_of(final, engagement, day)
        if current.get(contact_id, final) != value:
            changes.append({"contact": contact_id, "contact_day": value})
            current[contact_id] = value
    if changes:
        table = Contact.__table__
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("contact"))
            .values(last_contact_on=bindparam("contact_day")),
            changes,
        )
    return bool(changes)


def _override_target(
    specs: list[AccountSpec], stories: dict[str, UsageStory], today: date
) -> AccountSpec | None:
    """A healthy-looking account with a CSM and a renewal within 60 days."""
    return next(
        (
            s
            for s in specs
            if stories[s.external_id].kind == "healthy"
            and s.stage == "renewal"
            and s.csm_email
            and 0 < (s.renewal_date - today).days <= 60
        ),
        None,
    )


def _demo_override(ctx: DemoContext, account: Account, moment: datetime) -> None:
    if (
        db.session.scalar(
            select(HealthOverride.id).where(HealthOverride.account_id == account.id).limit(1)
        )
        is not None
    ):
        return
    lead = ctx.users[LEAD_EMAIL]
    when = datetime.combine(moment.date(), time(11, 30), tzinfo=UTC)
    set_override(
        account,
        {
            "band": "at_risk",
            "reason": OVERRIDE_REASON,
            "expires_on": ctx.today + timedelta(days=30),
        },
        user=lead,
        now=when,
    )
    ctx.count("health overrides")
