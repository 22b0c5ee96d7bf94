"""Run the actions of new rule firings, rule by rule and action by action, in the rule's order.

Each action works on all of a rule's new firings at once: ``route_to_pool`` hands them to
``pools.route_firings`` (one queue item per account and pool: a firing for an account whose
item is open joins it, counted ``merged``, and sends no touchpoint and adds no action item of
its own), ``schedule_touchpoint`` to
``touchpoints.schedule_for_firings`` (which may address the queue item's assignee made just
before), ``create_action`` adds one action item per firing to the account's active plan with a
plan-history entry like any plan edit, and ``set_stage`` moves the accounts to a lifecycle
stage with a stage-history entry. What each action did for each firing is stored on the firing
(``action_results``) with ``actions_done_at``; firings already done are never run again.

A rule whose action fails (its pool or template was deleted since it was saved) has that
action's work rolled back to a savepoint and the error recorded on its firings; the other
rules still run, so one broken rule cannot stop every rule's evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, column, func, insert, select, update

from cs_app.accounts.models import Account, LifecycleStageEntry
from cs_app.accounts.usage_models import AccountSignals
from cs_app.errors import DomainError
from cs_app.extensions import db
from cs_app.plans.models import ActionItem, Plan, PlanChange
from cs_app.sql import among, chunks, on_postgresql, one_of
from cs_app.triggers.pools import service as pools
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.refs import FiringRef
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.touchpoints import service as touchpoints
from cs_app.triggers.touchpoints.models import Touchpoint, TouchpointTemplate

RULE_CHUNK = 5_000  # firings of one rule that run their actions together
COUNT_KEYS = (
    "routed",
    "merged",
    "touchpoints",
    "actions_created",
    "stages_set",
    "actions_skipped",
    "action_errors",
)
OTHER_OWNER = {"owning_csm": "pool_assignee", "pool_assignee": "owning_csm"}


class _Firing:
    """A firing being run: its reference for the action services, and its results so far."""

    __slots__ = ("ref", "csm_id", "results")

    def __init__(self, ref: FiringRef, csm_id: int | None) -> None:
        self.ref = ref
        self.csm_id = csm_id
        self.results: list[dict[str, Any]] = []


def _load(ids: Sequence[int]) -> list[tuple[list, list[_Firing]]]:
    """The firings not yet run, grouped by rule (rule order, then firing order): one query
    (on SQLite, one per 500 ids), and one for their rules. Only a route keeps the matched
    values (its queue item's reason), so only the firings of routing rules read them."""
    f, a = RuleFiring.__table__.c, Account.__table__.c
    rows = []
    for condition in among(f.id, sorted(set(ids))):
        rows += db.session.execute(
            select(f.id, f.rule_id, f.account_id, a.segment, a.csm_id)
            .join(Account.__table__, a.id == f.account_id)
            .where(condition, f.actions_done_at.is_(None))
        ).all()
    r = Rule.__table__.c
    rule_rows = (
        db.session.execute(
            select(r.id, r.name, r.actions).where(r.id.in_(sorted({row.rule_id for row in rows})))
        ).all()
        if rows
        else []
    )
    named = {row.id: (row.name, list(row.actions or [])) for row in rule_rows}
    routing = {
        rule_id
        for rule_id, (_, actions) in named.items()
        if any(action.get("type") == "route_to_pool" for action in actions)
    }
    matched: dict[int, dict] = {}
    routed = [row.id for row in rows if row.rule_id in routing]
    for condition in among(f.id, routed):
        matched.update(db.session.execute(select(f.id, f.matched).where(condition)).all())
    groups: dict[int, list[_Firing]] = {}
    for row in rows:
        ref = FiringRef(
            firing_id=row.id,
            rule_id=row.rule_id,
            rule_name=named[row.rule_id][0],
            account_id=row.account_id,
            segment=row.segment,
            matched=dict(matched.get(row.id) or {}),
            owner_id=row.csm_id,
        )
        groups.setdefault(row.rule_id, []).append(_Firing(ref, row.csm_id))
    return [
        (named[rule_id][1], sorted(groups[rule_id], key=lambda firing: firing.ref.firing_id))
        for rule_id in sorted(groups)
    ]


def _record(part: Sequence[_Firing], *, now: datetime) -> None:
    """Store each firing's results and mark its actions done. PostgreSQL takes all of them in
    one UPDATE … FROM json_to_recordset (an UPDATE per row costs a round trip each there);
    SQLite runs the per-row UPDATE as one executemany in-process, which is as fast."""
    firings = RuleFiring.__table__
    rows = [{"firing_id": f.ref.firing_id, "results": f.results} for f in part]
    if on_postgresql():
        given = (
            func.json_to_recordset(bindparam("payload", type_=JSON))
            .table_valued(column("firing_id", Integer), column("results", JSON))
            .render_derived(with_types=True)
        )
        db.session.execute(
            update(firings)
            .where(firings.c.id == given.c.firing_id)
            .values(action_results=given.c.results, actions_done_at=now)
            .execution_options(synchronize_session=False),
            {"payload": rows},
        )
        return
    db.session.execute(
        update(firings)
        .where(firings.c.id == bindparam("firing_id"))
        .values(action_results=bindparam("results"), actions_done_at=now)
        .execution_options(synchronize_session=False),
        rows,
    )


def execute_actions(firing_ids: Sequence[int], *, now: datetime) -> dict[str, int]:
    """Run the actions of the given firings that have not run yet; returns counts. Each rule's
    firings go through its actions ``RULE_CHUNK`` at a time, so a rule's pool is locked and
    its template read a few times per evaluation, not once per firing."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for actions, firings in _load(firing_ids):
        for part in chunks(firings, RULE_CHUNK):
            _run_rule(actions, list(part), counts, now=now)
            _record(part, now=now)
    db.session.flush()
    return counts


def _run_rule(
    actions: list, firings: list[_Firing], counts: dict[str, int], *, now: datetime
) -> None:
    queue_items: dict[int, QueueItem] = {}
    for action in actions:
        kind = action.get("type")
        savepoint = db.session.begin_nested()
        try:
            if kind == "route_to_pool":
                queue_items = _route(action, firings, counts, now=now)
            elif kind == "schedule_touchpoint":
                own = _not_merged(kind, firings, queue_items, counts)
                _schedule(action, own, queue_items, counts, now=now)
            elif kind == "create_action":
                own = _not_merged(kind, firings, queue_items, counts)
                _create_action(action, own, queue_items, counts, now=now)
            elif kind == "set_stage":
                _set_stage(action, firings, counts, now=now)
            else:
                raise ValueError(f"unknown action type {kind!r}")
        except (DomainError, LookupError, ValueError) as error:
            savepoint.rollback()
            counts["action_errors"] += len(firings)
            message = getattr(error, "message", None) or str(error)
            for firing in firings:
                firing.results.append({"type": kind, "error": message})
        else:
            savepoint.commit()


def _route(
    action: dict, firings: list[_Firing], counts: dict[str, int], *, now: datetime
) -> dict[int, QueueItem]:
    items = pools.route_firings(
        [f.ref for f in firings],
        pool_key=action["pool"],
        priority=action.get("priority", "normal"),
        sla_hours=action.get("sla_hours"),
        now=now,
    )
    for firing in firings:
        item = items.get(firing.ref.firing_id)
        if item is None:
            counts["actions_skipped"] += 1
            firing.results.append(
                {
                    "type": "route_to_pool",
                    "pool": action["pool"],
                    "skipped": "no queue item was made",
                }
            )
            continue
        merged = item.firing_id != firing.ref.firing_id
        counts["merged" if merged else "routed"] += 1
        firing.results.append(
            {
                "type": "route_to_pool",
                "pool": action["pool"],
                "queue_item_id": item.id,
                "assignee_id": item.assignee_id,
                **({"merged": True} if merged else {}),
            }
        )
    return items


def _not_merged(
    kind: str, firings: list[_Firing], queue_items: dict[int, QueueItem], counts: dict[str, int]
) -> list[_Firing]:
    """The firings that made their own queue item (or routed nowhere). A firing that joined an
    account's open item is one more reason for work already under way: the item's owner already
    has it, and the customer already got that item's touchpoint, so neither a second message
    nor a second action item goes out (the de-duplication a CSM counts on)."""
    own = []
    for firing in firings:
        item = queue_items.get(firing.ref.firing_id)
        if item is not None and item.firing_id != firing.ref.firing_id:
            counts["actions_skipped"] += 1
            firing.results.append({"type": kind, "skipped": f"joined open queue item #{item.id}"})
        else:
            own.append(firing)
    return own


def _schedule(
    action: dict,
    firings: list[_Firing],
    queue_items: dict[int, QueueItem],
    counts: dict[str, int],
    *,
    now: datetime,
) -> None:
    ids = [f.ref.firing_id for f in firings]
    touchpoints.schedule_for_firings(ids, action=action, queue_items=queue_items, now=now)
    tp, tpl = Touchpoint.__table__.c, TouchpointTemplate.__table__.c
    # the firings are new, so their touchpoints of this template are the ones just scheduled
    made: dict[int, tuple[int, datetime]] = {
        row.firing_id: (row.id, row.due_at)
        for row in db.session.execute(
            select(tp.firing_id, tp.id, tp.due_at)
            .join(TouchpointTemplate.__table__, tpl.id == tp.template_id)
            .where(
                one_of(tp.firing_id, ids),
                tpl.key == action["template"],
                tp.recipient_kind == action["recipient"],
            )
        )
    }
    for firing in firings:
        base = {
            "type": "schedule_touchpoint",
            "template": action["template"],
            "channel": action["channel"],
            "recipient": action["recipient"],
        }
        if firing.ref.firing_id in made:
            touchpoint_id, due_at = made[firing.ref.firing_id]
            counts["touchpoints"] += 1
            firing.results.append(
                base | {"touchpoint_id": touchpoint_id, "due_at": due_at.isoformat()}
            )
        else:
            counts["actions_skipped"] += 1
            firing.results.append(base | {"skipped": "no recipient"})


def _active_plans(account_ids: Iterable[int]) -> dict[int, int]:
    """Each account's active plan (the newest when there are several): one query."""
    p = Plan.__table__.c
    plans: dict[int, int] = {}
    for account_id, plan_id in db.session.execute(
        select(p.account_id, p.id)
        .where(one_of(p.account_id, sorted(set(account_ids))), p.status == "active")
        .order_by(p.account_id, p.created_at.desc(), p.id.desc())
    ):
        plans.setdefault(account_id, plan_id)
    return plans


def _owner(rule: str, firing: _Firing, queue_items: dict[int, QueueItem]) -> int | None:
    if rule == "owning_csm":
        return firing.csm_id
    item = queue_items.get(firing.ref.firing_id)
    return item.assignee_id if item is not None else None


def _create_action(
    action: dict,
    firings: list[_Firing],
    queue_items: dict[int, QueueItem],
    counts: dict[str, int],
    *,
    now: datetime,
) -> None:
    """One open action item per firing on the account's active plan, owned by the person the
    owner rule names (or, when that one is missing — a pooled account has no CSM, an item
    may wait unassigned — the other one): an action item always has a named owner."""
    plans = _active_plans(f.ref.account_id for f in firings)
    due = now.date() + timedelta(days=action.get("due_in_days", 7))
    title = action["title"]
    rows, placed = [], []
    for firing in firings:
        base = {"type": "create_action", "title": title}
        plan_id = plans.get(firing.ref.account_id)
        owner = _owner(action["owner"], firing, queue_items) or _owner(
            OTHER_OWNER[action["owner"]], firing, queue_items
        )
        if plan_id is None or owner is None:
            counts["actions_skipped"] += 1
            firing.results.append(
                base
                | {
                    "skipped": "no active plan"
                    if plan_id is None
                    else "no owning CSM or pool assignee"
                }
            )
            continue
        rows.append(
            {
                "plan_id": plan_id,
                "title": title,
                "due_date": due,
                "status": "open",
                "owner_user_id": owner,
                "version": 1,
            }
        )
        placed.append(
            (
                firing,
                base | {"plan_id": plan_id, "owner_user_id": owner, "due_date": due.isoformat()},
            )
        )
    if not rows:
        return
    table = ActionItem.__table__
    ids = list(
        db.session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    )
    db.session.execute(
        insert(PlanChange.__table__),
        [
            {
                "plan_id": row["plan_id"],
                "changed_at": now,
                "user_id": None,
                "component": "actions",
                "item_id": item_id,
                "item_label": title,
                "action": "created",
            }
            for row, item_id in zip(rows, ids, strict=True)
        ],
    )
    plans_table = Plan.__table__
    # what an edit through the plan service does: the plan's version moves on, so a person
    # who opened the plan before gets the conflict message instead of overwriting this
    db.session.execute(
        update(plans_table)
        .where(plans_table.c.id.in_(sorted({r["plan_id"] for r in rows})))
        .values(version=plans_table.c.version + 1, updated_at=now, updated_by_id=None)
        .execution_options(synchronize_session=False)
    )
    for (firing, result), item_id in zip(placed, ids, strict=True):
        firing.results.append(result | {"action_item_id": item_id})
    counts["actions_created"] += len(ids)


def _set_stage(
    action: dict, firings: list[_Firing], counts: dict[str, int], *, now: datetime
) -> None:
    stage = action["stage"]
    accounts = Account.__table__
    account_ids = sorted({f.ref.account_id for f in firings})
    moved = set(
        db.session.scalars(
            update(accounts)
            .where(accounts.c.id.in_(account_ids), accounts.c.lifecycle_stage != stage)
            .values(lifecycle_stage=stage, stage_entered_on=now.date(), updated_at=now)
            .returning(accounts.c.id)
            .execution_options(synchronize_session=False)
        )
    )
    if moved:
        db.session.execute(
            insert(LifecycleStageEntry.__table__),
            [
                {"account_id": account_id, "stage": stage, "entered_on": now.date()}
                for account_id in sorted(moved)
            ],
        )
        signals = AccountSignals.__table__
        # later rules of the same evaluation read the stage this one set
        db.session.execute(
            update(signals)
            .where(signals.c.account_id.in_(sorted(moved)))
            .values(lifecycle_stage=stage)
            .execution_options(synchronize_session=False)
        )
    counts["stages_set"] += len(moved)
    for firing in firings:
        firing.results.append(
            {"type": "set_stage", "stage": stage, "changed": firing.ref.account_id in moved}
        )
