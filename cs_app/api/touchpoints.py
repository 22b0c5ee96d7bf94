"""Touchpoints over the API: list (filters account, status, channel; paged), read one, and
retry or cancel one.

Everyone with a token reads. Retrying a failed or dead touchpoint and cancelling one that has
not been sent are for the account's CSM, leads and admins, the same people as in the browser
(the dead-touchpoint alert goes to the CSM, who must be able to act on it); a touchpoint that
is being sent at that moment, or is in the wrong state, answers 409 and nothing changes.

The answer shapes live here, beside the only routes that use them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import jsonify
from pydantic import Field

from cs_app.api import schemas
from cs_app.api.auth import api_user, require_account_editor
from cs_app.api.parsing import parse_query
from cs_app.api.responses import AccountRef, Out
from cs_app.api.routing import api_route
from cs_app.api.serializers import moment
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.touchpoints import service
from cs_app.triggers.touchpoints.models import CHANNELS, TOUCHPOINT_STATUSES, Touchpoint

TAG = "Touchpoints"

Channel = Literal[tuple(CHANNELS)]
Status = Literal[tuple(TOUCHPOINT_STATUSES)]
RecipientKind = Literal[tuple(service.RECIPIENT_LABELS)]


class TouchpointListQuery(schemas.Query):
    account: str | None = Field(
        default=None, max_length=100, description="The account's external ID."
    )
    status: Status | None = None
    channel: Channel | None = None
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=50, ge=1, le=200)


class TouchpointTemplateRef(Out):
    key: str
    name: str


class TouchpointRecipientOut(Out):
    kind: RecipientKind = Field(
        description="primary_contact, executive_sponsor, owning_csm, "
        "pool_assignee, or plan_owner (review reminders)."
    )
    email: str | None
    name: str | None


class TouchpointOut(Out):
    id: int
    account: AccountRef
    channel: Channel
    template: TouchpointTemplateRef | None = Field(
        description="Null for a message written "
        "when it was scheduled (a review "
        "reminder) or whose template was "
        "deleted."
    )
    recipient: TouchpointRecipientOut
    due_at: datetime
    next_attempt_at: datetime = Field(description="When delivery tries it next (scheduled ones).")
    status: Status
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    message_id: str = Field(
        description="Made once when scheduled; every send and re-send "
        "carries it (the email's Message-ID, the webhook's "
        "X-CS-App-Delivery), so a receiver can drop a "
        "duplicate."
    )
    subject: str | None = Field(
        description="The text as sent (null before it is sent, unless "
        "it was written when scheduled)."
    )
    body: str | None


class TouchpointPage(Out):
    items: list[TouchpointOut]
    page: int
    per_page: int
    total: int


def serialize(touchpoint: Touchpoint) -> dict[str, Any]:
    template = touchpoint.template
    return {
        "id": touchpoint.id,
        "account": {"external_id": touchpoint.account.external_id, "name": touchpoint.account.name},
        "channel": touchpoint.channel,
        "template": {"key": template.key, "name": template.name} if template else None,
        "recipient": {
            "kind": touchpoint.recipient_kind,
            "email": touchpoint.recipient_email,
            "name": touchpoint.recipient_name,
        },
        "due_at": moment(touchpoint.due_at),
        "next_attempt_at": moment(touchpoint.next_attempt_at),
        "status": touchpoint.status,
        "attempts": touchpoint.attempts,
        "last_error": touchpoint.last_error,
        "sent_at": moment(touchpoint.sent_at),
        "message_id": touchpoint.message_id,
        "subject": touchpoint.subject,
        "body": touchpoint.body,
    }


@api_route(
    "/touchpoints",
    "GET",
    tag=TAG,
    summary="List touchpoints",
    description="Newest due first. `account` is an external ID; with `status=dead` or "
    "`status=failed` this is the list of messages that need a person.",
    query=TouchpointListQuery,
    response=TouchpointPage,
)
def list_touchpoints():
    query = parse_query(TouchpointListQuery)
    filters = service.TouchpointFilters(
        status=query.status or "",
        channel=query.channel or "",
        account=query.account or "",
        exact_account=True,
    )
    page = service.touchpoint_page(filters, page=query.page, per_page=query.per_page)
    return jsonify(
        {
            "items": [serialize(t) for t in page.items],
            "page": query.page,
            "per_page": query.per_page,
            "total": page.total,
        }
    )


@api_route(
    "/touchpoints/<int:touchpoint_id>",
    "GET",
    tag=TAG,
    summary="Read a touchpoint",
    response=TouchpointOut,
)
def get_touchpoint(touchpoint_id: int):
    return jsonify(serialize(service.get_touchpoint(touchpoint_id)))


def _act(touchpoint_id: int, action) -> Any:
    user = api_user()
    touchpoint = service.get_touchpoint(touchpoint_id)
    require_account_editor(user, touchpoint.account)
    action(touchpoint, user=user, now=utcnow())
    db.session.commit()
    return jsonify(serialize(touchpoint))


@api_route(
    "/touchpoints/<int:touchpoint_id>/retry",
    "POST",
    tag=TAG,
    summary="Retry a failed or dead touchpoint now",
    description="It is scheduled again at once with its attempts kept (so one more "
    "failure makes a dead one dead again) and the same Message-ID. 409 for "
    "a touchpoint that is not failed or dead. For the account's CSM, leads "
    "and admins.",
    response=TouchpointOut,
    conflict=True,
)
def retry_touchpoint(touchpoint_id: int):
    return _act(touchpoint_id, service.retry_touchpoint)


@api_route(
    "/touchpoints/<int:touchpoint_id>/cancel",
    "POST",
    tag=TAG,
    summary="Cancel a touchpoint that has not been sent",
    description="Scheduled, failed or dead touchpoints become cancelled and are never "
    "sent. 409 for one already sent or cancelled, or being sent at this "
    "moment. For the account's CSM, leads and admins.",
    response=TouchpointOut,
    conflict=True,
)
def cancel_touchpoint(touchpoint_id: int):
    return _act(touchpoint_id, service.cancel_touchpoint)
