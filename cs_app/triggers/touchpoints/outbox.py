"""Reading the development outbox: the emails kept in place of SMTP while no SMTP host is
configured (``delivery.Outbox`` writes them), newest first, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_string, policy

from sqlalchemy import func, select

from cs_app.errors import NotFoundError
from cs_app.extensions import db
from cs_app.paging import Page, clamp_page, offset
from cs_app.triggers.touchpoints.models import OutboxMessage

PER_PAGE = 50


@dataclass
class OutboxView:
    """One message for its page: the stored row, its header lines and its body as text."""

    message: OutboxMessage
    headers: list[tuple[str, str]]
    body: str


def outbox_page(*, page: int = 1, per_page: int = PER_PAGE) -> Page[OutboxMessage]:
    """Newest first (by id: rows are only ever inserted); two statements."""
    total = int(db.session.scalar(select(func.count(OutboxMessage.id))) or 0)
    page = clamp_page(page, total, per_page)
    items = list(
        db.session.scalars(
            select(OutboxMessage)
            .order_by(OutboxMessage.id.desc())
            .offset(offset(page, per_page))
            .limit(per_page)
        )
    )
    return Page(items=items, total=total, page=page, per_page=per_page)


def outbox_message(outbox_message_id: int) -> OutboxView:
    message = db.session.get(OutboxMessage, outbox_message_id)
    if message is None:
        raise NotFoundError(f"No outbox message {outbox_message_id}.")
    parsed = message_from_string(message.raw, policy=policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else parsed.get_payload()
    return OutboxView(message=message, headers=list(parsed.items()), body=str(body))


def outbox_message_of(touchpoint_id: int) -> OutboxMessage | None:
    """The newest outbox copy of a touchpoint's email, if it went to the outbox."""
    return db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.touchpoint_id == touchpoint_id)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
