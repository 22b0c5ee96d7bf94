"""Event-driven rules: evaluated for the accounts of a batch of newly ingested events.

Ingestion sends ``hooks.events_ingested`` with the rows it has just inserted (duplicates were
already dropped, so a re-sent event fires nothing); ``on_events_ingested``, connected when the
app is built, hands them to ``evaluate_event_rules``. A batch whose
event types no enabled event rule listens to costs one indexed query on ``rules.event_type``.

For each enabled rule with ``mode="event"`` whose ``event_type`` is in the batch:

1. the events must carry one of the allowed values of every property filter
   (``event_properties``; values compare as text, so ``{"count": ["5"]}`` matches ``5``);
2. with ``first_event_only`` an event counts only when the account has no earlier event of that
   type (one query for all candidate events);
3. the rule's condition is evaluated with ``rules.evaluate`` over the account's current
   signals. A condition always has at least one clause; the shipped event rules that should
   fire on every such event use ``segment not_null``, true for every account. An account with
   no signals row yet (created since the last recompute) is evaluated on signals computed on
   the fly by the recompute's own SELECT, nothing stored;
4. ``rules.may_fire`` decides against the rule's previous firing of the account (one query),
   and against a firing made earlier in the same batch, so one batch fires a rule at most once
   per account.

Firings carry ``trigger="event:<type>"``, the event's id and the signal values the condition
read; their actions run at once. An event firing that routed nothing to a pool is closed as
soon as its actions ran: it was a reaction to one event, and only a queue item gives a person
something to close. Its once-only policy (cooldown, once per renewal cycle, once ever) still
applies to the next event. A routed firing stays open until its queue item is resolved.

An event that happened more than ``MAX_EVENT_AGE`` before it arrived (an import of history, a
backfill) is stored but fires nothing: rules react to what happens now, and a year of imported
history must not send a year of welcome messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update

from cs_app.accounts.models import Account
from cs_app.accounts.signal_catalog import METRIC_PREFIX
from cs_app.accounts.signals import signals_select
from cs_app.accounts.usage_models import AccountSignals, MetricValue, UsageEvent
from cs_app.extensions import db
from cs_app.sql import among, chunks, insert_for
from cs_app.triggers.pools.models import QueueItem, QueueItemReason
from cs_app.triggers.rules import rules
from cs_app.triggers.rules.executor import execute_actions
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.rules.service import signal_info

MAX_EVENT_AGE = timedelta(days=2)
COUNT_KEYS = (
    "rules",
    "events",
    "matched",
    "firings_created",
    "suppressed",
    "skipped_churned",
    "snoozed",
    "closed",
)


@dataclass(frozen=True)
class EventRule:
    id: int
    condition: dict
    once_policy: str
    cooldown_days: int
    event_type: str
    event_properties: dict[str, list[str]]
    first_event_only: bool
    include_churned: bool = False


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def passes_filters(properties: Mapping | None, filters: Mapping[str, list[str]]) -> bool:
    """The event has one of the allowed values of every filtered property (compared as
    text)."""
    properties = properties or {}
    return all(
        name in properties and _as_text(properties[name]) in allowed
        for name, allowed in filters.items()
    )


def load_event_rules(event_types: Iterable[str]) -> list[EventRule]:
    r = Rule.__table__.c
    found = []
    for row in db.session.execute(
        select(
            r.id,
            r.condition,
            r.once_policy,
            r.cooldown_days,
            r.event_type,
            r.event_properties,
            r.first_event_only,
            r.include_churned,
        )
        .where(r.event_type.in_(sorted(set(event_types))), r.enabled.is_(True), r.mode == "event")
        .order_by(r.id)
    ):
        rule = EventRule(
            row.id,
            row.condition,
            row.once_policy,
            row.cooldown_days or 0,
            row.event_type,
            dict(row.event_properties or {}),
            bool(row.first_event_only),
            bool(row.include_churned),
        )
        try:
            rules.validate_condition(rule.condition, signal_info)
        except rules.ConditionError:
            continue  # a condition that no longer validates fires nothing
        if rule.once_policy in rules.POLICIES:
            found.append(rule)
    return found


def first_events(event_ids: Sequence[str]) -> set[str]:
    """The events among ``event_ids`` that are their account's first of their type: no event
    of that type and account happened before (at the same moment, the lower id is first)."""
    candidate, earlier = UsageEvent.__table__.alias("candidate"), UsageEvent.__table__.alias()
    same = and_(
        earlier.c.event_type == candidate.c.event_type,
        earlier.c.account_id == candidate.c.account_id,
    )
    before = exists().where(same, earlier.c.occurred_at < candidate.c.occurred_at)
    tied = exists().where(
        same, earlier.c.occurred_at == candidate.c.occurred_at, earlier.c.id < candidate.c.id
    )
    found: set[str] = set()
    for condition in among(candidate.c.event_id, event_ids):
        found.update(
            db.session.scalars(select(candidate.c.event_id).where(condition, ~before, ~tied))
        )
    return found


def account_signals(
    account_ids: Sequence[int], metric_keys: Sequence[str], *, now: datetime
) -> dict[int, tuple[dict[str, Any], date | None]]:
    """Each account's signals (with the ``metric.<key>`` values asked for) and renewal date."""
    signals_table = AccountSignals.__table__
    names = [c.name for c in signals_table.c if c.name not in ("account_id", "computed_at")]
    found: dict[int, tuple[dict[str, Any], date | None]] = {}
    missing: list[int] = []
    for condition in among(Account.id, account_ids):
        for row in db.session.execute(
            select(Account.id, Account.renewal_date, signals_table)
            .outerjoin(signals_table, signals_table.c.account_id == Account.id)
            .where(condition)
        ).mappings():
            if row["account_id"] is None:
                missing.append(row["id"])
            else:
                found[row["id"]] = ({name: row[name] for name in names}, row["renewal_date"])
    if missing:
        renewals = dict(
            db.session.execute(
                select(Account.id, Account.renewal_date).where(Account.id.in_(missing))
            ).all()
        )
        query, _ = signals_select(now, missing)
        for row in db.session.execute(query).mappings():
            found[row["account_id"]] = (
                {name: row[name] for name in names},
                renewals.get(row["account_id"]),
            )
    if metric_keys:
        m = MetricValue.__table__.c
        keys = [key[len(METRIC_PREFIX) :] for key in metric_keys]
        for condition in among(m.account_id, found):
            for account_id, key, value in db.session.execute(
                select(m.account_id, m.metric_key, m.value)
                .where(condition, m.metric_key.in_(keys))
                .order_by(m.measured_on)  # the latest wins, as in condition_sql
            ):
                found[account_id][0][METRIC_PREFIX + key] = value
    return found


def previous_firings(
    rule_ids: Sequence[int], account_ids: Sequence[int]
) -> dict[tuple[int, int], rules.PreviousFiring]:
    """The latest firing of each (rule, account), open when any of its firings is open."""
    f = RuleFiring.__table__.c
    latest: dict[tuple[int, int], rules.PreviousFiring] = {}
    for condition in among(f.account_id, account_ids):
        for rule_id, account_id, fired_at, status in db.session.execute(
            select(f.rule_id, f.account_id, f.fired_at, f.status)
            .where(f.rule_id.in_(list(rule_ids)), condition)
            .order_by(f.fired_at, f.id)
        ):
            key = (rule_id, account_id)
            was_open = key in latest and latest[key].open
            latest[key] = rules.PreviousFiring(fired_at, was_open or status == "open")
    return latest


def quiet_accounts(
    rule_ids: Sequence[int], account_ids: Sequence[int], *, now: datetime
) -> tuple[dict[int, str], dict[tuple[int, int], datetime]]:
    """Each account's lifecycle stage, and the (rule, account) pairs a resolved queue item
    still snoozes with the end of the snooze: what ``rules.skip_reason`` asks."""
    accounts = Account.__table__.c
    reasons, items = QueueItemReason.__table__.c, QueueItem.__table__.c
    stages: dict[int, str] = {}
    snoozes: dict[tuple[int, int], datetime] = {}
    for condition in among(accounts.id, account_ids):
        stages.update(
            db.session.execute(select(accounts.id, accounts.lifecycle_stage).where(condition)).all()
        )
    for condition in among(items.account_id, account_ids):
        for rule_id, account_id, until in db.session.execute(
            select(reasons.rule_id, items.account_id, func.max(reasons.snoozed_until))
            .join(QueueItem.__table__, items.id == reasons.queue_item_id)
            .where(
                reasons.rule_id.in_(list(rule_ids)),
                condition,
                reasons.snoozed_until > now,
            )
            .group_by(reasons.rule_id, items.account_id)
        ):
            snoozes[(rule_id, account_id)] = until
    return stages, snoozes


def evaluate_event_rules(new_event_rows: Sequence[Mapping], *, now: datetime) -> dict[str, int]:
    """Fire the event rules that listen to the types of ``new_event_rows`` (the rows ingestion
    has just inserted); returns counts."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    if not new_event_rows:
        return counts
    event_rules = load_event_rules({row["event_type"] for row in new_event_rows})
    if not event_rules:
        return counts
    counts["rules"] = len(event_rules)
    oldest = now - MAX_EVENT_AGE
    recent = sorted(
        (row for row in new_event_rows if row["occurred_at"] >= oldest),
        key=lambda row: (row["occurred_at"], row["event_id"]),
    )
    candidates = {
        rule.id: [
            row
            for row in recent
            if row["event_type"] == rule.event_type
            and passes_filters(row.get("properties"), rule.event_properties)
        ]
        for rule in event_rules
    }
    wanted_first = sorted(
        {
            row["event_id"]
            for rule in event_rules
            if rule.first_event_only
            for row in candidates[rule.id]
        }
    )
    if wanted_first:
        firsts = first_events(wanted_first)
        for rule in event_rules:
            if rule.first_event_only:
                candidates[rule.id] = [
                    row for row in candidates[rule.id] if row["event_id"] in firsts
                ]
    counts["events"] = sum(len(rows) for rows in candidates.values())
    account_ids = sorted({row["account_id"] for rows in candidates.values() for row in rows})
    if not account_ids:
        return counts
    metric_keys = sorted(
        {
            key
            for rule in event_rules
            for key in rules.signals_used(rule.condition)
            if key.startswith(METRIC_PREFIX)
        }
    )
    signals = account_signals(account_ids, metric_keys, now=now)
    previous = previous_firings([rule.id for rule in event_rules], account_ids)
    stages, snoozes = quiet_accounts([rule.id for rule in event_rules], account_ids, now=now)
    new_rows: list[dict[str, Any]] = []
    for rule in event_rules:
        used = rules.signals_used(rule.condition)
        for row in candidates[rule.id]:
            values, renewal_date = signals.get(row["account_id"], ({}, None))
            if not rules.matches(rule.condition, values):
                continue
            counts["matched"] += 1
            key = (rule.id, row["account_id"])
            skip = rules.skip_reason(
                lifecycle_stage=stages.get(row["account_id"]),
                include_churned=rule.include_churned,
                snoozed_until=snoozes.get(key),
                now=now,
            )
            if skip is not None:
                counts["skipped_churned" if skip == "churned" else "snoozed"] += 1
                continue
            allowed, _ = rules.may_fire(
                rule.once_policy,
                previous.get(key),
                now=now,
                cooldown_days=rule.cooldown_days,
                renewal_date=renewal_date,
            )
            if not allowed:
                counts["suppressed"] += 1
                continue
            previous[key] = rules.PreviousFiring(now, True)
            new_rows.append(
                {
                    "rule_id": rule.id,
                    "account_id": row["account_id"],
                    "fired_at": now,
                    "status": "open",
                    "trigger": f"event:{rule.event_type}",
                    "event_id": row["event_id"],
                    "matched": {name: values.get(name) for name in used},
                }
            )
    if not new_rows:
        return counts
    firings = RuleFiring.__table__
    statement = insert_for(firings).on_conflict_do_nothing().returning(firings.c.id)
    ids = [
        firing_id
        for chunk in chunks(new_rows)
        for firing_id in db.session.scalars(statement, list(chunk))
    ]
    counts["firings_created"] = len(ids)
    counts["suppressed"] += len(new_rows) - len(ids)  # fired meanwhile by a concurrent batch
    for name, value in execute_actions(ids, now=now).items():
        counts[name] = counts.get(name, 0) + value
    items = QueueItem.__table__  # a firing that opened a queue item, or joined one
    reasons = QueueItemReason.__table__
    for condition in among(firings.c.id, ids):
        counts["closed"] += db.session.execute(
            update(firings)
            .where(
                condition,
                ~exists().where(items.c.firing_id == firings.c.id),
                ~exists().where(reasons.c.firing_id == firings.c.id),
            )
            .values(status="closed", closed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    return counts


def on_events_ingested(sender, *, rows: Sequence[Mapping], now: datetime) -> None:
    """Receiver of ``cs_app.hooks.events_ingested``: ingestion's new rows, evaluated."""
    evaluate_event_rules(rows, now=now)
