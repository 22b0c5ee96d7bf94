"""Bearer-token authentication and the role checks of the API.

Every API route needs ``Authorization: Bearer <token>`` unless it is documented as public (only
the OpenAPI document is). The check runs before every request of the blueprint, so a new route
is protected without anyone remembering a decorator. Roles follow ``cs_app.auth.permissions``:
viewers read, CSMs change the accounts and plans they own, leads and admins change everything.
"""

from __future__ import annotations

import logging

from flask import g, request
from sqlalchemy.exc import OperationalError

from cs_app.accounts.models import Account
from cs_app.api.blueprint import bp
from cs_app.api.errors import Unauthorized
from cs_app.api.routing import operation_for
from cs_app.auth.models import User
from cs_app.auth.permissions import can_edit_account, can_edit_plan
from cs_app.auth.service import live_token, record_token_use, token_use_is_stale
from cs_app.db_types import utcnow
from cs_app.errors import PermissionDenied
from cs_app.extensions import db
from cs_app.plans.models import Plan

log = logging.getLogger(__name__)


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


@bp.before_request
def authenticate() -> None:
    operation = operation_for(request.endpoint)
    if operation is not None and operation.public:
        return
    token = bearer_token()
    if token is None:
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    now = utcnow()
    record = live_token(token)
    if record is None:
        raise Unauthorized(
            "The API token is unknown, revoked, or its user is deactivated.", invalid_token=True
        )
    if token_use_is_stale(record, now=now):
        _record_use_outside_the_request(record.id, now)
    g.api_user = record.user


def _record_use_outside_the_request(token_id: int, now) -> None:
    """Write the token's last-used time in a transaction of its own, before the request's
    work begins; if the database refuses (busy), the request goes on without it."""
    try:
        db.session.commit()  # end the read, so the update starts its own short transaction
        record_token_use(token_id, now=now)
        db.session.commit()
    except OperationalError:
        db.session.rollback()
        log.warning("could not record the use of API token %s", token_id, exc_info=True)


def api_user() -> User:
    return g.api_user


def require_writer(user: User) -> None:
    if user.role == "viewer":
        raise PermissionDenied(
            "Viewers have read-only access; this change needs a CSM, lead or admin token."
        )


def require_lead(user: User, message: str) -> None:
    require_writer(user)
    if not user.can_edit_everything:
        raise PermissionDenied(message)


def require_account_editor(user: User, account: Account) -> None:
    require_writer(user)
    if not can_edit_account(user, account):
        raise PermissionDenied(
            f"Only the account's CSM, a lead or an admin may change {account.name}."
        )


def require_plan_editor(user: User, plan: Plan) -> None:
    require_writer(user)
    if not can_edit_plan(user, plan):
        raise PermissionDenied(
            "Only the plan's owner, the account's CSM, a lead or an admin may change this plan."
        )
