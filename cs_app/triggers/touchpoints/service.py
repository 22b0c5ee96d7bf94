"""Scheduling touchpoints, and what delivery and the pages need to know about them.

A rule's ``schedule_touchpoint`` action schedules one touchpoint per new firing with one
``INSERT … SELECT`` that resolves the recipient by joins: the primary contact (the account's
active champion with an email address, else its first active contact with one), the executive
sponsor, the owning CSM or the assignee of the queue item the firing was routed to. Firings
without such a person are skipped and counted.

Every touchpoint gets its Message-ID once, here (``<tp-{id}.{token}@{mail domain}>``); every
send and re-send carries it, so a receiver can drop a duplicate. Rows are inserted with a
placeholder and given their final id-bearing Message-ID by one UPDATE in the same transaction.

Cancel and retry are conditional UPDATEs that never touch a touchpoint a delivery worker has
claimed, so a person cannot cancel a message while it is being sent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from cs_app.accounts.models import Account, Contact
from cs_app.accounts.signal_catalog import SIGNALS
from cs_app.accounts.usage_models import AccountSignals
from cs_app.audit import service as audit
from cs_app.auth.models import User
from cs_app.errors import ConflictError, NotFoundError, ValidationError
from cs_app.extensions import db
from cs_app.paging import Page, clamp_page, offset
from cs_app.sql import contains_text, one_of
from cs_app.triggers.pools.models import CsmPool, QueueItem
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.touchpoints import sandbox
from cs_app.triggers.touchpoints.models import (
    CHANNELS,
    RECIPIENTS,
    TOUCHPOINT_STATUSES,
    Touchpoint,
    TouchpointTemplate,
)

CONTACT_RECIPIENTS = ("primary_contact", "executive_sponsor")
RECIPIENT_LABELS = {**RECIPIENTS, "plan_owner": "Plan owner"}
NEEDS_ATTENTION = ("failed", "dead")
CANCELLABLE = ("scheduled", "failed", "dead")
PER_PAGE = 50

T = Touchpoint.__table__.c


def mail_domain() -> str:
    """The domain of ``MAIL_FROM``: Message-IDs are made in our own namespace."""
    address = parseaddr(current_app.config.get("MAIL_FROM") or "")[1]
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "cs-app.invalid"


def message_id_for(touchpoint_id: int, token: str, domain: str) -> str:
    return f"<tp-{touchpoint_id}.{token}@{domain}>"


def pending_message_id_prefix(token: str) -> str:
    return f"<pending.{token}."


def assign_message_ids(touchpoint_ids: list[int], token: str) -> None:
    """Give rows inserted with a placeholder their final Message-ID, which holds their id."""
    if not touchpoint_ids:
        return
    final = literal("<tp-") + cast(T.id, String) + literal(f".{token}@{mail_domain()}>")
    db.session.execute(
        update(Touchpoint.__table__)
        .where(
            one_of(T.id, touchpoint_ids),
            T.message_id.like(pending_message_id_prefix(token) + "%"),
        )
        .values(message_id=final)
        .execution_options(synchronize_session=False)
    )


def primary_contact_id(account_id):
    """The account's primary contact: the active champion with an email address, else the
    first active contact with one (a correlated scalar subquery)."""
    c = Contact.__table__.c
    return (
        select(c.id)
        .where(
            c.account_id == account_id, c.status == "active", c.email.is_not(None), c.email != ""
        )
        .order_by(case((c.role == "champion", 0), else_=1), c.id)
        .limit(1)
        .scalar_subquery()
    )


def executive_sponsor_id(account_id):
    c = Contact.__table__.c
    return (
        select(c.id)
        .where(
            c.account_id == account_id,
            c.status == "active",
            c.role == "executive_sponsor",
            c.email.is_not(None),
            c.email != "",
        )
        .order_by(c.id)
        .limit(1)
        .scalar_subquery()
    )


def get_template_by_key(key: str) -> TouchpointTemplate:
    template = db.session.scalar(select(TouchpointTemplate).where(TouchpointTemplate.key == key))
    if template is None:
        raise NotFoundError(f"No touchpoint template has the key {key!r}.")
    return template


# --- scheduling -----------------------------------------------------------------------------


def schedule_for_firings(
    firing_ids: list[int], *, action: dict, queue_items: dict[int, QueueItem], now: datetime
) -> dict[str, int]:
    """One touchpoint per firing for a ``schedule_touchpoint`` action, in one INSERT … SELECT;
    answers ``{"scheduled", "skipped_no_recipient"}``."""
    ids = sorted(set(firing_ids))
    if not ids:
        return {"scheduled": 0, "skipped_no_recipient": 0}
    template = get_template_by_key(action["template"])
    kind = action["recipient"]
    if kind not in RECIPIENTS:
        raise ValidationError(f"Unknown recipient {kind!r}.", {"recipient": "Choose a recipient."})
    due = now + timedelta(days=action.get("delay_days") or 0)
    token = secrets.token_hex(8)
    f, a = RuleFiring.__table__.c, Account.__table__.c
    contact, person = aliased(Contact.__table__), aliased(User.__table__)
    q = QueueItem.__table__.c
    item_ids = sorted(item.id for item in queue_items.values())
    statement = (
        select(f.id.label("firing_id"), f.rule_id, f.account_id)
        .join(Account.__table__, a.id == f.account_id)
        .outerjoin(QueueItem.__table__, and_(q.firing_id == f.id, one_of(q.id, item_ids or [-1])))
        .where(one_of(f.id, ids))
    )
    if kind in CONTACT_RECIPIENTS:
        chosen = (
            primary_contact_id(a.id) if kind == "primary_contact" else executive_sponsor_id(a.id)
        )
        statement = statement.join(contact, contact.c.id == chosen).add_columns(
            contact.c.id.label("contact_id"),
            cast(null(), Integer).label("user_id"),
            contact.c.email.label("email"),
            contact.c.name.label("name"),
        )
    elif kind == "owning_csm":
        statement = statement.join(
            person, and_(person.c.id == a.csm_id, person.c.active.is_(True))
        ).add_columns(
            cast(null(), Integer).label("contact_id"),
            person.c.id.label("user_id"),
            person.c.email.label("email"),
            person.c.name.label("name"),
        )
    else:  # pool assignee: whoever holds the item when it is sent, so an unassigned item
        # still gets its touchpoint (delivery waits for someone to take the item)
        statement = (
            statement.where(q.id.is_not(None))
            .outerjoin(person, and_(person.c.id == q.assignee_id, person.c.active.is_(True)))
            .add_columns(
                cast(null(), Integer).label("contact_id"),
                person.c.id.label("user_id"),
                person.c.email.label("email"),
                person.c.name.label("name"),
            )
        )
    picked = statement.add_columns(q.id.label("queue_item_id")).subquery()
    rows = select(
        picked.c.account_id,
        picked.c.rule_id,
        picked.c.firing_id,
        picked.c.queue_item_id,
        literal(template.id),
        literal(action["channel"]),
        literal(kind),
        picked.c.contact_id,
        picked.c.user_id,
        picked.c.email,
        picked.c.name,
        literal(pending_message_id_prefix(token)) + cast(picked.c.firing_id, String) + literal(">"),
        literal(due, Touchpoint.__table__.c.due_at.type),
        literal(due, Touchpoint.__table__.c.next_attempt_at.type),
        literal("scheduled"),
        literal(0),
        literal(now, Touchpoint.__table__.c.created_at.type),
    )
    made = list(
        db.session.scalars(
            insert(Touchpoint.__table__)
            .from_select(
                [
                    "account_id",
                    "rule_id",
                    "firing_id",
                    "queue_item_id",
                    "template_id",
                    "channel",
                    "recipient_kind",
                    "recipient_contact_id",
                    "recipient_user_id",
                    "recipient_email",
                    "recipient_name",
                    "message_id",
                    "due_at",
                    "next_attempt_at",
                    "status",
                    "attempts",
                    "created_at",
                ],
                rows,
            )
            .returning(T.id)
        )
    )
    assign_message_ids(made, token)
    return {"scheduled": len(made), "skipped_no_recipient": len(ids) - len(made)}


def schedule_touchpoint(
    account: Account,
    *,
    template: TouchpointTemplate | None,
    recipient_kind: str,
    now: datetime,
    due_at: datetime | None = None,
    channel: str | None = None,
    contact: Contact | None = None,
    recipient_user: User | None = None,
    subject: str | None = None,
    body: str | None = None,
    rule_id: int | None = None,
    firing_id: int | None = None,
    queue_item_id: int | None = None,
) -> Touchpoint:
    """One touchpoint to a contact or one of our users. Without a template, ``subject`` and ``body``
    are the finished text (a review reminder); with one, they are rendered when it is sent."""
    channel = channel or (template.channel if template else "email")
    if channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {channel!r}.", {"channel": "Choose a channel."})
    if template is None and not (subject and body):
        raise ValidationError("A touchpoint without a template needs its subject and body.")
    person = contact if contact is not None else recipient_user
    if person is None or not person.email:
        raise ValidationError(
            "The touchpoint has nobody to go to (no email address).",
            {"recipient": "Choose a recipient with an email address."},
        )
    token = secrets.token_hex(8)
    touchpoint = Touchpoint(
        account_id=account.id,
        rule_id=rule_id,
        firing_id=firing_id,
        queue_item_id=queue_item_id,
        template_id=template.id if template else None,
        channel=channel,
        recipient_kind=recipient_kind,
        recipient_contact_id=contact.id if contact is not None else None,
        recipient_user_id=recipient_user.id if recipient_user and contact is None else None,
        recipient_email=person.email,
        recipient_name=person.name,
        message_id=f"{pending_message_id_prefix(token)}{secrets.token_hex(4)}>",
        due_at=due_at or now,
        next_attempt_at=due_at or now,
        status="scheduled",
        attempts=0,
        created_at=now,
        subject=None if template else subject,
        body=None if template else body,
    )
    db.session.add(touchpoint)
    db.session.flush()
    touchpoint.message_id = message_id_for(touchpoint.id, token, mail_domain())
    db.session.flush()
    return touchpoint


# --- a person's actions: cancel and retry -------------------------------------------------


def _claimed(touchpoint: Touchpoint, now: datetime) -> bool:
    return (
        touchpoint.claimed_until is not None
        and touchpoint.claimed_until >= now
        and touchpoint.status == "scheduled"
    )


def _snapshot(touchpoint: Touchpoint) -> dict[str, Any]:
    return {
        "status": touchpoint.status,
        "attempts": touchpoint.attempts,
        "next_attempt_at": touchpoint.next_attempt_at.isoformat(),
        "last_error": touchpoint.last_error,
        "recipient_email": touchpoint.recipient_email,
        "recipient_name": touchpoint.recipient_name,
    }


def _conditional(
    touchpoint: Touchpoint, statuses: tuple[str, ...], now: datetime, **values: Any
) -> bool:
    """Change the row only if it is still in one of ``statuses`` and no worker holds it."""
    changed = db.session.execute(
        update(Touchpoint.__table__)
        .where(
            T.id == touchpoint.id,
            T.status.in_(statuses),
            or_(T.claimed_until.is_(None), T.claimed_until < now, T.status != "scheduled"),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(touchpoint)
    return bool(changed)


def cancel_touchpoint(touchpoint: Touchpoint, *, user, now: datetime) -> Touchpoint:
    """Scheduled, failed or dead → cancelled; a sent one or one being sent cannot be."""
    before = _snapshot(touchpoint)
    if touchpoint.status not in CANCELLABLE:
        raise ConflictError(f"This touchpoint is {touchpoint.status} and cannot be cancelled.")
    if _claimed(touchpoint, now) or not _conditional(
        touchpoint, CANCELLABLE, now, status="cancelled", claimed_by=None, claimed_until=None
    ):
        raise ConflictError(
            "This touchpoint is being sent right now (or just changed); "
            "reload the page to see what happened."
        )
    audit.record(
        "touchpoint",
        touchpoint.id,
        "cancelled",
        user=user,
        now=now,
        before=before,
        after=_snapshot(touchpoint),
    )
    return touchpoint


def _current_recipient(touchpoint: Touchpoint) -> dict[str, str | None]:
    """The recipient's name and address as they are now: a person who corrected the contact
    (a name with a line break, a mistyped address) and retries sends to the corrected one."""
    if touchpoint.recipient_contact_id is not None:
        person = db.session.get(Contact, touchpoint.recipient_contact_id)
    elif touchpoint.recipient_user_id is not None:
        person = db.session.get(User, touchpoint.recipient_user_id)
    else:
        return {}
    if person is None or not person.email:
        return {}
    return {"recipient_email": person.email, "recipient_name": person.name}


def retry_touchpoint(touchpoint: Touchpoint, *, user, now: datetime) -> Touchpoint:
    """Failed or dead → scheduled now, to the recipient's current name and address; the
    attempts made so far are kept, so one more failure of a dead touchpoint makes it dead
    again at once."""
    before = _snapshot(touchpoint)
    if touchpoint.status not in NEEDS_ATTENTION:
        raise ConflictError(
            f"Only a failed or dead touchpoint can be retried; this one is {touchpoint.status}."
        )
    if not _conditional(
        touchpoint,
        NEEDS_ATTENTION,
        now,
        status="scheduled",
        next_attempt_at=now,
        claimed_by=None,
        claimed_until=None,
        **_current_recipient(touchpoint),
    ):
        raise ConflictError("This touchpoint just changed; reload the page to see it.")
    audit.record(
        "touchpoint",
        touchpoint.id,
        "retried",
        user=user,
        now=now,
        before=before,
        after=_snapshot(touchpoint),
    )
    return touchpoint


# --- reading: list, one, and the facts a message is rendered from -------------------------


def get_touchpoint(touchpoint_id: int) -> Touchpoint:
    touchpoint = db.session.get(Touchpoint, touchpoint_id)
    if touchpoint is None:
        raise NotFoundError(f"No touchpoint {touchpoint_id}.")
    return touchpoint


@dataclass
class TouchpointFilters:
    status: str = ""
    channel: str = ""
    account: str = ""  # an external ID (exact) or part of a name
    exact_account: bool = False  # the API's filter is the external ID only
    direction: str = "desc"

    def link_args(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("status", self.status),
                ("channel", self.channel),
                ("account", self.account),
                ("dir", self.direction),
            )
            if v
        }

    @property
    def filtering(self) -> bool:
        return bool(self.status or self.channel or self.account)


def _where(filters: TouchpointFilters, *, with_status: bool = True) -> list:
    where = []
    if with_status and filters.status:
        where.append(Touchpoint.status == filters.status)
    if filters.channel:
        where.append(Touchpoint.channel == filters.channel)
    text = filters.account.strip()
    if text:
        if filters.exact_account:
            where.append(Account.external_id == text)
        else:
            where.append(or_(Account.external_id == text, contains_text(Account.name, text)))
    return where


def touchpoint_page(
    filters: TouchpointFilters,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    with_counts: bool = False,
) -> Page[Touchpoint]:
    """Touchpoints by due time (newest first unless asked otherwise); the account and template
    come joined, so a page is two queries (three with the per-status counts)."""
    where = _where(filters)
    total = db.session.scalar(
        select(func.count(Touchpoint.id))
        .join(Account, Account.id == Touchpoint.account_id)
        .where(*where)
    )
    total = int(total or 0)
    page = clamp_page(page, total, per_page)
    order = Touchpoint.due_at.asc() if filters.direction == "asc" else Touchpoint.due_at.desc()
    items = list(
        db.session.scalars(
            select(Touchpoint)
            .join(Touchpoint.account)
            .where(*where)
            .order_by(order, Touchpoint.id.desc())
            .offset(offset(page, per_page))
            .limit(per_page)
        ).unique()
    )
    counts: dict[str, int] = {}
    if with_counts:
        counts = dict.fromkeys(TOUCHPOINT_STATUSES, 0)
        counts.update(
            db.session.execute(
                select(Touchpoint.status, func.count(Touchpoint.id))
                .join(Account, Account.id == Touchpoint.account_id)
                .where(*_where(filters, with_status=False))
                .group_by(Touchpoint.status)
            ).all()
        )
    return Page(items=items, total=total, page=page, per_page=per_page, counts=counts)


@dataclass
class Outgoing:
    """Everything needed to render and send one touchpoint, as plain values."""

    id: int
    channel: str
    status: str
    message_id: str
    attempts: int
    account_id: int
    account: dict[str, Any]
    recipient_kind: str
    recipient_email: str | None
    recipient_name: str | None
    template_key: str | None
    subject_source: str | None
    body_source: str | None
    stored_subject: str | None
    stored_body: str | None
    context: dict[str, Any]
    handler_id: int | None  # who gets an internal alert or call task
    handler_email: str | None
    handler_name: str | None
    csm_email: str | None
    queue_item_id: int | None
    owner_ids: list[int]  # who hears about a failure: CSM, else assignee, else pool lead

    @property
    def has_template(self) -> bool:
        return self.subject_source is not None


ACCOUNT_COLUMNS = (
    "name",
    "external_id",
    "segment",
    "lifecycle_stage",
    "engagement_model",
    "domain",
    "industry",
    "product_plan",
    "renewal_date",
    "contract_start",
    "trial_ends_on",
    "arr_minor",
    "currency",
    "seats_purchased",
)


def _signals(account_ids: set[int]) -> dict[int, dict[str, Any]]:
    columns = [getattr(AccountSignals, key) for key in SIGNALS if hasattr(AccountSignals, key)]
    return {
        row.account_id: {key: getattr(row, key) for key in SIGNALS if hasattr(row, key)}
        for row in db.session.execute(
            select(AccountSignals.account_id, *columns).where(
                AccountSignals.account_id.in_(account_ids or {-1})
            )
        )
    }


def _person(name: str | None, email: str | None, title: str | None = None) -> dict | None:
    if not name and not email:
        return None
    return {"name": name, "email": email, "title": title}


def load_outgoing(touchpoint_ids: list[int], *, today: date) -> list[Outgoing]:
    """The touchpoints with their account, people, template, rule and firing: one query, plus
    one for the accounts' signals."""
    if not touchpoint_ids:
        return []
    a = Account.__table__.c
    csm, recipient_user, assignee, pool_lead = (aliased(User.__table__) for _ in range(4))
    recipient_contact, primary = aliased(Contact.__table__), aliased(Contact.__table__)
    template, rule = TouchpointTemplate.__table__.c, Rule.__table__.c
    firing, item, pool = RuleFiring.__table__.c, QueueItem.__table__.c, CsmPool.__table__.c
    rows = db.session.execute(
        select(
            T.id,
            T.channel,
            T.status,
            T.message_id,
            T.attempts,
            T.account_id,
            T.recipient_kind,
            T.recipient_email,
            T.recipient_name,
            T.recipient_user_id,
            T.recipient_contact_id,
            T.subject.label("stored_subject"),
            T.body.label("stored_body"),
            T.queue_item_id,
            *(a[c].label(f"account_{c}") for c in ACCOUNT_COLUMNS),
            template.key.label("template_key"),
            template.subject.label("template_subject"),
            template.body.label("template_body"),
            rule.name.label("rule_name"),
            rule.kind.label("rule_kind"),
            firing.matched.label("matched"),
            a.csm_id,
            csm.c.name.label("csm_name"),
            csm.c.email.label("csm_email"),
            recipient_user.c.name.label("user_name"),
            recipient_user.c.email.label("user_email"),
            recipient_contact.c.name.label("contact_name"),
            recipient_contact.c.email.label("contact_email"),
            recipient_contact.c.title.label("contact_title"),
            primary.c.name.label("primary_name"),
            primary.c.email.label("primary_email"),
            primary.c.title.label("primary_title"),
            item.assignee_id,
            assignee.c.name.label("assignee_name"),
            assignee.c.email.label("assignee_email"),
            pool.lead_id,
        )
        .select_from(Touchpoint.__table__)
        .join(Account.__table__, a.id == T.account_id)
        .outerjoin(csm, csm.c.id == a.csm_id)
        .outerjoin(recipient_user, recipient_user.c.id == T.recipient_user_id)
        .outerjoin(recipient_contact, recipient_contact.c.id == T.recipient_contact_id)
        .outerjoin(primary, primary.c.id == primary_contact_id(a.id))
        .outerjoin(TouchpointTemplate.__table__, template.id == T.template_id)
        .outerjoin(Rule.__table__, rule.id == T.rule_id)
        .outerjoin(RuleFiring.__table__, firing.id == T.firing_id)
        .outerjoin(QueueItem.__table__, item.id == T.queue_item_id)
        .outerjoin(assignee, assignee.c.id == item.assignee_id)
        .outerjoin(CsmPool.__table__, pool.id == item.pool_id)
        .outerjoin(pool_lead, pool_lead.c.id == pool.lead_id)
        .where(T.id.in_(touchpoint_ids))
        .order_by(T.id)
    ).all()
    signals = _signals({row.account_id for row in rows})
    return [_outgoing(row, signals.get(row.account_id), today) for row in rows]


def _outgoing(row, signals: dict[str, Any] | None, today: date) -> Outgoing:
    account = {c: getattr(row, f"account_{c}") for c in ACCOUNT_COLUMNS}
    contact = _person(row.contact_name, row.contact_email, row.contact_title) or _person(
        row.primary_name, row.primary_email, row.primary_title
    )
    csm = _person(row.csm_name, row.csm_email)
    if csm is None and row.assignee_id is not None:  # a pooled account: whoever took it
        csm = _person(row.assignee_name, row.assignee_email)
    if row.recipient_kind == "pool_assignee":  # the item may have changed hands since
        handler = (
            (row.assignee_id, row.assignee_email, row.assignee_name)
            if row.assignee_id is not None
            else (None, None, None)
        )
    elif row.recipient_user_id is not None:
        handler = (row.recipient_user_id, row.user_email, row.user_name)
    elif row.assignee_id is not None:
        handler = (row.assignee_id, row.assignee_email, row.assignee_name)
    elif row.csm_id is not None:
        handler = (row.csm_id, row.csm_email, row.csm_name)
    else:
        handler = (None, None, None)
    owners = [
        user_id for user_id in (row.csm_id, row.assignee_id, row.lead_id) if user_id is not None
    ][:1]
    context = sandbox.build_context(
        account=account,
        contact=contact,
        csm=csm,
        recipient=_person(row.recipient_name, row.recipient_email),
        rule={"name": row.rule_name, "kind": row.rule_kind} if row.rule_name else None,
        signals=signals,
        matched=row.matched,
        today=today,
    )
    return Outgoing(
        id=row.id,
        channel=row.channel,
        status=row.status,
        message_id=row.message_id,
        attempts=row.attempts,
        account_id=row.account_id,
        account=account,
        recipient_kind=row.recipient_kind,
        recipient_email=row.recipient_email,
        recipient_name=row.recipient_name,
        template_key=row.template_key,
        subject_source=row.template_subject,
        body_source=row.template_body,
        stored_subject=row.stored_subject,
        stored_body=row.stored_body,
        context=context,
        handler_id=handler[0],
        handler_email=handler[1],
        handler_name=handler[2],
        csm_email=row.csm_email,
        queue_item_id=row.queue_item_id,
        owner_ids=owners,
    )


def render_outgoing(message: Outgoing, *, html: bool = False) -> sandbox.RenderedMessage:
    """The message's text: its template rendered now, or the text stored when it was
    scheduled (a template-less reminder). Raises ``TemplateProblem``."""
    if message.has_template:
        return sandbox.render_message(
            message.subject_source, message.body_source, message.context, html=html
        )
    if message.stored_subject and message.stored_body:
        return sandbox.RenderedMessage(message.stored_subject, message.stored_body)
    raise sandbox.TemplateProblem(
        "body", "the touchpoint's template was deleted and it has no text of its own"
    )


def account_context(account: Account, *, today: date) -> dict[str, Any]:
    """What a template would see for ``account`` (its primary contact, its CSM): the preview
    of the template editor."""
    a = Account.__table__.c
    primary = aliased(Contact.__table__)
    row = db.session.execute(
        select(primary.c.name, primary.c.email, primary.c.title)
        .select_from(Account.__table__)
        .outerjoin(primary, primary.c.id == primary_contact_id(a.id))
        .where(a.id == account.id)
    ).one()
    contact = _person(row.name, row.email, row.title)
    csm = _person(account.csm.name, account.csm.email) if account.csm else None
    return sandbox.build_context(
        account={c: getattr(account, c) for c in ACCOUNT_COLUMNS},
        contact=contact,
        csm=csm,
        recipient=contact,
        signals=_signals({account.id}).get(account.id),
        matched={},
        today=today,
    )
