"""Who may do what. One place, so pages, the API and tests agree.

viewers read; CSMs edit the accounts and plans they own; leads and admins edit everything;
only admins manage users.
"""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user


def can_edit_account(user, account) -> bool:
    if user.role in ("admin", "lead"):
        return True
    return user.role == "csm" and account.csm_id == user.id


def can_edit_plan(user, plan) -> bool:
    if user.role in ("admin", "lead"):
        return True
    return user.role == "csm" and (plan.account.csm_id == user.id or plan.owner_id == user.id)


def can_manage_templates(user) -> bool:
    return user.role in ("admin", "lead")


def can_manage_users(user) -> bool:
    return user.role == "admin"


def roles_required(*roles: str):
    """Page decorator: 403 unless the signed-in user has one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
