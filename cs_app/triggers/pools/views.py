"""Browser pages for CSM pools, their queues and the CSM's own queue.

Leads and admins manage pools; everyone signed in reads the queues; CSMs act on the items of
the pools they belong to and on items assigned to them (the service decides, the pages show
only the buttons it would accept). Views parse, call ``cs_app.triggers.pools.service`` and
render; everything templates show is prepared here, so they run no queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from cs_app.accounts.models import SEGMENTS
from cs_app.accounts.signal_format import reason_lines
from cs_app.auth.permissions import can_lead, require
from cs_app.db_types import utcnow
from cs_app.errors import ConflictError, ValidationError
from cs_app.extensions import db
from cs_app.form_errors import EXPIRED, show_errors
from cs_app.request_args import database_id, page_number, safe_next
from cs_app.triggers.pools import service as pools
from cs_app.triggers.pools.forms import (
    ClaimForm,
    MemberRow,
    PoolForm,
    ReassignForm,
    ResolveForm,
    member_choices,
    read_member_rows,
    show_pool_errors,
    with_blank_rows,
)
from cs_app.triggers.pools.models import OUTCOMES, PRIORITIES, QUEUE_STATUSES, QueueItem
from cs_app.triggers.pools.routing import STRATEGY_LABELS, strategy_label

bp = Blueprint("pools", __name__)

QUEUE_TABS = {"mine": "Assigned to me", "claimable": "Unassigned in my pools"}


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every pool and queue page needs a signed-in user."""


# --- what the templates show ----------------------------------------------------------------


def _hours(delta_seconds: float) -> str:
    hours = abs(delta_seconds) / 3600
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} d"


@dataclass
class Cause:
    """One rule that fired for the item's account: its name, the signal values it matched,
    when it joined the item and until when resolving snoozed it."""

    title: str
    lines: list[tuple[str, str]]
    priority: str
    added_at: datetime | None
    snoozed_until: datetime | None


@dataclass
class ItemView:
    item: QueueItem
    breached: bool
    sla_note: str  # "in 5 h", "3 h overdue"
    reasons: list[tuple[str, str]]
    actions: pools.ItemActions
    causes: list[Cause]
    snoozed_until: datetime | None  # the latest snooze still running
    can_reopen: bool = False


def item_view(item: QueueItem, now: datetime, user) -> ItemView:
    seconds = (item.sla_due_at - now).total_seconds()
    if item.status == "resolved":
        end = item.resolved_at or now
        late = (end - item.sla_due_at).total_seconds()
        note = f"resolved {_hours(late)} late" if late > 0 else "resolved within SLA"
    elif seconds >= 0:
        note = f"due in {_hours(seconds)}"
    else:
        note = f"{_hours(seconds)} overdue"
    return ItemView(
        item=item,
        breached=pools.is_breached(item, now),
        sla_note=note,
        reasons=reason_lines(item.reason, item.account.currency),
        actions=pools.item_actions(item, user),
        causes=[
            Cause(
                r.title,
                reason_lines(r.matched, item.account.currency),
                r.priority,
                r.added_at,
                r.snoozed_until if r.snoozed_until and r.snoozed_until > now else None,
            )
            for r in item.reasons
        ]
        or [
            Cause(
                item.title,
                reason_lines(item.reason, item.account.currency),
                item.priority,
                item.created_at,
                None,
            )
        ],
        snoozed_until=pools.snoozed_until(item, now),
        can_reopen=pools.can_reopen(item, user),
    )


def _labels() -> dict[str, Any]:
    return {
        "priorities": PRIORITIES,
        "statuses": QUEUE_STATUSES,
        "outcomes": OUTCOMES,
        "strategies": STRATEGY_LABELS,
        "routing": {key: strategy_label(key) for key in STRATEGY_LABELS},
        "filters": pools.QUEUE_FILTERS,
        "sorts": pools.QUEUE_SORTS,
        "segments": SEGMENTS,
    }


# --- pools ----------------------------------------------------------------------------------


@bp.route("/pools")
def index():
    return render_template(
        "pools/index.html",
        summaries=pools.pool_summaries(now=utcnow()),
        labels=_labels(),
        can_manage=can_lead(current_user),
    )


def _people() -> list[tuple[int, str]]:
    return [
        (u.id, f"{u.name} ({u.role_label}{', away' if u.away else ''})")
        for u in pools.possible_members()
    ]


def _render_editor(
    form: PoolForm,
    rows: list[MemberRow],
    pool,
    people,
    *,
    status: int = 200,
    general: list[str] | None = None,
):
    return render_template(
        "pools/form.html",
        form=form,
        rows=rows,
        pool=pool,
        people=people,
        labels=_labels(),
        general=general or [],
    ), status


def _pool_editor(pool):
    people = _people()
    if request.method == "GET":
        form = PoolForm(formdata=None)
        form.set_people(people)
        rows: list[MemberRow] = []
        if pool is not None:
            form.load(pool)
            del form.key  # fixed once the pool exists: rules route to it by key
            rows = [
                MemberRow.from_member(m) for m in sorted(pool.members, key=lambda m: m.position)
            ]
        else:
            form.strategy.data = "least_loaded"
            form.default_sla_hours.data = "24"
        return _render_editor(form, with_blank_rows(rows), pool, people)
    form = PoolForm()
    form.set_people(people)
    if pool is not None:
        del form.key
    rows = read_member_rows(request.form)
    if not form.validate_on_submit():
        return _render_editor(
            form, with_blank_rows(rows), pool, people, status=400, general=[EXPIRED]
        )
    if request.form.get("action") == "add_rows":
        return _render_editor(form, with_blank_rows(rows, extra=6), pool, people)
    try:
        if pool is None:
            pool = pools.create_pool(form.values(rows), user=current_user, now=utcnow())
            message = f"Created the pool “{pool.name}”. Rules route to it with the key {pool.key}."
        else:
            pools.update_pool(pool, form.values(rows), user=current_user, now=utcnow())
            message = f"Saved the pool “{pool.name}”."
    except ValidationError as error:
        db.session.rollback()
        general = show_pool_errors(form, rows, error)
        return _render_editor(
            form, with_blank_rows(rows), pool, people, status=422, general=general
        )
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("pools.show", pool_id=pool.id))


@bp.route("/pools/new", methods=["GET", "POST"])
def new():
    require(can_lead(current_user))
    return _pool_editor(None)


@bp.route("/pools/<int:pool_id>/edit", methods=["GET", "POST"])
def edit(pool_id: int):
    require(can_lead(current_user))
    return _pool_editor(pools.get_pool(pool_id))


@bp.route("/pools/<int:pool_id>")
def show(pool_id: int):
    pool = pools.get_pool(pool_id)
    status = request.args.get("status", "active")
    status = status if status in pools.QUEUE_FILTERS else "active"
    sort = request.args.get("sort", "sla")
    sort = sort if sort in pools.QUEUE_SORTS else "sla"
    now = utcnow()
    queue = pools.pool_queue(
        pool, status=status, sort=sort, page=page_number(request.args), now=now
    )
    members = pools.pool_members(pool)
    return render_template(
        "pools/show.html",
        pool=pool,
        queue=queue,
        status=status,
        sort=sort,
        items=[item_view(i, now, current_user) for i in queue.items],
        members=members,
        reassign_choices=member_choices(members),
        labels=_labels(),
        args={"pool_id": pool.id, "status": status, "sort": sort},
        can_manage=can_lead(current_user),
        here=request.full_path.rstrip("?"),
    )


# --- queue items ----------------------------------------------------------------------------


@bp.route("/queue")
def my_queue():
    tab = request.args.get("tab", "mine")
    tab = tab if tab in QUEUE_TABS else "mine"
    now = utcnow()
    mine = pools.my_queue(current_user, now=now)
    waiting = pools.claimable(current_user, now=now)
    shown = mine if tab == "mine" else waiting
    return render_template(
        "pools/my_queue.html",
        tab=tab,
        tabs=QUEUE_TABS,
        counts={"mine": len(mine), "claimable": len(waiting)},
        breached=sum(1 for i in mine if pools.is_breached(i, now)),
        items=[item_view(i, now, current_user) for i in shown],
        labels=_labels(),
        here=request.full_path.rstrip("?"),
        limit=pools.CLAIMABLE_LIMIT,
    )


def _render_item(
    item: QueueItem,
    *,
    status: int = 200,
    reassign: ReassignForm | None = None,
    resolve: ResolveForm | None = None,
    general: list[str] | None = None,
):
    now = utcnow()
    members = pools.pool_members(item.pool)
    view = item_view(item, now, current_user)
    if reassign is None:
        reassign = ReassignForm(formdata=None)
    reassign.set_members(members, item.assignee_id)
    if resolve is None:
        resolve = ResolveForm(formdata=None)
    claim = ClaimForm(formdata=None)
    for form in (reassign, resolve, claim):
        if not form.version.data:
            form.version.data = str(item.version)
    resolver = pools.resolver_of(item)
    routed_to, history = pools.item_history(item)
    return render_template(
        "pools/item.html",
        view=view,
        item=item,
        members=members,
        reassign=reassign,
        resolve=resolve,
        claim=claim,
        general=general or [],
        history=history,
        routed_to=routed_to,
        resolver=resolver,
        labels=_labels(),
    ), status


@bp.route("/queue/<int:queue_item_id>")
def item(queue_item_id: int):
    return _render_item(pools.get_item(queue_item_id))


def _refused(
    queue_item_id: int,
    error: ValidationError | ConflictError,
    *,
    reassign: ReassignForm | None = None,
    resolve: ResolveForm | None = None,
):
    """The item as it is now, with the service's refusal: a ValidationError beside the form's
    fields (422); a ConflictError above it (409), the version cleared so that sending the
    form again saves over what the other person did."""
    db.session.rollback()
    form = reassign or resolve
    if isinstance(error, ConflictError):
        if form is not None:
            form.version.data = ""
        general = [error.message]
    else:
        general = show_errors(form, error)
    return _render_item(
        pools.get_item(queue_item_id),
        status=error.status,
        reassign=reassign,
        resolve=resolve,
        general=general,
    )


def _done(form, item: QueueItem, message: str):
    flash(message, "success")
    return redirect(safe_next(form.next.data) or url_for("pools.item", queue_item_id=item.id))


@bp.route("/queue/<int:queue_item_id>/claim", methods=["POST"])
def claim(queue_item_id: int):
    item = pools.get_item(queue_item_id)
    require(pools.can_work(item, current_user))
    form = ClaimForm()
    if not form.validate_on_submit():
        return _render_item(item, status=400, general=[EXPIRED])
    try:
        pools.claim_item(item, user=current_user, now=utcnow(), version=form.version_number())
    except ConflictError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(
            safe_next(form.next.data) or url_for("pools.item", queue_item_id=queue_item_id)
        )
    db.session.commit()
    return _done(form, item, f"You claimed {item.account.name}: it is yours to work.")


@bp.route("/queue/<int:queue_item_id>/reassign", methods=["POST"])
def reassign(queue_item_id: int):
    item = pools.get_item(queue_item_id)
    require(pools.can_work(item, current_user))
    form = ReassignForm()
    if not form.validate_on_submit():
        return _render_item(item, status=400, reassign=form, general=[EXPIRED])
    value = form.assignee.data
    number = database_id(value)
    target = pools.find_user(number) if number is not None else None
    try:
        pools.reassign_item(
            item,
            to_user=target,
            user=current_user,
            now=utcnow(),
            force=form.force.data,
            version=form.version_number(),
        )
    except (ValidationError, ConflictError) as error:
        return _refused(queue_item_id, error, reassign=form)
    db.session.commit()
    return _done(form, item, f"Reassigned {item.account.name} to {target.name}.")


@bp.route("/queue/<int:queue_item_id>/resolve", methods=["POST"])
def resolve(queue_item_id: int):
    item = pools.get_item(queue_item_id)
    require(pools.can_work(item, current_user))
    form = ResolveForm()
    if not form.validate_on_submit():
        return _render_item(item, status=400, resolve=form, general=[EXPIRED])
    try:
        pools.resolve_item(
            item,
            outcome=form.outcome.data or None,
            notes=form.notes.data,
            user=current_user,
            now=utcnow(),
            version=form.version_number(),
        )
    except (ValidationError, ConflictError) as error:
        return _refused(queue_item_id, error, resolve=form)
    db.session.commit()
    return _done(form, item, f"Resolved {item.account.name}: {OUTCOMES[item.outcome]}.")


@bp.route("/queue/<int:queue_item_id>/reopen", methods=["POST"])
def reopen(queue_item_id: int):
    item = pools.get_item(queue_item_id)
    require(pools.can_work(item, current_user))
    form = ClaimForm()
    if not form.validate_on_submit():
        return _render_item(item, status=400, general=[EXPIRED])
    try:
        pools.reopen_item(item, user=current_user, now=utcnow(), version=form.version_number())
    except ConflictError as error:
        return _refused(queue_item_id, error)
    db.session.commit()
    return _done(form, item, f"Reopened {item.account.name}; its rules may fire again.")
