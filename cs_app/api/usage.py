"""Usage data over the API: bulk events and bulk metric values from the vendor's systems.

A batch is checked item by item by ``cs_app.accounts.ingest``: good items are stored even when
others are refused, and each refusal comes back with the item's index. The answer is 200 with
``{"accepted", "duplicates", "errors"}`` whenever the envelope is right; only a body that is not
a JSON object (400), a missing or non-list ``events``/``metrics`` or a batch over the limit
(422, nothing stored) is refused as a whole. Sending a batch again is harmless: its events
count as duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import jsonify

from cs_app.accounts.ingest import MAX_BATCH, BulkResult, ingest_events, ingest_metrics
from cs_app.api import responses, schemas
from cs_app.api.auth import api_user
from cs_app.api.parsing import parse_body
from cs_app.api.routing import api_route
from cs_app.auth.models import User
from cs_app.db_types import utcnow
from cs_app.errors import PermissionDenied, ValidationError
from cs_app.extensions import db

TAG = "Usage"
BULK_DESCRIPTION = (
    "Answers 200 with the counts of accepted and duplicate items and one error per refused "
    "item (by its index in the list); the good items are stored even when others are "
    f"refused. At most {MAX_BATCH} items per request: a longer list is refused as a whole "
    "with 422 and `error.fields.{{key}}`. Needs a lead or admin token (give the integration "
    "its own user)."
)


def require_integration(user: User) -> None:
    """Usage data comes from the vendor's systems, whose tokens belong to a lead or admin
    user; CSMs and viewers do not push it."""
    if not user.can_edit_everything:
        raise PermissionDenied(
            "Pushing usage data needs the token of a lead or admin user "
            "(create one for the integration)."
        )


def _ingest(key: str, items: Sequence[Any], ingest: Callable[..., BulkResult], what: str):
    if len(items) > MAX_BATCH:
        message = (
            f"A batch holds at most {MAX_BATCH} {what}; this one has {len(items)}. "
            f"Split it into several requests."
        )
        raise ValidationError(message, {key: message})
    result = ingest(items, now=utcnow())
    db.session.commit()
    return jsonify(result.as_dict())


@api_route(
    "/events",
    "POST",
    tag=TAG,
    summary="Push usage events in bulk",
    description="Idempotent on each event's `id`. " + BULK_DESCRIPTION.format(key="events"),
    request=schemas.EventBatch,
    response=responses.BulkResultOut,
)
def post_events():
    require_integration(api_user())
    body = parse_body(schemas.EventBatch)
    return _ingest("events", body.events, ingest_events, "events")


@api_route(
    "/metrics",
    "POST",
    tag=TAG,
    summary="Push daily metric values in bulk",
    description="One value per account, key and date: a new value replaces the "
    "stored one, the same value again is a duplicate. " + BULK_DESCRIPTION.format(key="metrics"),
    request=schemas.MetricBatch,
    response=responses.BulkResultOut,
)
def post_metrics():
    require_integration(api_user())
    body = parse_body(schemas.MetricBatch)
    return _ingest("metrics", body.metrics, ingest_metrics, "metric values")
