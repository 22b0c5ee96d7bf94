"""The account page, put together: the account, its contacts, stages and plans, the health
card and what the trigger rules did, with the forms a CSM edits there.

Its own module (not a views module) because the health override routes re-render the same page
with their form's errors, and no feature imports another feature's views.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from cs_app.accounts import queries, service
from cs_app.accounts.forms import AccountForm, ContactForm, NewPlanForm
from cs_app.accounts.models import (
    CONTACT_ROLES,
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    INFLUENCE_LEVELS,
    Account,
)
from cs_app.accounts.signal_format import reason_lines
from cs_app.auth.permissions import can_edit_account
from cs_app.db_types import utcnow
from cs_app.health.panel import account_health_context
from cs_app.plans.models import PLAN_STATUSES, PLAN_TYPES
from cs_app.triggers.account_activity import account_triggers

ACCOUNT_PREFIX = "account"
NEW_CONTACT_PREFIX = "new-contact"
PLAN_PREFIX = "plan"


def contact_prefix(contact_id: int) -> str:
    return f"contact-{contact_id}"


def _owner_choices(account: Account) -> list[tuple[int, str]]:
    """Active CSMs, leads and admins; an account's departed CSM stays listed so that saving
    other fields does not silently unassign the account."""
    choices = queries.csm_choices()
    if account.csm is not None and account.csm_id not in {i for i, _ in choices}:
        choices.append((account.csm_id, f"{account.csm.name} (inactive)"))
    return choices


def build_account_form(account: Account, *, submitted: bool) -> AccountForm:
    form = AccountForm(prefix=ACCOUNT_PREFIX, **({} if submitted else {"formdata": None}))
    form.set_csm_choices(_owner_choices(account))
    if not submitted:
        form.load(account)
    return form


def build_contact_form(contact=None, *, submitted: bool) -> ContactForm:
    prefix = contact_prefix(contact.id) if contact is not None else NEW_CONTACT_PREFIX
    form = ContactForm(prefix=prefix, **({} if submitted else {"formdata": None}))
    if contact is not None and not submitted:
        form.load(contact)
    return form


def build_plan_form(account: Account, *, submitted: bool) -> NewPlanForm:
    form = NewPlanForm(prefix=PLAN_PREFIX, **({} if submitted else {"formdata": None}))
    templates = queries.template_choices()
    form.set_choices(templates, queries.csm_choices())
    if not submitted:
        default_owner = account.csm_id
        if default_owner is None and current_user.role != "viewer":
            default_owner = current_user.id
        form.owner_id.data = str(default_owner) if default_owner else None
        # the template that fits the account's engagement model comes preselected
        fitting = [key for key, _, plan_type in templates if plan_type == account.engagement_model]
        form.template.data = fitting[0] if fitting else form.template.choices[0].value
    return form


def _automation_context(account: Account) -> dict:
    """What the trigger rules did for the account: firings (with readable reasons), queue
    items and touchpoints."""
    triggers = account_triggers(account.id)
    reasons = {
        firing.id: reason_lines(firing.matched, account.currency) for firing in triggers.firings
    }
    return {"triggers": triggers, "firing_reasons": reasons}


def render_account_page(
    account: Account,
    *,
    status: int = 200,
    account_form=None,
    contact_form=None,
    editing_contact_id: int | None = None,
    plan_form=None,
    override_form=None,
):
    can_edit = can_edit_account(current_user, account)
    # people who have left go last; the rest by name
    contacts = sorted(account.contacts, key=lambda c: (c.status == "departed", c.name.lower()))
    context = {
        "account": account,
        "can_edit": can_edit,
        "contacts": contacts,
        "stages": service.stage_history(account),
        "plans": queries.account_plans(account),
        "today": utcnow().date(),
        "contact_roles": CONTACT_ROLES,
        "influence_levels": INFLUENCE_LEVELS,
        "engagement_levels": ENGAGEMENT_LEVELS,
        "contact_statuses": CONTACT_STATUSES,
        "plan_types": PLAN_TYPES,
        "plan_statuses": PLAN_STATUSES,
        **account_health_context(account, can_edit=can_edit, override_form=override_form),
        **_automation_context(account),
    }
    if can_edit:
        context["account_form"] = account_form or build_account_form(account, submitted=False)
        context["new_contact_form"] = (
            contact_form
            if contact_form is not None and editing_contact_id is None
            else build_contact_form(submitted=False)
        )
        context["contact_forms"] = {
            contact.id: (
                contact_form
                if contact.id == editing_contact_id
                else build_contact_form(contact, submitted=False)
            )
            for contact in contacts
        }
        context["plan_form"] = plan_form or build_plan_form(account, submitted=False)
    return render_template("accounts/show.html", **context), status
