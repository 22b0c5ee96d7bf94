"""Who may do what. One place, so pages, the API and tests agree.

viewers read; CSMs edit the accounts and plans they own; leads and admins edit everything
(scorecards, pools, rules, plan templates) and see the job runs; only admins manage users and
run a job by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

LEAD_ROLES = ("admin", "lead")


def can_lead(user) -> bool:
    """Leads and admins: they edit everything, whoever owns it."""
    return user.role in LEAD_ROLES


def can_edit_account(user, account) -> bool:
    if can_lead(user):
        return True
    return user.role == "csm" and account.csm_id == user.id


def can_edit_plan(user, plan) -> bool:
    if can_lead(user):
        return True
    return user.role == "csm" and (plan.account.csm_id == user.id or plan.owner_id == user.id)


def can_manage_templates(user) -> bool:
    return can_lead(user)


def can_manage_users(user) -> bool:
    return user.role == "admin"


def can_run_jobs(user) -> bool:
    """Running a job by hand, outside its schedule."""
    return user.role == "admin"


def require(allowed: bool) -> None:
    """Stop the page with 403 unless ``allowed``: ``require(can_lead(current_user))``."""
    if not allowed:
        abort(403)


def permission_required(permission: Callable[..., bool]):
    """Page decorator: 403 unless ``permission(current_user)``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            require(permission(current_user))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def can_read_outbox(user) -> bool:
    """The development outbox holds every email's full text: admins only."""
    return user.role == "admin"
