"""Backtest a rule: replay it over the stored history and show what it would have done.

The history is the daily health snapshots (SPEC: "the history that rule backtests replay").
Every account-day with a snapshot in the window is one replayed evaluation, with the signals
the condition reads as they stood that day wherever the database keeps their history:

- ``health_score`` and ``health_band``: the snapshot; ``health_change_30d``: its score minus
  the snapshot 30 days before;
- ``lifecycle_stage``: the stage the account had entered by that day (stage history);
- ``days_to_renewal``, ``account_age_days``, ``trial_days_left``: counted from that day;
- ``quota_used_pct`` and ``metric.<key>``: the metric's latest value on or before that day;
- any other signal a scorecard measured: the value recorded in the snapshot's measures.

Every other signal (usage windows, contacts, plan counts…) has no history: its **current
value** is used on every day, and the result names those signals — like the scorecard
backtest names what it could not replay — so a reader knows which part of the answer is
today's picture. The condition is evaluated in SQL over all account-days at once.

A churned account-day (the stage it had entered by that day) is skipped, as live, unless the
rule targets churned accounts, and counted apart; so is a churned account's event. A snooze
cannot be replayed: it starts when a person resolves an item, which a replay does not know.
A scheduled rule fires on the first day of each run of consecutive matching days, when its
once-only policy (``rules.may_fire``) allows it; the firing stays open while the account keeps
matching (a routed one would stay open until a person resolved its item, which a replay cannot
know). A run the policy refuses counts as suppressed. An event rule replays the stored events
of its type (property filters and first-event-only as live), each evaluated on its day's
signals (the snapshot day's, else the current ones); its firings close at once, as live, but
a routed one is taken to stay open for its item's SLA (a replay cannot know when a person
would have resolved it).

Routing is simulated with ``routing.choose_member`` over the pool's members as they are now
(capacity, segments, away), the account's own CSM first, each simulated item open while its
firing is. Afterwards: accounts
that churned or entered expansion after their first firing (stage history, as the scorecard
backtest detects them) and how their band moved from the first firing to their latest
snapshot, against the base rate of every replayed account. Nothing is written.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, exists, func, literal, select

from cs_app.accounts.models import Account, LifecycleStageEntry
from cs_app.accounts.signal_catalog import BOOLEAN, CATEGORY, METRIC_PREFIX, SIGNALS
from cs_app.accounts.usage_models import AccountSignals, MetricValue, UsageEvent
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from cs_app.health.scoring import band_move
from cs_app.sql import chunks, date_minus_days, days_between, json_array_lookup
from cs_app.triggers.pools import routing
from cs_app.triggers.pools.models import CsmPool, PoolMember
from cs_app.triggers.rules import rules
from cs_app.triggers.rules.condition_sql import compile_condition
from cs_app.triggers.rules.event_rules import first_events, passes_filters
from cs_app.triggers.rules.models import Rule

MAX_DAYS = 365
ACCOUNT_LIST_LIMIT = 500  # accounts listed with their dates; the counts cover all
OUTCOME_STAGES = {"churned": "churned", "expansion": "expanded"}
METRIC_BACKED = {"quota_used_pct": "quota_used_pct"}


@dataclass
class MemberLoad:
    user_id: int
    name: str
    email: str
    capacity: int
    away: bool
    assigned: int = 0
    peak_open: int = 0


@dataclass
class FiredAccount:
    account_id: int
    external_id: str
    name: str
    fired_on: list[date]
    outcome: str | None = None  # churned, expanded
    outcome_on: date | None = None
    band_then: str | None = None
    band_now: str | None = None

    @property
    def band_move(self) -> str:
        return band_move(self.band_then, self.band_now)


@dataclass
class RuleBacktest:
    rule_id: int
    mode: str
    days: int
    start: date
    end: date
    replayed: int  # account-days (scheduled) or events (event rules) evaluated
    accounts_replayed: int
    firings_by_day: dict[date, int]
    suppressed: int
    accounts: list[FiredAccount]
    signals_with_history: list[str]
    signals_at_current_value: list[str]
    pool_key: str | None = None
    pool_found: bool = True
    members: list[MemberLoad] = field(default_factory=list)
    unassigned: int = 0
    base_rates: dict[str, float | None] = field(default_factory=dict)
    skipped_churned: int = 0  # matching account-days (or events) of churned accounts, skipped

    @property
    def firings(self) -> int:
        return sum(self.firings_by_day.values())

    def outcome_counts(self) -> dict[str, int]:
        counts = Counter(a.outcome for a in self.accounts if a.outcome)
        return {name: counts.get(name, 0) for name in OUTCOME_STAGES.values()}

    def band_moves(self) -> dict[str, int]:
        counts = Counter(a.band_move for a in self.accounts)
        return {
            name: counts.get(name, 0) for name in ("improved", "unchanged", "worsened", "unknown")
        }

    def outcome_rates(self) -> dict[str, float | None]:
        total = len(self.accounts)
        return {
            name: (count / total if total else None)
            for name, count in self.outcome_counts().items()
        }

    def as_dict(self) -> dict[str, Any]:
        listed = sorted(self.accounts, key=lambda a: (a.fired_on[0], a.name))
        return {
            "rule_id": self.rule_id,
            "mode": self.mode,
            "days": self.days,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "replayed": self.replayed,
            "accounts_replayed": self.accounts_replayed,
            "firings": self.firings,
            "suppressed": self.suppressed,
            "skipped_churned": self.skipped_churned,
            "accounts_fired": len(self.accounts),
            "firings_by_day": [
                {"day": day.isoformat(), "firings": count}
                for day, count in sorted(self.firings_by_day.items())
            ],
            "accounts": [
                {
                    "external_id": a.external_id,
                    "name": a.name,
                    "fired_on": [day.isoformat() for day in a.fired_on],
                    "outcome": a.outcome,
                    "outcome_on": a.outcome_on.isoformat() if a.outcome_on else None,
                    "band_then": a.band_then,
                    "band_now": a.band_now,
                    "band_move": a.band_move,
                }
                for a in listed[:ACCOUNT_LIST_LIMIT]
            ],
            "outcomes": self.outcome_counts(),
            "outcome_rates": self.outcome_rates(),
            "base_rates": self.base_rates,
            "band_moves": self.band_moves(),
            "pool": None
            if self.pool_key is None
            else {
                "key": self.pool_key,
                "found": self.pool_found,
                "unassigned": self.unassigned,
                "members": [
                    {
                        "user_email": m.email,
                        "name": m.name,
                        "capacity": m.capacity,
                        "away": m.away,
                        "assigned": m.assigned,
                        "peak_open": m.peak_open,
                    }
                    for m in self.members
                ],
            },
            "signals_with_history": self.signals_with_history,
            "signals_at_current_value": self.signals_at_current_value,
        }


# --- the replayed signals -------------------------------------------------------------------


def _recorded_signals(start: date, end: date) -> set[str]:
    """Signals some scorecard measured in the window (a sample of snapshots, as the scorecard
    backtest reads them)."""
    return {
        m.get("signal")
        for (measures,) in db.session.execute(
            select(HealthSnapshot.measures)
            .where(HealthSnapshot.day.between(start, end))
            .order_by(HealthSnapshot.day.desc())
            .limit(200)
        )
        for m in measures or []
        if isinstance(m, dict)
    }


def _measure_value(measures, signal: str):
    """The value a snapshot recorded for ``signal`` in its measures JSON (booleans as 0/1)."""
    kind = SIGNALS[signal].kind
    value = json_array_lookup(
        measures, match_key="signal", match=signal, value_key="value", as_number=kind != CATEGORY
    )
    return value == 1 if kind == BOOLEAN else value


def _metric_on(account_id, day, key: str):
    m = MetricValue.__table__.c
    return (
        select(m.value)
        .where(m.account_id == account_id, m.metric_key == key, m.measured_on <= day)
        .order_by(m.measured_on.desc())
        .limit(1)
        .scalar_subquery()
    )


def _stage_on(account_id, day, current):
    e = LifecycleStageEntry.__table__.c
    entered = (
        select(e.stage)
        .where(e.account_id == account_id, e.entered_on <= day)
        .order_by(e.entered_on.desc(), e.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(entered, current)


def history_select(
    used: Sequence[str], *, start: date, end: date, account_ids: Sequence[int] | None = None
):
    """One row per account-day with a snapshot in [start, end]: account_id, day, band and a
    column per used signal (as that day where history exists). Returns the select and the
    used signals that took their current value."""
    hs = HealthSnapshot.__table__.alias("hs")
    accounts = Account.__table__
    signals = AccountSignals.__table__
    recorded = _recorded_signals(start, end)
    source = hs.join(accounts, accounts.c.id == hs.c.account_id)
    columns = [hs.c.account_id.label("account_id"), hs.c.day.label("day"), hs.c.band.label("band")]
    current: list[str] = []
    earlier = None
    for key in used:
        if key == "health_score":
            value = hs.c.score
        elif key == "health_band":
            value = hs.c.band
        elif key == "health_change_30d":
            if earlier is None:
                earlier = HealthSnapshot.__table__.alias("hs_30")
                source = source.outerjoin(
                    earlier,
                    and_(
                        earlier.c.account_id == hs.c.account_id,
                        earlier.c.day == date_minus_days(hs.c.day, literal(30, Integer)),
                    ),
                )
            value = hs.c.score - earlier.c.score
        elif key == "lifecycle_stage":
            value = _stage_on(hs.c.account_id, hs.c.day, accounts.c.lifecycle_stage)
        elif key == "days_to_renewal":
            value = days_between(accounts.c.renewal_date, hs.c.day)
        elif key == "account_age_days":
            value = days_between(
                hs.c.day, func.coalesce(accounts.c.contract_start, accounts.c.created_at)
            )
        elif key == "trial_days_left":
            value = days_between(accounts.c.trial_ends_on, hs.c.day)
        elif key.startswith(METRIC_PREFIX) or key in METRIC_BACKED:
            metric = key[len(METRIC_PREFIX) :] if key.startswith(METRIC_PREFIX) else key
            value = _metric_on(hs.c.account_id, hs.c.day, METRIC_BACKED.get(metric, metric))
        elif key in recorded:
            value = _measure_value(hs.c.measures, key)
        else:
            current.append(key)
            value = signals.c[key]
        columns.append(value.label(key))
    if current:
        source = source.outerjoin(signals, signals.c.account_id == hs.c.account_id)
    query = select(*columns).select_from(source).where(hs.c.day.between(start, end))
    if account_ids is not None:
        query = query.where(hs.c.account_id.in_(list(account_ids)))
    return query, current


# --- replay ---------------------------------------------------------------------------------


def _at(day: date, now: datetime) -> datetime:
    """The moment a replayed evaluation of ``day`` runs: the time of day of ``now``."""
    return datetime.combine(day, now.timetz()).astimezone(UTC)


def _replay_days(start: date, end: date) -> list[date]:
    return list(
        db.session.scalars(
            select(HealthSnapshot.day)
            .where(HealthSnapshot.day.between(start, end))
            .distinct()
            .order_by(HealthSnapshot.day)
        )
    )


def _with_stage(used: Sequence[str]) -> list[str]:
    """The signals to read: the condition's, and the lifecycle stage the churned skip asks."""
    return list(used) if "lifecycle_stage" in used else [*used, "lifecycle_stage"]


def _skipped(rule: Rule, stage: str | None, at: datetime) -> bool:
    return (
        rules.skip_reason(
            lifecycle_stage=stage,
            include_churned=bool(rule.include_churned),
            snoozed_until=None,
            now=at,
        )
        is not None
    )


@dataclass
class _Firing:
    account_id: int
    day: date
    closes_on: date | None  # the first replayed day it is no longer open; None: still open


def _schedule_replay(
    rule: Rule,
    used: Sequence[str],
    *,
    start: date,
    end: date,
    now: datetime,
    renewals: Mapping[int, date | None],
):
    """Matching account-days in SQL, then churned days skipped and the once-only policy per
    account in order."""
    query, _ = history_select(_with_stage(used), start=start, end=end)
    history = query.subquery("history")
    matched = compile_condition(rule.condition, lambda key: history.c[key])
    by_account: dict[int, list[tuple[date, str]]] = defaultdict(list)
    skipped = 0
    for account_id, day, band, stage in db.session.execute(
        select(history.c.account_id, history.c.day, history.c.band, history.c.lifecycle_stage)
        .where(matched)
        .order_by(history.c.account_id, history.c.day)
    ):
        if _skipped(rule, stage, _at(day, now)):
            skipped += 1  # as a day that does not match: a run of matching days ends
            continue
        by_account[account_id].append((day, band))
    days = _replay_days(start, end)
    position = {day: index for index, day in enumerate(days)}
    firings: list[_Firing] = []
    bands: dict[tuple[int, date], str] = {}
    suppressed = 0
    for account_id, rows in by_account.items():
        previous: rules.PreviousFiring | None = None
        last: int | None = None
        current_firing: _Firing | None = None
        for day, band in rows:
            index = position[day]
            if last is not None and index == last + 1:
                last = index
                continue
            if current_firing is not None and last is not None:
                current_firing.closes_on = days[last + 1]
                current_firing = None
            at = _at(day, now)
            allowed, _ = rules.may_fire(
                rule.once_policy,
                previous,
                now=at,
                cooldown_days=rule.cooldown_days or 0,
                renewal_date=renewals.get(account_id),
            )
            if allowed:
                current_firing = _Firing(account_id, day, None)
                firings.append(current_firing)
                bands[(account_id, day)] = band
                previous = rules.PreviousFiring(at, False)
            else:
                suppressed += 1
            last = index
        if current_firing is not None and last is not None and last + 1 < len(days):
            current_firing.closes_on = days[last + 1]
    replayed = db.session.scalar(
        select(func.count())
        .select_from(HealthSnapshot)
        .where(HealthSnapshot.day.between(start, end))
    )
    return firings, bands, suppressed, skipped, replayed, _snapshot_accounts(start, end)


def _event_replay(
    rule: Rule,
    used: Sequence[str],
    *,
    start: date,
    end: date,
    renewals: Mapping[int, date | None],
    routed_hours: int | None,
):
    """The stored events of the rule's type in the window, as the live evaluation saw them.
    A firing closes at once, as live; a routed one is taken to stay open (refusing the
    account's next events) for ``routed_hours``, its item's SLA, as if worked within it."""
    ev = UsageEvent.__table__.c
    since = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    events = [
        row
        for row in db.session.execute(
            select(ev.event_id, ev.account_id, ev.occurred_at, ev.properties)
            .where(
                ev.event_type == rule.event_type, ev.occurred_at >= since, ev.occurred_at < until
            )
            .order_by(ev.occurred_at, ev.id)
        )
        if passes_filters(row.properties, rule.event_properties or {})
    ]
    if rule.first_event_only and events:
        firsts = first_events([row.event_id for row in events])
        events = [row for row in events if row.event_id in firsts]
    accounts = sorted({row.account_id for row in events})
    values: dict[tuple[int, date], dict[str, Any]] = {}
    current_values: dict[int, dict[str, Any]] = {}
    signals = AccountSignals.__table__
    for chunk in chunks(accounts):
        query, _ = history_select(_with_stage(used), start=start, end=end, account_ids=chunk)
        for row in db.session.execute(query).mappings():
            values[(row["account_id"], row["day"])] = dict(row)
        for row in db.session.execute(
            select(signals).where(signals.c.account_id.in_(list(chunk)))
        ).mappings():
            current_values[row["account_id"]] = dict(row)
    firings: list[_Firing] = []
    bands: dict[tuple[int, date], str] = {}
    previous: dict[int, tuple[datetime, datetime]] = {}  # account → fired at, open until
    suppressed = skipped = 0
    for row in events:
        day = row.occurred_at.date()
        seen = values.get((row.account_id, day))
        signals_then = seen if seen is not None else current_values.get(row.account_id, {})
        if not rules.matches(rule.condition, signals_then):
            continue
        at = row.occurred_at
        if _skipped(rule, signals_then.get("lifecycle_stage"), at):
            skipped += 1
            continue
        last = previous.get(row.account_id)
        allowed, _ = rules.may_fire(
            rule.once_policy,
            rules.PreviousFiring(last[0], at < last[1]) if last else None,
            now=at,
            cooldown_days=rule.cooldown_days or 0,
            renewal_date=renewals.get(row.account_id),
        )
        if not allowed:
            suppressed += 1
            continue
        open_until = at + timedelta(hours=routed_hours or 0)
        previous[row.account_id] = (at, open_until)
        firings.append(_Firing(row.account_id, day, open_until.date() + timedelta(days=1)))
        if seen is not None:
            bands[(row.account_id, day)] = seen["band"]
    return firings, bands, suppressed, skipped, len(events), len(accounts)


# --- routing, outcomes ----------------------------------------------------------------------


def _route_action(rule: Rule) -> dict | None:
    return next((a for a in rule.actions or [] if a.get("type") == "route_to_pool"), None)


def _simulate_pool(
    pool: CsmPool,
    firings: Sequence[_Firing],
    segments: Mapping[int, str],
    owners: Mapping[int, int | None],
) -> tuple[list[MemberLoad], int]:
    """Assign each simulated item as the pool would (the account's CSM first, then the
    strategy; capacity, segments and away as they are now), each member's load counting only
    this rule's items while they are open."""
    rows = db.session.execute(
        select(PoolMember, User.name, User.email, User.away)
        .join(User, User.id == PoolMember.user_id)
        .where(PoolMember.pool_id == pool.id)
        .order_by(PoolMember.position)
    ).all()
    loads = {
        member.user_id: MemberLoad(
            member.user_id, name, email, member.capacity, member.away or user_away
        )
        for member, name, email, user_away in rows
    }
    members = [row[0] for row in rows]
    open_items: Counter = Counter()
    closing: dict[date, list[int]] = defaultdict(list)
    last_assigned = None
    unassigned = 0
    for firing in sorted(firings, key=lambda f: (f.day, f.account_id)):
        for day in [d for d in closing if d <= firing.day]:
            for user_id in closing.pop(day):
                open_items[user_id] -= 1
        candidates = [
            routing.Member(
                user_id=m.user_id,
                position=m.position,
                capacity=m.capacity,
                open_items=open_items[m.user_id],
                segments=tuple(m.segments or ()),
                away=loads[m.user_id].away,
            )
            for m in members
        ]
        chosen = routing.owner_first(candidates, owners.get(firing.account_id))
        if chosen is None:
            chosen = routing.choose_member(
                candidates,
                pool.strategy,
                segment=segments.get(firing.account_id),
                last_assigned_user_id=last_assigned,
            )
            if chosen is not None:
                last_assigned = chosen  # an owner's item does not move the rotation on
        if chosen is None:
            unassigned += 1
            continue
        open_items[chosen] += 1
        load = loads[chosen]
        load.assigned += 1
        load.peak_open = max(load.peak_open, open_items[chosen])
        if firing.closes_on is not None:
            closing[firing.closes_on].append(chosen)
    return list(loads.values()), unassigned


def _outcomes(accounts: dict[int, FiredAccount], end: date) -> None:
    """Churn or expansion after the first firing, and the band at the latest snapshot."""
    e = LifecycleStageEntry.__table__.c
    hs = HealthSnapshot.__table__.c
    for chunk in chunks(sorted(accounts)):
        for account_id, stage, entered_on in db.session.execute(
            select(e.account_id, e.stage, e.entered_on)
            .where(
                e.account_id.in_(list(chunk)),
                e.stage.in_(list(OUTCOME_STAGES)),
                e.entered_on <= end,
            )
            .order_by(e.entered_on, e.id)
        ):
            fired = accounts[account_id]
            if fired.outcome is None and entered_on >= fired.fired_on[0]:
                fired.outcome, fired.outcome_on = OUTCOME_STAGES[stage], entered_on
        a = Account.__table__.c
        latest = (
            select(hs.band)
            .where(hs.account_id == a.id, hs.day <= end)
            .order_by(hs.day.desc())
            .limit(1)
            .scalar_subquery()
        )
        for account_id, band in db.session.execute(
            select(a.id, latest).where(a.id.in_(list(chunk)))
        ):
            accounts[account_id].band_now = band


def _with_snapshots(account_id, start: date, end: date):
    """The account has a snapshot in the window (probes the (account_id, day) index)."""
    hs = HealthSnapshot.__table__.c
    return exists().where(hs.account_id == account_id, hs.day.between(start, end))


def _snapshot_accounts(start: date, end: date) -> int:
    a = Account.__table__.c
    return db.session.scalar(
        select(func.count()).select_from(Account.__table__).where(_with_snapshots(a.id, start, end))
    )


def _base_rates(start: date, end: date) -> dict[str, float | None]:
    """Of every account with snapshots in the window, the share that churned or entered
    expansion in it: what the fired accounts' outcomes compare with."""
    e = LifecycleStageEntry.__table__.c
    population = _snapshot_accounts(start, end)
    counts = dict(
        db.session.execute(
            select(e.stage, func.count(e.account_id.distinct()))
            .where(
                e.stage.in_(list(OUTCOME_STAGES)),
                e.entered_on.between(start, end),
                _with_snapshots(e.account_id, start, end),
            )
            .group_by(e.stage)
        ).all()
    )
    return {
        name: (counts.get(stage, 0) / population if population else None)
        for stage, name in OUTCOME_STAGES.items()
    }


def backtest_rule(rule: Rule, *, days: int = 90, now: datetime) -> RuleBacktest:
    """Replay ``rule`` over the last ``days`` days (today included). Reads only."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days is between 1 and {MAX_DAYS}")
    end = now.date()
    start = end - timedelta(days=days - 1)
    used = rules.signals_used(rule.condition)
    _, current = history_select(used, start=start, end=end)
    a = Account.__table__.c
    renewals: dict[int, date | None] = {}
    if rule.once_policy == "once_per_renewal_cycle":
        renewals = dict(db.session.execute(select(a.id, a.renewal_date)).all())
    route = _route_action(rule)
    pool = db.session.scalar(select(CsmPool).where(CsmPool.key == route["pool"])) if route else None
    if rule.mode == "event":
        hours = (
            route.get("sla_hours") or (pool.default_sla_hours if pool else 24) if route else None
        )
        firings, bands, suppressed, skipped, replayed, accounts_replayed = _event_replay(
            rule, used, start=start, end=end, renewals=renewals, routed_hours=hours
        )
    else:
        firings, bands, suppressed, skipped, replayed, accounts_replayed = _schedule_replay(
            rule, used, start=start, end=end, now=now, renewals=renewals
        )
    details: dict[int, tuple[str, str, str, int | None]] = {}
    for chunk in chunks(sorted({f.account_id for f in firings})):
        details.update(
            {
                row.id: (row.external_id, row.name, row.segment, row.csm_id)
                for row in db.session.execute(
                    select(a.id, a.external_id, a.name, a.segment, a.csm_id).where(
                        a.id.in_(list(chunk))
                    )
                )
            }
        )
    fired: dict[int, FiredAccount] = {}
    for firing in sorted(firings, key=lambda f: (f.day, f.account_id)):
        if firing.account_id not in fired:
            external_id, name, _, _ = details[firing.account_id]
            fired[firing.account_id] = FiredAccount(
                firing.account_id,
                external_id,
                name,
                [],
                band_then=bands.get((firing.account_id, firing.day)),
            )
        fired[firing.account_id].fired_on.append(firing.day)
    _outcomes(fired, end)
    result = RuleBacktest(
        rule_id=rule.id,
        mode=rule.mode,
        days=days,
        start=start,
        end=end,
        replayed=replayed,
        accounts_replayed=accounts_replayed,
        firings_by_day=dict(Counter(f.day for f in firings)),
        suppressed=suppressed,
        skipped_churned=skipped,
        accounts=list(fired.values()),
        signals_with_history=[key for key in used if key not in current],
        signals_at_current_value=list(current),
        base_rates=_base_rates(start, end),
    )
    if route:
        result.pool_key = route["pool"]
        result.pool_found = pool is not None
        if pool is not None:
            result.members, result.unassigned = _simulate_pool(
                pool,
                firings,
                {account_id: d[2] for account_id, d in details.items()},
                {account_id: d[3] for account_id, d in details.items()},
            )
    return result
