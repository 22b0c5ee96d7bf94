"""CSM pools and their queues: pool configuration, routing new firings to members, and the
life of a queue item (open → claimed → resolved, or reassigned).

A member's load is the number of items *of that pool* assigned to them with status open or
claimed. Capacity is set per membership, by the lead of each pool, so items a person holds in
another pool do not count against it: each lead plans their own pool's capacity, and a person
in two pools has two capacities.

Routing locks the pool row (``SELECT … FOR UPDATE`` on PostgreSQL) while it reads the loads,
chooses with the pure ``routing`` module and writes the items, so two evaluations routing into
the same pool at once cannot both give the last free slot away; SQLite's single writer
serialises them already. When nobody is free the item waits unassigned and the pool's lead
(or, for a pool without one, every active user with the role lead) is alerted.

Queue operations take the item's ``version`` when the caller read one: a stale version, or a
concurrent change caught at flush, is a ``ConflictError`` and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, true, update
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.exc import StaleDataError

from cs_app.accounts.models import SEGMENTS, Account
from cs_app.audit import service as audit
from cs_app.auth.models import User
from cs_app.auth.permissions import can_lead
from cs_app.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.paging import Page, clamp_page, offset
from cs_app.request_args import database_id
from cs_app.sql import among, chunks
from cs_app.triggers.alerts.service import create_alerts
from cs_app.triggers.pools import routing
from cs_app.triggers.pools.models import (
    OUTCOMES,
    PRIORITIES,
    CsmPool,
    PoolMember,
    QueueItem,
    QueueItemReason,
)
from cs_app.triggers.refs import FiringRef
from cs_app.triggers.rules.models import Rule, RuleFiring

OPEN_STATUSES = ("open", "claimed")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
MAX_SLA_HOURS = 24 * 365
MAX_CAPACITY = 500
MAX_DESCRIPTION = 2000
MAX_NOTES = 5000
QUEUE_FILTERS = {
    "active": "Open and claimed",
    "open": "Open",
    "claimed": "Claimed",
    "unassigned": "Unassigned",
    "breached": "Breached",
    "resolved": "Resolved",
    "all": "All",
}
QUEUE_SORTS = {"sla": "SLA due", "priority": "Priority", "created": "Newest"}
QUEUE_PER_PAGE = 50
CLAIMABLE_LIMIT = 100
ACCOUNT_CHUNK = 1_000  # accounts per IN list when routing looks up their open items
OUTCOME_REFUSAL = "Choose an outcome: saved, churned, expanded or no action."


# --- pools ----------------------------------------------------------------------------------


def get_pool(pool_id: int) -> CsmPool:
    pool = db.session.get(CsmPool, pool_id)
    if pool is None:
        raise NotFoundError(f"No pool {pool_id}.")
    return pool


def pool_as_dict(pool: CsmPool) -> dict[str, Any]:
    """The pool as its API and audit log show it."""
    return {
        "id": pool.id,
        "key": pool.key,
        "name": pool.name,
        "description": pool.description,
        "strategy": pool.strategy,
        "default_sla_hours": pool.default_sla_hours,
        "lead_email": pool.lead.email if pool.lead else None,
        "members": [
            {
                "user_email": m.user.email,
                "name": m.user.name,
                "position": m.position,
                "capacity": m.capacity,
                "segments": list(m.segments or []),
                "away": m.away,
                "user_away": m.user.away,
            }
            for m in sorted(pool.members, key=lambda m: m.position)
        ],
    }


@dataclass
class _MemberValues:
    user: User
    capacity: int
    segments: list[str]
    away: bool


def _whole_number(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, int) and low <= value <= high:
        return value
    return None


def _user_reference(value: Any) -> tuple[str, Any] | None:
    """("email", "x@y") or ("id", 7) for what a form or the API names a person by."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return ("id", database_id(value) or 0)  # 0: no user has it
    text = str(value).strip()
    if text.isdigit():
        number = database_id(text)
        return ("id", number if number is not None else 0)  # 0: no user has it
    return ("email", text.lower())


def _users_by_reference(references: list[tuple[str, Any]]) -> dict[tuple[str, Any], User]:
    """Every referenced user in one query."""
    emails = {v for kind, v in references if kind == "email"}
    ids = {v for kind, v in references if kind == "id"}
    if not emails and not ids:
        return {}
    conditions = []
    if emails:
        conditions.append(func.lower(User.email).in_(emails))
    if ids:
        conditions.append(User.id.in_(ids))
    users = db.session.scalars(select(User).where(or_(*conditions)))
    found: dict[tuple[str, Any], User] = {}
    for user in users:
        found[("email", user.email.lower())] = user
        found[("id", user.id)] = user
    return found


def _person_problem(user: User | None, reference: tuple[str, Any]) -> str | None:
    if user is None:
        kind, value = reference
        return f"No user with the email {value}." if kind == "email" else f"No user {value}."
    if not user.active:
        return f"{user.name} is deactivated."
    if user.role == "viewer":
        return f"{user.name} is a viewer; viewers cannot work a queue."
    return None


def _validate_pool(data: dict[str, Any], pool: CsmPool | None) -> dict[str, Any]:
    """Clean values, or a ValidationError naming every problem by field (``name``,
    ``members.2.capacity``)."""
    errors: dict[str, str] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = "Give the pool a name."
    elif len(name) > 200:
        errors["name"] = "Keep the name to 200 characters."

    key = str(data.get("key") or "").strip()
    if pool is None:
        key = key or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80]
        if not KEY_PATTERN.match(key):
            errors["key"] = (
                "The key uses lowercase letters, digits, - and _ (e.g. "
                "renewal-desk); rules route to it."
            )
        elif db.session.scalar(select(CsmPool.id).where(CsmPool.key == key)) is not None:
            errors["key"] = f"The key {key!r} is taken by another pool; choose another."
    elif key and key != pool.key:
        errors["key"] = (
            f"The key stays {pool.key!r} once the pool exists: rules route to it by key."
        )

    description = str(data.get("description") or "").strip() or None
    if description and len(description) > MAX_DESCRIPTION:
        errors["description"] = f"Keep the description to {MAX_DESCRIPTION} characters."

    strategy = data.get("strategy") or "least_loaded"
    if strategy not in routing.STRATEGIES:
        errors["strategy"] = "Choose round-robin, least loaded or segment first."

    sla = _whole_number(data.get("default_sla_hours", 24), 1, MAX_SLA_HOURS)
    if sla is None:
        errors["default_sla_hours"] = f"Enter a whole number of hours from 1 to {MAX_SLA_HOURS}."

    rows = data.get("members") or []
    if not isinstance(rows, list):
        rows = []
        errors["members"] = "Send the members as a list."
    lead_reference = _user_reference(data.get("lead"))
    references = [
        r
        for r in [lead_reference, *(_user_reference(row.get("user")) for row in rows)]
        if r is not None
    ]
    users = _users_by_reference(references)

    lead = None
    if lead_reference is not None:
        lead = users.get(lead_reference)
        problem = _person_problem(lead, lead_reference)
        if problem:
            errors["lead"] = problem

    members: list[_MemberValues] = []
    seen: set[int] = set()
    for index, row in enumerate(rows):
        prefix = f"members.{index}"
        reference = _user_reference(row.get("user"))
        user = users.get(reference) if reference else None
        if reference is None:
            errors[f"{prefix}.user"] = "Choose a person."
        elif (problem := _person_problem(user, reference)) is not None:
            errors[f"{prefix}.user"] = problem
        elif user.id in seen:
            errors[f"{prefix}.user"] = f"{user.name} is listed twice."
        else:
            seen.add(user.id)
        capacity = _whole_number(row.get("capacity", 20), 1, MAX_CAPACITY)
        if capacity is None:
            errors[f"{prefix}.capacity"] = (
                f"Enter the most open items, a whole number from 1 to {MAX_CAPACITY}."
            )
        segments = row.get("segments") or []
        if not isinstance(segments, list | tuple):
            segments = [segments]
        unknown = [s for s in segments if s not in SEGMENTS]
        if unknown:
            errors[f"{prefix}.segments"] = (
                f"Unknown segment {unknown[0]!r}; choose from {', '.join(SEGMENTS)}."
            )
        if user is not None and capacity is not None:
            members.append(
                _MemberValues(
                    user=user,
                    capacity=capacity,
                    segments=[s for s in SEGMENTS if s in segments],
                    away=bool(row.get("away")),
                )
            )
    if errors:
        raise ValidationError(
            "The pool was not saved: " + " ".join(f"{k}: {v}" for k, v in errors.items()), errors
        )
    return {
        "key": key,
        "name": name,
        "description": description,
        "strategy": strategy,
        "default_sla_hours": sla,
        "lead": lead,
        "members": members,
    }


def _apply(pool: CsmPool, clean: dict[str, Any]) -> None:
    pool.name = clean["name"]
    pool.description = clean["description"]
    pool.strategy = clean["strategy"]
    pool.default_sla_hours = clean["default_sla_hours"]
    pool.lead = clean["lead"]
    existing = {m.user_id: m for m in pool.members}
    kept = []
    for position, values in enumerate(clean["members"]):
        member = existing.get(values.user.id) or PoolMember(user=values.user)
        member.position = position
        member.capacity = values.capacity
        member.segments = values.segments
        member.away = values.away
        kept.append(member)
    pool.members = kept  # members left out are deleted (their assigned items stay theirs)


def create_pool(data: dict[str, Any], *, user, now: datetime) -> CsmPool:
    clean = _validate_pool(data, None)
    pool = CsmPool(key=clean["key"], created_at=now)
    _apply(pool, clean)
    db.session.add(pool)
    db.session.flush()
    audit.record("pool", pool.id, "created", user=user, now=now, after=pool_as_dict(pool))
    return pool


def update_pool(pool: CsmPool, data: dict[str, Any], *, user, now: datetime) -> CsmPool:
    before = pool_as_dict(pool)
    clean = _validate_pool(data, pool)
    _apply(pool, clean)
    db.session.flush()
    after = pool_as_dict(pool)
    if after != before:
        audit.record("pool", pool.id, "updated", user=user, now=now, before=before, after=after)
    return pool


# --- loads and summaries --------------------------------------------------------------------


def member_loads(pool_ids: list[int]) -> dict[tuple[int, int], int]:
    """(pool id, user id) → that member's open and claimed items in that pool."""
    if not pool_ids:
        return {}
    rows = db.session.execute(
        select(QueueItem.pool_id, QueueItem.assignee_id, func.count(QueueItem.id))
        .where(
            QueueItem.pool_id.in_(pool_ids),
            QueueItem.status.in_(OPEN_STATUSES),
            QueueItem.assignee_id.is_not(None),
        )
        .group_by(QueueItem.pool_id, QueueItem.assignee_id)
    )
    return {(pool_id, user_id): count for pool_id, user_id, count in rows}


@dataclass
class MemberLine:
    user_id: int
    name: str
    email: str
    capacity: int
    load: int
    segments: list[str]
    away: bool  # the membership or the person is away (or deactivated)

    @property
    def full(self) -> bool:
        return self.load >= self.capacity

    @property
    def available(self) -> bool:
        return not self.away and not self.full


@dataclass
class PoolSummary:
    pool: CsmPool
    members: list[MemberLine]
    unassigned: int = 0
    breached: int = 0
    active: int = 0


def _member_lines(pool: CsmPool, loads: dict[tuple[int, int], int]) -> list[MemberLine]:
    return [
        MemberLine(
            user_id=m.user_id,
            name=m.user.name,
            email=m.user.email,
            capacity=m.capacity,
            load=loads.get((pool.id, m.user_id), 0),
            segments=list(m.segments or []),
            away=m.away or m.user.away or not m.user.active,
        )
        for m in sorted(pool.members, key=lambda m: m.position)
    ]


def _breached(now: datetime):
    """Flagged by check-slas, or unresolved and past due since its last run."""
    return or_(
        QueueItem.breached_at.is_not(None),
        and_(QueueItem.status.in_(OPEN_STATUSES), QueueItem.sla_due_at < now),
    )


def is_breached(item: QueueItem, now: datetime) -> bool:
    return item.breached_at is not None or (item.status in OPEN_STATUSES and item.sla_due_at < now)


def pool_summaries(*, now: datetime, pool_ids: list[int] | None = None) -> list[PoolSummary]:
    """Every pool (or those of ``pool_ids``) with its members' loads and its unassigned,
    breached and active counts: three statements (pools, members, loads) and one aggregate,
    whatever the number of pools."""
    statement = select(CsmPool).order_by(CsmPool.name, CsmPool.id)
    if pool_ids is not None:
        statement = statement.where(CsmPool.id.in_(pool_ids))
    pools = list(db.session.scalars(statement))
    ids = [p.id for p in pools]
    loads = member_loads(ids)
    counts: dict[int, tuple[int, int, int]] = {}
    if ids:
        active = QueueItem.status.in_(OPEN_STATUSES)
        rows = db.session.execute(
            select(
                QueueItem.pool_id,
                func.sum(case((and_(active, QueueItem.assignee_id.is_(None)), 1), else_=0)),
                func.sum(case((and_(active, _breached(now)), 1), else_=0)),
                func.sum(case((active, 1), else_=0)),
            )
            .where(QueueItem.pool_id.in_(ids))
            .group_by(QueueItem.pool_id)
        )
        counts = {pool_id: (int(u or 0), int(b or 0), int(a or 0)) for pool_id, u, b, a in rows}
    return [
        PoolSummary(
            pool=p,
            members=_member_lines(p, loads),
            unassigned=counts.get(p.id, (0, 0, 0))[0],
            breached=counts.get(p.id, (0, 0, 0))[1],
            active=counts.get(p.id, (0, 0, 0))[2],
        )
        for p in pools
    ]


def pool_members(pool: CsmPool) -> list[MemberLine]:
    return _member_lines(pool, member_loads([pool.id]))


# --- routing --------------------------------------------------------------------------------


def _lock_pool(pool_key: str) -> CsmPool:
    """The pool, its row locked until the transaction ends (PostgreSQL; SQLite ignores
    ``FOR UPDATE`` and serialises writers itself), re-read so ``last_assigned_user_id`` is
    the committed one."""
    pool = db.session.scalar(
        select(CsmPool)
        .where(CsmPool.key == pool_key)
        .options(lazyload(CsmPool.lead), lazyload(CsmPool.members))
        .with_for_update(of=CsmPool)
        .execution_options(populate_existing=True)
    )
    if pool is None:
        raise NotFoundError(f"No pool has the key {pool_key!r}.")
    return pool


def _routing_members(pool_id: int) -> list[routing.Member]:
    """The pool's members with their open items in this pool: one grouped statement."""
    load = (
        select(QueueItem.assignee_id, func.count(QueueItem.id).label("open_items"))
        .where(
            QueueItem.pool_id == pool_id,
            QueueItem.status.in_(OPEN_STATUSES),
            QueueItem.assignee_id.is_not(None),
        )
        .group_by(QueueItem.assignee_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            PoolMember.user_id,
            PoolMember.position,
            PoolMember.capacity,
            PoolMember.segments,
            PoolMember.away,
            User.away.label("user_away"),
            User.active,
            func.coalesce(load.c.open_items, 0).label("open_items"),
        )
        .join(User, User.id == PoolMember.user_id)
        .outerjoin(load, load.c.assignee_id == PoolMember.user_id)
        .where(PoolMember.pool_id == pool_id)
    )
    return [
        routing.Member(
            user_id=r.user_id,
            position=r.position,
            capacity=r.capacity,
            open_items=int(r.open_items),
            segments=tuple(r.segments or ()),
            away=bool(r.away or r.user_away or not r.active),
        )
        for r in rows
    ]


def lead_recipients(pool: CsmPool) -> list[int]:
    """Who hears about the pool's problems: its lead, else every active CS lead."""
    if pool.lead_id is not None:
        return [pool.lead_id]
    return list(
        db.session.scalars(
            select(User.id).where(User.role == "lead", User.active.is_(True)).order_by(User.id)
        )
    )


PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}


def highest_priority(*priorities: str) -> str:
    return min(priorities, key=lambda p: PRIORITY_RANK.get(p, len(PRIORITY_RANK)))


def _open_items_by_account(pool_id: int, account_ids: set[int]) -> dict[int, QueueItem]:
    """The pool's open or claimed item of each account (at most one: a partial unique index
    keeps it so); one query (on SQLite, one per 500 accounts)."""
    found: dict[int, QueueItem] = {}
    for condition in among(QueueItem.account_id, sorted(account_ids)):
        for item in db.session.scalars(
            select(QueueItem).where(
                QueueItem.pool_id == pool_id,
                condition,
                QueueItem.status.in_(OPEN_STATUSES),
            )
        ).unique():
            found[item.account_id] = item
    return found


def _reason(firing: FiringRef, priority: str, now: datetime, **item) -> QueueItemReason:
    return QueueItemReason(
        rule_id=firing.rule_id,
        firing_id=firing.firing_id,
        title=firing.rule_name[:300],
        matched=dict(firing.matched or {}),
        priority=priority,
        added_at=now,
        **item,
    )


def _join(
    firings: list[FiringRef], items: dict[int, QueueItem], *, priority: str, now: datetime
) -> None:
    """Add each firing as a reason to its account's open item, and raise the items below
    ``priority`` to it: one INSERT of the reasons and one UPDATE of the priorities, whatever
    the number of accounts."""
    reasons = QueueItemReason.__table__
    db.session.execute(
        insert(reasons),
        [
            {
                "queue_item_id": items[f.account_id].id,
                "rule_id": f.rule_id,
                "firing_id": f.firing_id,
                "title": f.rule_name[:300],
                "matched": dict(f.matched or {}),
                "priority": priority,
                "added_at": now,
            }
            for f in firings
        ],
    )
    raised = sorted(
        {
            items[f.account_id].id
            for f in firings
            if highest_priority(priority, items[f.account_id].priority)
            != items[f.account_id].priority
        }
    )
    table = QueueItem.__table__
    for chunk in chunks(raised, ACCOUNT_CHUNK):
        db.session.execute(
            update(table)
            .where(table.c.id.in_(list(chunk)))
            .values(priority=priority, version=table.c.version + 1)
            .execution_options(synchronize_session=False)
        )
    for f in firings:
        db.session.expire(items[f.account_id], ["priority", "version", "reasons"])


def route_firings(
    firings: list[FiringRef], *, pool_key: str, priority: str, sla_hours: int | None, now: datetime
) -> dict[int, QueueItem]:
    """One open queue item per account in the pool; firing id → the item that holds it.

    A firing for an account that already has an open (or claimed) item in the pool joins that
    item as one more reason, and raises its priority to the highest of them; it is neither
    routed again nor alerted. The other firings each open an item (title: the rule's name;
    reason: the matched signal values), assigned by the pool's strategy after the account's
    own CSM. Items nobody could take wait unassigned and alert the lead."""
    if not firings:
        return {}
    if priority not in PRIORITIES:
        raise ValidationError(
            f"Unknown priority {priority!r}.", {"priority": "Choose high, normal or low."}
        )
    pool = _lock_pool(pool_key)
    existing = _open_items_by_account(pool.id, {f.account_id for f in firings})
    fresh: list[FiringRef] = []
    joining: list[FiringRef] = []
    opening: set[int] = set()
    for firing in firings:
        if firing.account_id in existing or firing.account_id in opening:
            joining.append(firing)
        else:
            opening.add(firing.account_id)
            fresh.append(firing)
    chosen = routing.route_batch(
        _routing_members(pool.id),
        pool.strategy,
        [f.segment for f in fresh],
        last_assigned_user_id=pool.last_assigned_user_id,
        owners=[f.owner_id for f in fresh],
    )
    hours = sla_hours if sla_hours is not None else pool.default_sla_hours
    due = now + timedelta(hours=hours)
    items: dict[int, QueueItem] = {}
    for firing, assignee_id in zip(fresh, chosen.assignees, strict=True):
        item = QueueItem(
            pool_id=pool.id,
            account_id=firing.account_id,
            rule_id=firing.rule_id,
            firing_id=firing.firing_id,
            title=firing.rule_name[:300],
            reason=dict(firing.matched or {}),
            priority=priority,
            status="open",
            assignee_id=assignee_id,
            created_at=now,
            sla_due_at=due,
            assigned_at=now if assignee_id is not None else None,
        )
        item.reasons = [_reason(firing, priority, now)]
        db.session.add(item)
        existing[firing.account_id] = item
        items[firing.firing_id] = item
    pool.last_assigned_user_id = chosen.last_assigned_user_id
    db.session.flush()
    if joining:
        _join(joining, existing, priority=priority, now=now)
        for firing in joining:
            items[firing.firing_id] = existing[firing.account_id]
    waiting = [(f, items[f.firing_id]) for f in fresh if items[f.firing_id].assignee_id is None]
    if waiting:
        _alert_unassigned(pool, waiting, now=now)
    return items


def assign_waiting_items(*, now: datetime) -> int:
    """Give the items that waited unassigned to members who have room again (someone came
    back, resolved items or had capacity raised), most urgent first, by the pool's strategy.
    One pool at a time under its lock; answers how many were assigned."""
    pool_keys = list(
        db.session.scalars(
            select(CsmPool.key)
            .join(QueueItem, QueueItem.pool_id == CsmPool.id)
            .where(QueueItem.status == "open", QueueItem.assignee_id.is_(None))
            .group_by(CsmPool.key)
            .order_by(CsmPool.key)
        )
    )
    assigned = 0
    for key in pool_keys:
        pool = _lock_pool(key)
        waiting = list(
            db.session.execute(
                select(QueueItem, Account.segment, Account.csm_id)
                .join(Account, Account.id == QueueItem.account_id)
                .where(
                    QueueItem.pool_id == pool.id,
                    QueueItem.status == "open",
                    QueueItem.assignee_id.is_(None),
                )
                .order_by(PRIORITY_ORDER, QueueItem.sla_due_at, QueueItem.id)
            ).all()
        )
        chosen = routing.route_batch(
            _routing_members(pool.id),
            pool.strategy,
            [segment for _, segment, _ in waiting],
            last_assigned_user_id=pool.last_assigned_user_id,
            owners=[csm_id for _, _, csm_id in waiting],
        )
        emails = dict(
            db.session.execute(
                select(User.id, User.email).where(
                    User.id.in_({a for a in chosen.assignees if a is not None} or {-1})
                )
            ).all()
        )
        for (item, _, _), assignee_id in zip(waiting, chosen.assignees, strict=True):
            if assignee_id is None:
                continue
            item.assignee_id, item.assigned_at = assignee_id, now
            audit.record(
                "queue_item",
                item.id,
                "reassigned",
                user=None,
                now=now,
                before={"status": "open", "assignee": None},
                after={"status": "open", "assignee": emails[assignee_id]},
            )
            assigned += 1
        pool.last_assigned_user_id = chosen.last_assigned_user_id
        db.session.flush()
    return assigned


def _alert_unassigned(
    pool: CsmPool, waiting: list[tuple[FiringRef, QueueItem]], *, now: datetime
) -> int:
    recipients = lead_recipients(pool)
    if not recipients:
        return 0
    names = dict(
        db.session.execute(
            select(Account.id, Account.name).where(
                Account.id.in_({f.account_id for f, _ in waiting})
            )
        ).all()
    )
    rows = [
        {
            "user_id": user_id,
            "kind": "unassigned_item",
            "dedupe_key": f"queue_item:{item.id}",
            "title": f"Unassigned in {pool.name}: {names.get(f.account_id, 'an account')}",
            "body": f"{f.rule_name}. Nobody in {pool.name} could take it (every member is "
            f"away or at capacity); claim it or assign it to someone.",
            "account_id": f.account_id,
            "queue_item_id": item.id,
        }
        for f, item in waiting
        for user_id in recipients
    ]
    return create_alerts(rows, now=now)


# --- queue items ----------------------------------------------------------------------------


def get_item(queue_item_id: int) -> QueueItem:
    item = db.session.get(QueueItem, queue_item_id)
    if item is None:
        raise NotFoundError(f"No queue item {queue_item_id}.")
    return item


def is_pool_lead(pool: CsmPool, user) -> bool:
    """The pool's own lead, or any CS lead or admin: they manage every pool."""
    return can_lead(user) or pool.lead_id == user.id


def is_member(pool: CsmPool, user) -> bool:
    return any(m.user_id == user.id for m in pool.members)


def can_work(item: QueueItem, user) -> bool:
    """Whether ``user`` has a part in the item at all: a lead of its pool, a member of it or
    its assignee, and not a viewer. Everyone else is refused before any form is read; what
    each may do exactly is ``item_actions``."""
    return user.role != "viewer" and (
        is_pool_lead(item.pool, user) or is_member(item.pool, user) or item.assignee_id == user.id
    )


@dataclass(frozen=True)
class ItemActions:
    """What ``user`` may do with an item: the views show these buttons, the service enforces
    the same rules."""

    claim: bool = False
    reassign: bool = False
    force: bool = False
    resolve: bool = False

    @property
    def any(self) -> bool:
        return self.claim or self.reassign or self.resolve


def item_actions(item: QueueItem, user) -> ItemActions:
    if item.status not in OPEN_STATUSES or user.role == "viewer":
        return ItemActions()
    lead = is_pool_lead(item.pool, user)
    member = is_member(item.pool, user)
    mine = item.assignee_id == user.id
    unassigned = item.assignee_id is None
    return ItemActions(
        claim=(mine and item.status == "open") or (unassigned and (member or lead)),
        reassign=lead or mine,
        force=lead,
        resolve=mine or lead or (unassigned and member),
    )


def _check_version(item: QueueItem, version: int | None) -> None:
    if version is not None and version != item.version:
        raise ConflictError(
            "Someone changed this item since you opened it; nothing was saved. Read it again "
            "and retry.",
            {"version": f"You sent version {version}; the item is at version {item.version}."},
        )


def _refuse_viewer(user) -> None:
    if user.role == "viewer":
        raise PermissionDenied("Viewers have read-only access to queues.")


def _refuse_closed(item: QueueItem) -> None:
    if item.status == "resolved":
        resolver = db.session.get(User, item.resolved_by_id) if item.resolved_by_id else None
        who = resolver.name if resolver is not None else "someone"
        raise ConflictError(
            f"This item was already resolved by {who} ({OUTCOMES.get(item.outcome, item.outcome)})."
        )


def _flush() -> None:
    try:
        db.session.flush()
    except StaleDataError as error:
        raise ConflictError(
            "Someone changed this item at the same moment; nothing was saved. "
            "Read it again and retry."
        ) from error


def _person(user: User | None) -> str | None:
    return user.email if user is not None else None


def claim_item(item: QueueItem, *, user, now: datetime, version: int | None = None) -> QueueItem:
    """The assignee takes their item on; a member (or lead) of the pool takes an unassigned
    one, which assigns it to them, beyond their capacity if need be: capacity limits what
    routing hands out, not what a person chooses to pick up."""
    _refuse_viewer(user)
    _refuse_closed(item)
    actions = item_actions(item, user)
    if item.assignee_id == user.id and item.status == "claimed":
        return item  # claiming twice changes nothing
    if not actions.claim:
        if item.assignee_id is not None and (
            is_pool_lead(item.pool, user) or is_member(item.pool, user)
        ):
            raise ConflictError(
                f"This item is assigned to {item.assignee.name}; reassign it "
                f"instead of claiming it."
            )
        raise PermissionDenied(
            f"Only members of {item.pool.name}, its lead and the item's assignee may claim it."
        )
    _check_version(item, version)
    before = {"status": item.status, "assignee": _person(item.assignee)}
    if item.assignee_id is None:
        item.assignee_id = user.id
        item.assigned_at = now
    item.status = "claimed"
    item.claimed_at = now
    _flush()
    db.session.refresh(item, ["assignee"])
    audit.record(
        "queue_item",
        item.id,
        "claimed",
        user=user,
        now=now,
        before=before,
        after={"status": "claimed", "assignee": _person(item.assignee)},
    )
    return item


def member_line(pool: CsmPool, user_id: int) -> MemberLine | None:
    for line in pool_members(pool):
        if line.user_id == user_id:
            return line
    return None


def require_reassigner(item: QueueItem, user) -> None:
    """Refuse anyone but the pool's lead (or a CS lead or admin) and the current assignee,
    and any reassignment of a resolved item."""
    _refuse_viewer(user)
    _refuse_closed(item)
    if not (is_pool_lead(item.pool, user) or item.assignee_id == user.id):
        raise PermissionDenied(
            f"Only the lead of {item.pool.name} or the item's assignee may reassign it."
        )


def reassign_item(
    item: QueueItem,
    *,
    to_user: User | None,
    user,
    now: datetime,
    force: bool = False,
    version: int | None = None,
) -> QueueItem:
    """The pool's lead, or the current assignee, hands the item to another member. The new
    assignee must be free (not away, below capacity) unless a lead forces it."""
    require_reassigner(item, user)
    lead = is_pool_lead(item.pool, user)
    _check_version(item, version)
    if to_user is None:
        raise ValidationError(
            "Choose who takes the item.", {"assignee": "Choose a member of the pool."}
        )
    if to_user.id == item.assignee_id:
        message = f"The item is already assigned to {to_user.name}."
        raise ValidationError(message, {"assignee": message})
    line = member_line(item.pool, to_user.id)
    if line is None or not to_user.active:
        message = (
            f"{to_user.name} is not a member of {item.pool.name}."
            if line is None
            else f"{to_user.name} is deactivated."
        )
        raise ValidationError(message, {"assignee": message})
    if not line.available and not (force and lead):
        why = "is away" if line.away else f"is full ({line.load} of {line.capacity} open items)"
        message = f"{to_user.name} {why}. " + (
            "Tick “Assign anyway” to override."
            if lead
            else "Only the pool's lead can assign to someone away or full."
        )
        raise ValidationError(message, {"assignee": message})
    before = {"status": item.status, "assignee": _person(item.assignee)}
    item.assignee_id = to_user.id
    item.assigned_at = now
    item.status = "open"  # the new assignee claims it when they take it on
    item.claimed_at = None
    _flush()
    db.session.refresh(item, ["assignee"])
    audit.record(
        "queue_item",
        item.id,
        "reassigned",
        user=user,
        now=now,
        before=before,
        after={
            "status": "open",
            "assignee": to_user.email,
            **({"forced": True} if not line.available else {}),
        },
    )
    return item


def resolve_item(
    item: QueueItem,
    *,
    outcome: str | None,
    notes: str | None,
    user,
    now: datetime,
    version: int | None = None,
) -> QueueItem:
    """Close the item with its outcome, and the rule firing that opened it, so the rule may
    fire again for the account under its once-only policy."""
    _refuse_viewer(user)
    _refuse_closed(item)
    if not item_actions(item, user).resolve:
        holder = item.assignee.name if item.assignee else "a member of the pool"
        raise PermissionDenied(
            f"Only {holder} or the lead of {item.pool.name} may resolve this item."
        )
    _check_version(item, version)
    errors = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = OUTCOME_REFUSAL
    notes = (notes or "").strip() or None
    if notes and len(notes) > MAX_NOTES:
        errors["notes"] = f"Keep the notes to {MAX_NOTES} characters."
    if errors:
        raise ValidationError(next(iter(errors.values())), errors)
    before = {"status": item.status, "assignee": _person(item.assignee)}
    if item.assignee_id is None:
        item.assignee_id = user.id
        item.assigned_at = now
    item.status = "resolved"
    item.outcome = outcome
    item.notes = notes
    item.resolved_at = now
    item.resolved_by_id = user.id
    _close_firings(item, now=now)
    snoozed = _snooze(item, now=now)
    _flush()
    audit.record(
        "queue_item",
        item.id,
        "resolved",
        user=user,
        now=now,
        before=before,
        after={
            "status": "resolved",
            "outcome": outcome,
            "notes": notes,
            **({"snoozed_until": snoozed.isoformat()} if snoozed else {}),
        },
    )
    return item


def _reasons_of(item: QueueItem) -> list[QueueItemReason]:
    """The item's reasons; an item made before reasons were listed gets its own as one."""
    if not item.reasons and item.rule_id is not None:
        item.reasons.append(
            QueueItemReason(
                rule_id=item.rule_id,
                firing_id=item.firing_id,
                title=item.title,
                matched=item.reason,
                priority=item.priority,
                added_at=item.created_at,
            )
        )
    return list(item.reasons)


def _close_firings(item: QueueItem, *, now: datetime) -> None:
    """Close every rule firing behind the item: its own and those of the reasons that
    joined it."""
    ids = {r.firing_id for r in _reasons_of(item) if r.firing_id is not None}
    if item.firing_id is not None:
        ids.add(item.firing_id)
    if ids:
        for firing in db.session.scalars(
            select(RuleFiring).where(RuleFiring.id.in_(sorted(ids)), RuleFiring.status == "open")
        ):
            firing.status = "closed"
            firing.closed_at = now


def _snooze(item: QueueItem, *, now: datetime) -> datetime | None:
    """Snooze each rule behind the item for the account, for the days that rule sets; the
    latest end, for the audit log."""
    reasons = [r for r in _reasons_of(item) if r.rule_id is not None]
    days = dict(
        db.session.execute(
            select(Rule.id, Rule.snooze_days).where(Rule.id.in_({r.rule_id for r in reasons}))
        ).all()
        if reasons
        else []
    )
    ends = []
    for reason in reasons:
        snooze_days = days.get(reason.rule_id) or 0
        reason.snoozed_until = now + timedelta(days=snooze_days) if snooze_days > 0 else None
        if reason.snoozed_until is not None:
            ends.append(reason.snoozed_until)
    return max(ends, default=None)


def snoozed_until(item: QueueItem, now: datetime) -> datetime | None:
    """Until when the item's rules stay quiet for its account, if they still do."""
    ends = [r.snoozed_until for r in item.reasons if r.snoozed_until and r.snoozed_until > now]
    return max(ends, default=None)


def can_reopen(item: QueueItem, user) -> bool:
    """Who may reopen a resolved item: whoever may resolve it — the pool's lead, a member of
    the pool and the item's assignee; never a viewer."""
    return (
        item.status == "resolved"
        and user.role != "viewer"
        and (
            is_pool_lead(item.pool, user)
            or is_member(item.pool, user)
            or item.assignee_id == user.id
        )
    )


def reopen_item(item: QueueItem, *, user, now: datetime, version: int | None = None) -> QueueItem:
    """Open a resolved item again, for its assignee, and end the snooze of the rules behind
    it: they may fire for the account again (joining this item while it is open). Refused
    while the account has another open item in the pool: work that one instead."""
    _refuse_viewer(user)
    if item.status != "resolved":
        raise ConflictError("This item is not resolved; only a resolved item can be reopened.")
    if not can_reopen(item, user):
        raise PermissionDenied(
            f"Only members of {item.pool.name}, its lead and the item's assignee may reopen it."
        )
    _check_version(item, version)
    other = db.session.scalar(
        select(QueueItem.id).where(
            QueueItem.pool_id == item.pool_id,
            QueueItem.account_id == item.account_id,
            QueueItem.status.in_(OPEN_STATUSES),
            QueueItem.id != item.id,
        )
    )
    if other is not None:
        raise ConflictError(
            f"{item.account.name} already has an open item in {item.pool.name} (#{other}); "
            "work that one instead of reopening this."
        )
    before = {"status": "resolved", "outcome": item.outcome}
    for reason in item.reasons:
        reason.snoozed_until = None
    item.status = "open"
    item.outcome = None
    item.resolved_at = None
    item.resolved_by_id = None
    item.claimed_at = None
    item.breached_at = None
    item.sla_due_at = now + timedelta(hours=item.pool.default_sla_hours)
    _flush()
    audit.record(
        "queue_item",
        item.id,
        "reopened",
        user=user,
        now=now,
        before=before,
        after={"status": "open", "assignee": _person(item.assignee)},
    )
    return item


# --- queues ---------------------------------------------------------------------------------


def _filter(name: str, now: datetime):
    active = QueueItem.status.in_(OPEN_STATUSES)
    return {
        "active": active,
        "open": QueueItem.status == "open",
        "claimed": QueueItem.status == "claimed",
        "resolved": QueueItem.status == "resolved",
        "unassigned": and_(active, QueueItem.assignee_id.is_(None)),
        "breached": _breached(now),
        "all": true(),
    }[name]


PRIORITY_ORDER = case({"high": 0, "normal": 1, "low": 2}, value=QueueItem.priority, else_=3)


def _order(sort: str) -> list:
    if sort == "priority":
        return [PRIORITY_ORDER, QueueItem.sla_due_at, QueueItem.id]
    if sort == "created":
        return [QueueItem.created_at.desc(), QueueItem.id.desc()]
    return [QueueItem.sla_due_at, QueueItem.id]


def pool_queue(
    pool: CsmPool,
    *,
    status: str = "active",
    sort: str = "sla",
    page: int = 1,
    per_page: int = QUEUE_PER_PAGE,
    now: datetime,
    clamp: bool = True,
) -> Page[QueueItem]:
    """One page of the pool's items, and how many items each filter holds: a count per
    filter in one aggregate, then the page. A page past the end shows the last one
    (``clamp``), or none for API clients that page until they get an empty one."""
    if status not in QUEUE_FILTERS:
        status = "active"
    counts_row = db.session.execute(
        select(
            *(
                func.coalesce(func.sum(case((_filter(name, now), 1), else_=0)), 0)
                for name in QUEUE_FILTERS
            )
        ).where(QueueItem.pool_id == pool.id)
    ).one()
    counts = {name: int(value) for name, value in zip(QUEUE_FILTERS, counts_row, strict=True)}
    total = counts[status]
    page = clamp_page(page, total, per_page) if clamp else max(page, 1)
    items = list(
        db.session.scalars(
            select(QueueItem)
            .where(QueueItem.pool_id == pool.id, _filter(status, now))
            .order_by(*_order(sort))
            .offset(offset(page, per_page))
            .limit(per_page)
        ).unique()
    )
    return Page(items=items, total=total, page=page, per_page=per_page, counts=counts)


def my_queue(user, *, now: datetime, limit: int = 500) -> list[QueueItem]:
    """Items assigned to ``user`` that are open or claimed: breached first, then by SLA."""
    return list(
        db.session.scalars(
            select(QueueItem)
            .where(QueueItem.assignee_id == user.id, QueueItem.status.in_(OPEN_STATUSES))
            .order_by(case((_breached(now), 0), else_=1), QueueItem.sla_due_at, QueueItem.id)
            .limit(limit)
        ).unique()
    )


def claimable(user, *, now: datetime, limit: int = CLAIMABLE_LIMIT) -> list[QueueItem]:
    """Unassigned items waiting in the pools ``user`` belongs to or leads."""
    mine = select(PoolMember.pool_id).where(PoolMember.user_id == user.id)
    return list(
        db.session.scalars(
            select(QueueItem)
            .join(CsmPool, CsmPool.id == QueueItem.pool_id)
            .where(
                QueueItem.assignee_id.is_(None),
                QueueItem.status.in_(OPEN_STATUSES),
                or_(QueueItem.pool_id.in_(mine), CsmPool.lead_id == user.id),
            )
            .order_by(
                case((_breached(now), 0), else_=1),
                PRIORITY_ORDER,
                QueueItem.sla_due_at,
                QueueItem.id,
            )
            .limit(limit)
        ).unique()
    )


# --- people and history for the pool and item pages ---------------------------------------


def possible_members() -> list[User]:
    """Who can be a pool's member or lead: active users who are not viewers, by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role != "viewer")
            .order_by(User.name, User.id)
        )
    )


def find_user(user_id: int) -> User | None:
    """The user a form names by id; None for nobody (the service then refuses the change)."""
    return db.session.get(User, user_id)


def resolver_of(item: QueueItem) -> User | None:
    """Who resolved the item, if anyone has."""
    return db.session.get(User, item.resolved_by_id) if item.resolved_by_id else None


def item_history(item: QueueItem) -> tuple[str | None, list[dict[str, Any]]]:
    """Who routing gave the item to, and what people did with it since, oldest first. The
    audit log names people by email; they are shown by name (one query)."""
    events = list(reversed(audit.events_for("queue_item", item.id)))
    emails = {
        value
        for e in events
        for value in ((e.before or {}).get("assignee"), (e.after or {}).get("assignee"))
        if value
    }
    names = (
        {u.email: u.name for u in db.session.scalars(select(User).where(User.email.in_(emails)))}
        if emails
        else {}
    )

    def person(email: str | None) -> str:
        return names.get(email, email) if email else "nobody"

    routed_to = (
        (events[0].before or {}).get("assignee")
        if events
        else (item.assignee.email if item.assignee else None)
    )
    lines = []
    for event in events:
        after = event.after or {}
        if event.action == "claimed":
            text = "claimed it"
        elif event.action == "reassigned" and not (event.before or {}).get("assignee"):
            text = f"assigned it to {person(after.get('assignee'))}, who had room again"
        elif event.action == "reassigned":
            text = (
                f"reassigned it from {person((event.before or {}).get('assignee'))} to "
                f"{person(after.get('assignee'))}"
            )
            if after.get("forced"):
                text += " (assigned anyway)"
        elif event.action == "reopened":
            text = "reopened it"
        else:
            text = f"resolved it: {OUTCOMES.get(after.get('outcome'), after.get('outcome'))}"
        lines.append(
            {"at": event.at, "who": event.user.name if event.user else "a job", "text": text}
        )
    return (person(routed_to) if routed_to else None), lines
