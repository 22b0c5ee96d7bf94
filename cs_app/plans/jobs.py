"""The ``remind-reviews`` job: tell plan owners whose plan review is due today or overdue.

For every active plan whose next review date (set from the review cadence when a review is
logged, see ``plans.service``) is today or past, its owner gets one in-app alert of kind
``review_due`` per review date (dedupe key ``plan:<id>:<next review date>``) and one email.
The email is a touchpoint (channel email, recipient ``plan_owner``, its text written now), so
it is delivered by ``deliver-touchpoints`` with the same retries and the same never-twice
guarantee as every other message, and shows on the touchpoints page.

Both steps are set-based: one ``INSERT … SELECT`` of the alerts (an insert-ignore on the
alerts' dedupe key, answering the new rows), one ``INSERT … SELECT`` of their touchpoints.
Running the job again the same day, or the next day for the same review date, finds nothing
new: a plan is reminded again only once its next review date changes (a review was logged,
the date was moved) and falls due again.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import String, and_, cast, exists, func, insert, literal, select

from cs_app.accounts.models import Account
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.plans.models import Plan
from cs_app.sql import iso_date
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.alerts.service import insert_ignoring_duplicates
from cs_app.triggers.touchpoints.models import Touchpoint
from cs_app.triggers.touchpoints.service import assign_message_ids, pending_message_id_prefix

KIND = "review_due"
RECIPIENT_KIND = "plan_owner"
EMAIL_FOOTER = (
    "\n\nHold the review with the customer and log it on the plan in cs_app; the "
    "next review date then follows from the plan's cadence."
)


def remind_reviews(*, now: datetime) -> dict[str, int]:
    """Alert and mail the owner of every active plan whose review is due; answers
    ``{"reminded", "emails"}``."""
    p, a, u, al = Plan.__table__.c, Account.__table__.c, User.__table__.c, Alert.__table__.c
    today = now.date()
    day = iso_date(p.next_review_on)
    dedupe_key = literal("plan:") + cast(p.id, String) + literal(":") + day
    already = exists().where(al.user_id == p.owner_id, al.kind == KIND, al.dedupe_key == dedupe_key)
    due = (
        select(
            p.owner_id,
            literal(KIND),
            dedupe_key,
            func.substr(literal("Plan review due: ") + a.name + literal(" · ") + p.title, 1, 300),
            literal("The review of “")
            + p.title
            + literal("” for ")
            + a.name
            + literal(" was due on ")
            + day
            + literal("."),
            p.account_id,
            literal(now, Alert.__table__.c.created_at.type),
        )
        .join(Account.__table__, a.id == p.account_id)
        .join(User.__table__, and_(u.id == p.owner_id, u.active.is_(True)))
        .where(
            p.status == "active", p.next_review_on.is_not(None), p.next_review_on <= today, ~already
        )
    )
    created = (
        db.session.execute(
            insert_ignoring_duplicates()
            .from_select(
                ["user_id", "kind", "dedupe_key", "title", "body", "account_id", "created_at"], due
            )
            .returning(al.id)
        )
        .scalars()
        .all()
    )
    emails = _schedule_emails(list(created), now=now)
    return {"reminded": len(created), "emails": emails}


def _schedule_emails(alert_ids: list[int], *, now: datetime) -> int:
    """One email touchpoint per new reminder, to the plan owner, due now."""
    if not alert_ids:
        return 0
    al, u, t = Alert.__table__.c, User.__table__.c, Touchpoint.__table__.c
    token = secrets.token_hex(8)
    stamp = literal(now, t.due_at.type)
    rows = (
        select(
            al.account_id,
            literal("email"),
            literal(RECIPIENT_KIND),
            al.user_id,
            u.email,
            u.name,
            literal(pending_message_id_prefix(token)) + cast(al.id, String) + literal(">"),
            stamp,
            stamp,
            literal("scheduled"),
            literal(0),
            stamp,
            al.title,
            literal("Hi ") + u.name + literal(",\n\n") + al.body + literal(EMAIL_FOOTER),
        )
        .join(User.__table__, u.id == al.user_id)
        .where(al.id.in_(alert_ids))
    )
    made = (
        db.session.execute(
            insert(Touchpoint.__table__)
            .from_select(
                [
                    "account_id",
                    "channel",
                    "recipient_kind",
                    "recipient_user_id",
                    "recipient_email",
                    "recipient_name",
                    "message_id",
                    "due_at",
                    "next_attempt_at",
                    "status",
                    "attempts",
                    "created_at",
                    "subject",
                    "body",
                ],
                rows,
            )
            .returning(t.id)
        )
        .scalars()
        .all()
    )
    assign_message_ids(list(made), token)
    return len(made)
