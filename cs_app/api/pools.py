"""CSM pools and their queues over the API.

Everyone with a token reads pools and queues; leads and admins create and change pools. A
queue item is claimed, reassigned and resolved by the people the pool service allows (its
assignee, the pool's members for unassigned items, the pool's lead, CS leads and admins);
anyone else gets 403. ``error.fields`` name the keys the caller sent (``lead_email``,
``members.2.user_email``, ``user_email``).

The request and answer shapes of this module live here rather than in ``schemas`` and
``responses``, beside the only routes that use them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from flask import jsonify, request, url_for
from pydantic import Field
from sqlalchemy import func, select

from cs_app.api import schemas
from cs_app.api.auth import api_user, require_lead
from cs_app.api.errors import renamed_fields
from cs_app.api.parsing import parse_body, parse_query
from cs_app.api.responses import AccountRef, Out, UserRef
from cs_app.api.routing import api_route
from cs_app.api.serializers import moment, user_ref
from cs_app.auth.models import User
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.triggers.pools import service as pools
from cs_app.triggers.pools.models import OUTCOMES, CsmPool, QueueItem
from cs_app.triggers.pools.routing import STRATEGIES

TAG = "Pools"

Strategy = Literal[STRATEGIES]
QueueFilter = Literal[tuple(pools.QUEUE_FILTERS)]
QueueSort = Literal[tuple(pools.QUEUE_SORTS)]
Outcome = Literal[tuple(OUTCOMES)]


# --- shapes ---------------------------------------------------------------------------------


class PoolMemberWrite(schemas.Body):
    user_email: str = Field(max_length=255)
    capacity: schemas.Whole = Field(
        default=20,
        ge=1,
        le=pools.MAX_CAPACITY,
        description="The most open (or claimed) items of this pool the "
        "member holds before routing skips them.",
    )
    segments: list[schemas.Segment] = Field(
        default_factory=list, description="Segments the member covers; used by segment_first."
    )
    away: bool = False


class PoolWrite(schemas.Body):
    key: str | None = Field(
        default=None,
        max_length=80,
        description="Rules route to the pool by key; made from the name "
        "when left out. It cannot change once the pool exists.",
    )
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=pools.MAX_DESCRIPTION)
    strategy: Strategy = "least_loaded"
    lead_email: str | None = Field(
        default=None,
        max_length=255,
        description="Alerted about unassigned items and SLA "
        "breaches; without one every CS lead is.",
    )
    default_sla_hours: schemas.Whole = Field(default=24, ge=1, le=pools.MAX_SLA_HOURS)
    members: list[PoolMemberWrite] = Field(
        default_factory=list,
        description="In routing order (round-robin follows it). A PUT replaces the whole list.",
    )

    missing_messages: ClassVar[dict[str, str]] = {"name": "Give the pool a name."}


class QueueQuery(schemas.Query):
    status: QueueFilter = Field(
        default="active",
        description="active = open or claimed; breached = flagged by "
        "check-slas or past due and unresolved.",
    )
    sort: QueueSort = Field(
        default="sla",
        description="sla: SLA due first; priority: high first; created: newest first.",
    )
    page: schemas.Whole = Field(default=1, ge=1)
    per_page: schemas.Whole = Field(default=50, ge=1, le=200)


class ClaimRequest(schemas.Body):
    version: schemas.Whole | None = Field(
        default=None, description="The item's version as read; a stale one answers 409."
    )


class ReopenRequest(schemas.Body):
    version: schemas.Whole | None = Field(
        default=None, description="The item's version as read; a stale one answers 409."
    )


class ReassignRequest(schemas.Body):
    user_email: str = Field(max_length=255, description="A member of the item's pool.")
    force: bool = Field(
        default=False, description="Leads only: assign even to a member who is away or at capacity."
    )
    version: schemas.Whole | None = None

    missing_messages: ClassVar[dict[str, str]] = {
        "user_email": "Name the member who takes the item."
    }


class ResolveRequest(schemas.Body):
    outcome: Outcome
    notes: str | None = Field(default=None, max_length=pools.MAX_NOTES)
    version: schemas.Whole | None = None

    missing_messages: ClassVar[dict[str, str]] = {"outcome": pools.OUTCOME_REFUSAL}


class PoolMemberOut(Out):
    user_email: str
    name: str
    position: int
    capacity: int
    open_items: int = Field(
        description="Open and claimed items of this pool assigned to the member."
    )
    segments: list[str]
    away: bool = Field(description="Away in this pool, away as a user, or deactivated.")


class PoolOut(Out):
    id: int
    key: str
    name: str
    description: str | None
    strategy: Strategy
    lead: UserRef | None
    default_sla_hours: int
    members: list[PoolMemberOut]
    open_items: int = Field(description="Open and claimed items.")
    unassigned: int
    breached: int = Field(description="Open and claimed items past their SLA.")


class PoolList(Out):
    items: list[PoolOut]


class PoolRef(Out):
    id: int
    key: str
    name: str


class QueueItemReasonOut(Out):
    rule_id: int | None
    firing_id: int | None
    title: str = Field(description="The rule's name when it fired.")
    matched: dict[str, Any] = Field(description="The signal values that matched.")
    priority: Literal["high", "normal", "low"]
    added_at: datetime
    snoozed_until: datetime | None = Field(
        description="Set when the item is resolved: the rule stays quiet for the account until "
        "then. Reopening the item clears it."
    )


class QueueItemOut(Out):
    id: int
    pool: PoolRef
    account: AccountRef
    rule_id: int | None
    firing_id: int | None
    title: str
    reason: dict[str, Any] = Field(
        description="The signal values that matched when the rule fired."
    )
    priority: Literal["high", "normal", "low"]
    status: Literal["open", "claimed", "resolved"]
    assignee: UserRef | None
    created_at: datetime
    sla_due_at: datetime
    breached: bool
    breached_at: datetime | None
    assigned_at: datetime | None
    claimed_at: datetime | None
    resolved_at: datetime | None
    resolved_by: UserRef | None
    outcome: Outcome | None
    notes: str | None
    version: int
    reasons: list[QueueItemReasonOut] = Field(
        description="Every rule that fired for the account while the item was open, first the "
        "one that opened it; the item's priority is the highest of theirs."
    )


class QueuePageOut(Out):
    items: list[QueueItemOut]
    page: int
    per_page: int
    total: int
    counts: dict[str, int] = Field(description="Items per status filter.")


# --- serializers ----------------------------------------------------------------------------


def _pool(summary: pools.PoolSummary) -> dict[str, Any]:
    pool = summary.pool
    return {
        "id": pool.id,
        "key": pool.key,
        "name": pool.name,
        "description": pool.description,
        "strategy": pool.strategy,
        "lead": user_ref(pool.lead),
        "default_sla_hours": pool.default_sla_hours,
        "members": [
            {
                "user_email": m.email,
                "name": m.name,
                "position": position,
                "capacity": m.capacity,
                "open_items": m.load,
                "segments": m.segments,
                "away": m.away,
            }
            for position, m in enumerate(summary.members)
        ],
        "open_items": summary.active,
        "unassigned": summary.unassigned,
        "breached": summary.breached,
    }


def _pool_detail(pool: CsmPool, status: int = 200):
    summary = pools.pool_summaries(now=utcnow(), pool_ids=[pool.id])[0]
    return jsonify(_pool(summary)), status


def _items(items: list[QueueItem], now: datetime) -> list[dict[str, Any]]:
    resolver_ids = {i.resolved_by_id for i in items if i.resolved_by_id}
    resolvers = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(resolver_ids)))}
        if resolver_ids
        else {}
    )
    return [
        {
            "id": i.id,
            "pool": {"id": i.pool.id, "key": i.pool.key, "name": i.pool.name},
            "account": {"external_id": i.account.external_id, "name": i.account.name},
            "rule_id": i.rule_id,
            "firing_id": i.firing_id,
            "title": i.title,
            "reason": i.reason or {},
            "priority": i.priority,
            "status": i.status,
            "assignee": user_ref(i.assignee),
            "created_at": moment(i.created_at),
            "sla_due_at": moment(i.sla_due_at),
            "breached": pools.is_breached(i, now),
            "breached_at": moment(i.breached_at),
            "assigned_at": moment(i.assigned_at),
            "claimed_at": moment(i.claimed_at),
            "resolved_at": moment(i.resolved_at),
            "resolved_by": user_ref(resolvers.get(i.resolved_by_id)),
            "outcome": i.outcome,
            "notes": i.notes,
            "version": i.version,
            "reasons": [
                {
                    "rule_id": r.rule_id,
                    "firing_id": r.firing_id,
                    "title": r.title,
                    "matched": r.matched or {},
                    "priority": r.priority,
                    "added_at": moment(r.added_at),
                    "snoozed_until": moment(r.snoozed_until),
                }
                for r in i.reasons
            ],
        }
        for i in items
    ]


def _item(item: QueueItem):
    return jsonify(_items([item], utcnow())[0])


# --- pools ----------------------------------------------------------------------------------

POOL_FIELD_NAMES = {"lead": "lead_email"}


def _pool_values(body: PoolWrite) -> dict[str, Any]:
    values = body.values()
    values["lead"] = values.pop("lead_email", None)
    values["members"] = [
        {"user": m.user_email, "capacity": m.capacity, "segments": list(m.segments), "away": m.away}
        for m in body.members
    ]
    return values


def _api_error(error: ValidationError) -> ValidationError:
    names = {
        **POOL_FIELD_NAMES,
        **{
            name: name.removesuffix(".user") + ".user_email"
            for name in error.fields
            if name.startswith("members.") and name.endswith(".user")
        },
    }
    return renamed_fields(error, names)


def _require_pool_manager(user: User) -> None:
    require_lead(user, "Only leads and admins create and change pools.")


@api_route(
    "/pools",
    "GET",
    tag=TAG,
    summary="List pools with their members and loads",
    description="Each member's `open_items` counts the open and claimed items of that "
    "pool assigned to them, which routing compares with `capacity`.",
    response=PoolList,
)
def list_pools():
    return jsonify({"items": [_pool(s) for s in pools.pool_summaries(now=utcnow())]})


@api_route(
    "/pools",
    "POST",
    tag=TAG,
    summary="Create a pool",
    description="Members are named by email, in routing order. For leads and admins; "
    "the change is audited.",
    request=PoolWrite,
    response=PoolOut,
    status=201,
)
def create_pool():
    user = api_user()
    _require_pool_manager(user)
    body = parse_body(PoolWrite)
    try:
        pool = pools.create_pool(_pool_values(body), user=user, now=utcnow())
    except ValidationError as error:
        raise _api_error(error) from error
    db.session.commit()
    response, status = _pool_detail(pool, 201)
    response.headers["Location"] = url_for("api.get_pool", pool_id=pool.id)
    return response, status


@api_route(
    "/pools/<int:pool_id>",
    "GET",
    tag=TAG,
    summary="A pool with its members and loads",
    response=PoolOut,
)
def get_pool(pool_id: int):
    return _pool_detail(pools.get_pool(pool_id))


@api_route(
    "/pools/<int:pool_id>",
    "PUT",
    tag=TAG,
    summary="Change a pool",
    description="The body is the whole definition; members left out are removed (the "
    "items assigned to them stay theirs). `key` may be left out; when sent "
    "it must be the pool's own. For leads and admins; audited.",
    request=PoolWrite,
    response=PoolOut,
)
def put_pool(pool_id: int):
    user = api_user()
    pool = pools.get_pool(pool_id)
    _require_pool_manager(user)
    body = parse_body(PoolWrite)
    try:
        pools.update_pool(pool, _pool_values(body), user=user, now=utcnow())
    except ValidationError as error:
        raise _api_error(error) from error
    db.session.commit()
    return _pool_detail(pool)


@api_route(
    "/pools/<int:pool_id>/queue",
    "GET",
    tag=TAG,
    summary="A pool's queue items",
    description="Filtered by status and paged; a page past the end is empty.",
    query=QueueQuery,
    response=QueuePageOut,
)
def pool_queue(pool_id: int):
    pool = pools.get_pool(pool_id)
    query = parse_query(QueueQuery)
    now = utcnow()
    page = pools.pool_queue(
        pool,
        status=query.status,
        sort=query.sort,
        page=query.page,
        per_page=query.per_page,
        now=now,
        clamp=False,
    )
    return jsonify(
        {
            "items": _items(page.items, now),
            "page": page.page,
            "per_page": page.per_page,
            "total": page.total,
            "counts": page.counts,
        }
    )


# --- queue items ----------------------------------------------------------------------------


def _optional_body(model):
    """The body as ``model``; an empty body counts as ``{}``."""
    if not request.get_data(cache=True).strip():
        return model()
    return parse_body(model)


@api_route(
    "/queue/<int:queue_item_id>/claim",
    "POST",
    tag=TAG,
    summary="Claim a queue item",
    description="The assignee takes their item on (status claimed); a member or lead "
    "of the pool claiming an unassigned item becomes its assignee. The body "
    "is optional. Claiming your own claimed item again changes nothing; "
    "an item assigned to someone else, a resolved one or a stale `version` "
    "answers 409.",
    request=ClaimRequest,
    response=QueueItemOut,
    conflict=True,
)
def claim_item(queue_item_id: int):
    user = api_user()
    item = pools.get_item(queue_item_id)
    body = _optional_body(ClaimRequest)
    pools.claim_item(item, user=user, now=utcnow(), version=body.version)
    db.session.commit()
    return _item(item)


@api_route(
    "/queue/<int:queue_item_id>/reassign",
    "POST",
    tag=TAG,
    summary="Reassign a queue item to another member of its pool",
    description="For the pool's lead (CS leads and admins too) and the current "
    "assignee. The new assignee must be a member who is not away and below "
    "capacity; a lead may `force` it. The item becomes open for the new "
    "assignee to claim.",
    request=ReassignRequest,
    response=QueueItemOut,
    conflict=True,
)
def reassign_item(queue_item_id: int):
    user = api_user()
    item = pools.get_item(queue_item_id)
    body = parse_body(ReassignRequest)
    target = db.session.scalar(
        select(User).where(func.lower(User.email) == body.user_email.strip().lower())
    )
    pools.require_reassigner(item, user)
    try:
        if target is None:
            message = f"No user with the email {body.user_email}."
            raise ValidationError(message, {"assignee": message})
        pools.reassign_item(
            item, to_user=target, user=user, now=utcnow(), force=body.force, version=body.version
        )
    except ValidationError as error:
        raise renamed_fields(error, {"assignee": "user_email"}) from error
    db.session.commit()
    return _item(item)


@api_route(
    "/queue/<int:queue_item_id>/resolve",
    "POST",
    tag=TAG,
    summary="Resolve a queue item with its outcome",
    description="Outcome saved, churned, expanded or no_action, with notes. Closes the "
    "rule firing that opened the item. Resolving twice, or with a stale "
    "`version`, answers 409.",
    request=ResolveRequest,
    response=QueueItemOut,
    conflict=True,
)
def resolve_item(queue_item_id: int):
    user = api_user()
    item = pools.get_item(queue_item_id)
    body = parse_body(ResolveRequest)
    pools.resolve_item(
        item, outcome=body.outcome, notes=body.notes, user=user, now=utcnow(), version=body.version
    )
    db.session.commit()
    return _item(item)


@api_route(
    "/queue/<int:queue_item_id>/reopen",
    "POST",
    tag=TAG,
    summary="Reopen a resolved queue item",
    description="For members of the pool, its lead and the item's assignee. The item is "
    "open again for its assignee, and the snooze its resolution started ends: the rules "
    "behind it may fire for the account again (joining this item). The body is optional. "
    "An item that is not resolved, a stale `version`, or an account that already has "
    "another open item in the pool answers 409.",
    request=ReopenRequest,
    response=QueueItemOut,
    conflict=True,
)
def reopen_item(queue_item_id: int):
    user = api_user()
    item = pools.get_item(queue_item_id)
    body = _optional_body(ReopenRequest)
    pools.reopen_item(item, user=user, now=utcnow(), version=body.version)
    db.session.commit()
    return _item(item)
