"""Compute every account's signals set-wise into ``account_signals``.

One INSERT … SELECT over all accounts (or a given few), joining grouped aggregates of events,
metrics, contacts, plans and snapshots. No per-account Python: the cost grows with the rows the
database scans, and the same statement serves 40 accounts or 100,000.

The event counts read the (account, type, time) index alone; the few that need properties
read only the events of their types. Distinct users and features come from the tables
ingestion keeps (``account_users``, ``account_features``), not from distinct values over the
events, which was most of the cost at 100,000 accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    Float,
    and_,
    case,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
)

from cs_app.accounts.models import Account, Contact
from cs_app.accounts.usage_models import (
    AccountActivity,
    AccountFeature,
    AccountSignals,
    AccountUser,
    MetricValue,
    UsageEvent,
)
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from cs_app.plans.models import ActionItem, Milestone, Plan, Risk
from cs_app.sql import days_between, to_date

USAGE_TYPES = ("login", "feature_used")
CLOSED_TICKET_STATES = ("closed", "solved", "resolved")
UPGRADE_INTENT_TYPES = ("upgrade_viewed", "upgrade_started", "upgrade_step_reached")
METRIC_SIGNALS = ("quota_used_pct", "seats_used", "open_tickets")


def _count_when(condition):
    """``count(*) FILTER (WHERE …)`` (SQLite 3.30+): cheaper per row than sum(CASE …)."""
    return func.count().filter(condition)


def _for_accounts(column, account_ids: Sequence[int] | None):
    """Restrict a grouped subquery to the accounts being recomputed (nothing for a full run),
    so a catch-up of a few thousand accounts reads their rows only, through the account
    indexes, instead of aggregating every account's rows and keeping a few."""
    return true() if account_ids is None else column.in_(list(account_ids))


def _event_aggregates(now: datetime, account_ids: Sequence[int] | None = None):
    """The counts that need only an event's account, type and time: read from the
    (account, type, time) index alone, in account order, never from the table."""
    ev = UsageEvent.__table__.c
    t7, t30, t60 = now - timedelta(days=7), now - timedelta(days=30), now - timedelta(days=60)
    recent = ev.occurred_at >= t30
    return (
        select(
            ev.account_id,
            _count_when(and_(ev.event_type == "login", ev.occurred_at >= t7)).label("logins_7d"),
            _count_when(and_(ev.event_type == "login", recent)).label("logins_30d"),
            _count_when(and_(ev.event_type.in_(USAGE_TYPES), recent)).label("usage_30d"),
            _count_when(and_(ev.event_type.in_(USAGE_TYPES), not_(recent))).label("usage_prev_30d"),
            _count_when(and_(ev.event_type == "feature_gate_hit", ev.occurred_at >= t7)).label(
                "feature_gate_hits_7d"
            ),
            func.max(ev.occurred_at)
            .filter(and_(ev.event_type.in_(UPGRADE_INTENT_TYPES), recent))
            .label("last_upgrade_intent_at"),
            func.max(ev.occurred_at)
            .filter(ev.event_type == "upgrade_completed")
            .label("last_upgrade_completed_at"),
        )
        .where(
            ev.occurred_at >= t60, ev.occurred_at <= now, _for_accounts(ev.account_id, account_ids)
        )
        .group_by(ev.account_id)
        .subquery("events")
    )


def _property_aggregates(now: datetime, account_ids: Sequence[int] | None = None):
    """The sums that read event properties (seats added, open tickets), over the few events
    of those types only, found in time order through the (type, time) index."""
    ev = UsageEvent.__table__.c
    seats = func.coalesce(ev.properties["count"].as_integer(), 1)
    status = func.coalesce(ev.properties["status"].as_string(), "open")
    return (
        select(
            ev.account_id,
            func.sum(case((ev.event_type == "seat_added", seats), else_=0)).label(
                "seats_added_30d"
            ),
            _count_when(
                and_(ev.event_type == "support_ticket", status.not_in(CLOSED_TICKET_STATES))
            ).label("recent_open_tickets"),
        )
        .where(
            ev.event_type.in_(("seat_added", "support_ticket")),
            ev.occurred_at >= now - timedelta(days=30),
            ev.occurred_at <= now,
            _for_accounts(ev.account_id, account_ids),
        )
        .group_by(ev.account_id)
        .subquery("event_properties")
    )


def _recent_count(
    table, seen_column, distinct_events, now: datetime, account_ids: Sequence[int] | None, name: str
):
    """Per account, the distinct users (features) of its events in the 30 days up to ``now``,
    counted as its rows of ``account_users`` (``account_features``) whose newest event is in
    that window: one pass over their primary key, without reading the events.

    A row whose newest event is later than ``now`` (a recompute as of an earlier time, or an
    event stamped ahead of our clock) cannot tell from its time alone whether it also had one
    in the window: an account with such a row is counted from its events instead, as
    ``distinct_events(account_id, start, end)`` does. That is rare, and such an account costs
    what counting it from its events always did."""
    t30 = now - timedelta(days=30)
    account_id = table.c.account_id
    return (
        select(
            account_id,
            case(
                (func.max(seen_column) > now, distinct_events(account_id, t30, now)),
                else_=func.count(),
            ).label("n"),
        )
        .where(seen_column >= t30, _for_accounts(account_id, account_ids))
        .group_by(account_id)
        .subquery(name)
    )


def _distinct_in_window(value, *conditions):
    """``distinct_events`` for ``_recent_count``: the distinct ``value`` of one account's
    events between two times, as a correlated count."""
    ev = UsageEvent.__table__.c

    def count(account_id, start: datetime, end: datetime):
        return (
            select(func.count(distinct(value)))
            .where(
                ev.account_id == account_id,
                ev.occurred_at >= start,
                ev.occurred_at <= end,
                *conditions,
            )
            .scalar_subquery()
        )

    return count


def _active_users(now: datetime, account_ids: Sequence[int] | None = None):
    table = AccountUser.__table__
    return _recent_count(
        table,
        table.c.last_seen_at,
        _distinct_in_window(UsageEvent.__table__.c.user_ref),
        now,
        account_ids,
        "active_users",
    )


def _features_used(now: datetime, account_ids: Sequence[int] | None = None):
    table = AccountFeature.__table__
    ev = UsageEvent.__table__.c
    used = _distinct_in_window(
        ev.properties["feature"].as_string(), ev.event_type == "feature_used"
    )
    return _recent_count(table, table.c.last_used_at, used, now, account_ids, "features_used")


def _latest_event_property(
    now: datetime, event_type: str, name: str, value, account_ids: Sequence[int] | None = None
):
    """The newest event of ``event_type`` per account that carries ``value``, with its day."""
    ev = UsageEvent.__table__.c
    ranked = (
        select(
            ev.account_id,
            value.label("value"),
            ev.occurred_at,
            func.row_number()
            .over(partition_by=ev.account_id, order_by=(ev.occurred_at.desc(), ev.id.desc()))
            .label("rank"),
        )
        .where(
            ev.event_type == event_type,
            ev.occurred_at <= now,
            value.is_not(None),
            _for_accounts(ev.account_id, account_ids),
        )
        .subquery(f"{name}_ranked")
    )
    # Rank 1 is one row per account already; the GROUP BY (max of one value) stops SQLite from
    # flattening this into the outer join, where it would scan every ranked row once per
    # account (no automatic index): quadratic, 80 s instead of 5 s at 10,000 accounts.
    return (
        select(
            ranked.c.account_id,
            func.max(ranked.c.value).label("value"),
            func.max(ranked.c.occurred_at).label("occurred_at"),
        )
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.account_id)
        .subquery(name)
    )


def _latest_metrics(today: date, account_ids: Sequence[int] | None = None):
    m = MetricValue.__table__.c
    ranked = (
        select(
            m.account_id,
            m.metric_key,
            m.value,
            func.row_number()
            .over(partition_by=(m.account_id, m.metric_key), order_by=m.measured_on.desc())
            .label("rank"),
        )
        .where(
            m.metric_key.in_(METRIC_SIGNALS),
            m.measured_on <= today,
            _for_accounts(m.account_id, account_ids),
        )
        .subquery("metrics_ranked")
    )
    return (
        select(
            ranked.c.account_id,
            *(
                func.max(case((ranked.c.metric_key == key, ranked.c.value))).label(key)
                for key in METRIC_SIGNALS
            ),
        )
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.account_id)
        .subquery("metrics")
    )


def _plan_aggregates(today: date, account_ids: Sequence[int] | None = None):
    active = and_(Plan.status == "active", _for_accounts(Plan.account_id, account_ids))
    severe = or_(
        and_(Risk.likelihood == "high", Risk.impact.in_(("high", "medium"))),
        and_(Risk.likelihood == "medium", Risk.impact == "high"),
    )
    actions = (
        select(Plan.account_id, func.count().label("n"))
        .join(ActionItem, ActionItem.plan_id == Plan.id)
        .where(active, ActionItem.status != "done", ActionItem.due_date < today)
        .group_by(Plan.account_id)
        .subquery("overdue_actions")
    )
    milestones = (
        select(Plan.account_id, func.count().label("n"))
        .join(Milestone, Milestone.plan_id == Plan.id)
        .where(active, Milestone.status.not_in(("done",)), Milestone.target_date < today)
        .group_by(Plan.account_id)
        .subquery("overdue_milestones")
    )
    risks = (
        select(Plan.account_id, func.count().label("n"))
        .join(Risk, Risk.plan_id == Plan.id)
        .where(active, Risk.status.in_(("open", "mitigating")), severe)
        .group_by(Plan.account_id)
        .subquery("open_high_risks")
    )
    reviews = (
        select(
            Plan.account_id,
            func.max(case((Plan.next_review_on < today, 1), else_=0)).label("overdue"),
        )
        .where(active)
        .group_by(Plan.account_id)
        .subquery("plan_reviews")
    )
    return actions, milestones, risks, reviews


def _contact_aggregates(account_ids: Sequence[int] | None = None):
    active_sponsor = and_(Contact.role == "executive_sponsor", Contact.status == "active")
    return (
        select(
            Contact.account_id,
            func.max(case((active_sponsor, Contact.last_contact_on))).label("sponsor_contact"),
            func.max(
                case((and_(Contact.role == "champion", Contact.status == "departed"), 1), else_=0)
            ).label("champion_departed"),
            func.max(
                case((and_(Contact.role == "champion", Contact.status == "active"), 1), else_=0)
            ).label("champion_active"),
        )
        .where(_for_accounts(Contact.account_id, account_ids))
        .group_by(Contact.account_id)
        .subquery("contacts")
    )


def _snapshot_on_or_before(column, day: date):
    """``column`` of each account's newest snapshot on or before ``day``, as correlated
    lookups on the (account_id, day) unique index: a few index probes per account, however
    long the snapshot history grows (a grouped scan of all history would cost more every
    day the daily job has run)."""
    hs = HealthSnapshot.__table__
    days = hs.alias("days")
    accounts = Account.__table__
    newest_day = (
        select(func.max(days.c.day))
        .where(days.c.account_id == accounts.c.id, days.c.day <= day)
        .correlate(accounts)
        .scalar_subquery()
    )
    return (
        select(column)
        .where(hs.c.account_id == accounts.c.id, hs.c.day == newest_day)
        .correlate(accounts)
        .scalar_subquery()
    )


def signals_select(now: datetime, account_ids: Sequence[int] | None = None):
    """The SELECT producing one ``account_signals`` row per account."""
    today = now.date()
    today_literal = literal(today, Date)
    events = _event_aggregates(now, account_ids)
    properties = _property_aggregates(now, account_ids)
    active_users, features_used = _active_users(now, account_ids), _features_used(now, account_ids)
    nps = _latest_event_property(
        now,
        "nps_response",
        "nps",
        UsageEvent.__table__.c.properties["score"].as_integer(),
        account_ids,
    )
    sentiment = _latest_event_property(
        now,
        "support_ticket",
        "sentiment",
        UsageEvent.__table__.c.properties["sentiment"].as_string(),
        account_ids,
    )
    metrics = _latest_metrics(today, account_ids)
    actions, milestones, risks, reviews = _plan_aggregates(today, account_ids)
    contacts = _contact_aggregates(account_ids)
    snapshot = HealthSnapshot.__table__.c
    score_now = _snapshot_on_or_before(snapshot.score, today)
    activity_table = AccountActivity.__table__
    activity = activity_table.c
    a = Account.__table__.c

    live = activity.account_id.is_not(None)  # the product has sent events for this account

    def counted(column):
        return case((live, func.coalesce(column, 0)))

    seats_used = func.coalesce(
        cast(metrics.c.seats_used, Float), case((live, func.coalesce(active_users.c.n, 0)))
    )
    nps_value = nps.c.value
    columns = {
        "account_id": a.id,
        "computed_at": literal(now, AccountSignals.__table__.c.computed_at.type),
        "days_since_last_login": days_between(today_literal, activity.last_login_at),
        "logins_7d": counted(events.c.logins_7d),
        "logins_30d": counted(events.c.logins_30d),
        "active_users_30d": counted(active_users.c.n),
        "features_used_30d": counted(features_used.c.n),
        "usage_30d": counted(events.c.usage_30d),
        "usage_change_pct": 100.0
        * (cast(events.c.usage_30d, Float) - events.c.usage_prev_30d)
        / func.nullif(events.c.usage_prev_30d, 0),
        "quota_used_pct": metrics.c.quota_used_pct,
        "seats_purchased": a.seats_purchased,
        "seats_used": seats_used,
        "seat_utilization_pct": 100.0 * seats_used / func.nullif(a.seats_purchased, 0),
        "seats_added_30d": counted(properties.c.seats_added_30d),
        "open_tickets": func.coalesce(
            metrics.c.open_tickets, counted(properties.c.recent_open_tickets)
        ),
        "support_sentiment": sentiment.c.value,
        "support_sentiment_on": to_date(sentiment.c.occurred_at),
        "last_nps": nps_value,
        "nps_category": case(
            (nps_value >= 9, "promoter"),
            (nps_value >= 7, "passive"),
            (nps_value.is_not(None), "detractor"),
        ),
        "last_nps_on": to_date(nps.c.occurred_at),
        "health_score": score_now,
        "health_band": _snapshot_on_or_before(snapshot.band, today),
        "health_change_30d": score_now
        - _snapshot_on_or_before(snapshot.score, today - timedelta(days=30)),
        "days_to_renewal": days_between(a.renewal_date, today_literal),
        "account_age_days": days_between(
            today_literal, func.coalesce(a.contract_start, a.created_at)
        ),
        "trial_days_left": days_between(a.trial_ends_on, today_literal),
        "lifecycle_stage": a.lifecycle_stage,
        "segment": a.segment,
        "arr": a.arr_minor,
        "open_high_risks": func.coalesce(risks.c.n, 0),
        "overdue_actions": func.coalesce(actions.c.n, 0),
        "overdue_milestones": func.coalesce(milestones.c.n, 0),
        "days_since_sponsor_contact": days_between(today_literal, contacts.c.sponsor_contact),
        "champion_departed": case(
            (contacts.c.account_id.is_(None), None),
            (and_(contacts.c.champion_departed == 1, contacts.c.champion_active == 0), True),
            else_=False,
        ),
        "plan_review_overdue": func.coalesce(reviews.c.overdue, 0) == 1,
        "feature_gate_hits_7d": counted(events.c.feature_gate_hits_7d),
        "upgrade_intent_open": case(
            (not_(live), None),
            (
                and_(
                    events.c.last_upgrade_intent_at.is_not(None),
                    or_(
                        events.c.last_upgrade_completed_at.is_(None),
                        events.c.last_upgrade_completed_at < events.c.last_upgrade_intent_at,
                    ),
                ),
                True,
            ),
            else_=False,
        ),
    }
    query = (
        select(*(expression.label(name) for name, expression in columns.items()))
        .select_from(Account.__table__)
        .outerjoin(activity_table, activity.account_id == a.id)
        .outerjoin(events, events.c.account_id == a.id)
        .outerjoin(properties, properties.c.account_id == a.id)
        .outerjoin(active_users, active_users.c.account_id == a.id)
        .outerjoin(features_used, features_used.c.account_id == a.id)
        .outerjoin(nps, nps.c.account_id == a.id)
        .outerjoin(sentiment, sentiment.c.account_id == a.id)
        .outerjoin(metrics, metrics.c.account_id == a.id)
        .outerjoin(actions, actions.c.account_id == a.id)
        .outerjoin(milestones, milestones.c.account_id == a.id)
        .outerjoin(risks, risks.c.account_id == a.id)
        .outerjoin(reviews, reviews.c.account_id == a.id)
        .outerjoin(contacts, contacts.c.account_id == a.id)
    )
    if account_ids is not None:
        query = query.where(a.id.in_(list(account_ids)))
    return query, list(columns)


def compute_signals(*, now: datetime, account_ids: Sequence[int] | None = None) -> int:
    """Rebuild ``account_signals`` for all accounts (or ``account_ids``); returns the count."""
    table = AccountSignals.__table__
    query, names = signals_select(now, account_ids)
    removal = delete(table)
    if account_ids is not None:
        removal = removal.where(table.c.account_id.in_(list(account_ids)))
    db.session.execute(removal)
    db.session.execute(insert(table).from_select(names, query))
    counted = select(func.count()).select_from(table)
    if account_ids is not None:
        counted = counted.where(table.c.account_id.in_(list(account_ids)))
    return db.session.scalar(counted)
