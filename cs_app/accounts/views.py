"""Account pages: the searchable list, the account page with its contacts and plans, and the
forms that change them."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from cs_app.accounts import queries, service
from cs_app.accounts.forms import AccountForm, ContactForm, NewPlanForm
from cs_app.accounts.models import (
    CONTACT_ROLES,
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    ENGAGEMENT_MODELS,
    INFLUENCE_LEVELS,
    LIFECYCLE_STAGES,
    SEGMENTS,
    Account,
)
from cs_app.auth.permissions import can_edit_account
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.health.scoring import BAND_LABELS, BANDS
from cs_app.health.views import account_health_context
from cs_app.plans.models import PLAN_STATUSES, PLAN_TYPES

bp = Blueprint("accounts", __name__)

ACCOUNT_PREFIX = "account"
NEW_CONTACT_PREFIX = "new-contact"
PLAN_PREFIX = "plan"


def contact_prefix(contact_id: int) -> str:
    return f"contact-{contact_id}"


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every account page needs a signed-in user."""


@bp.route("/accounts")
def index():
    filters = queries.AccountFilters.from_args(request.args)
    page = queries.list_accounts(filters, per_page=current_app.config["ACCOUNTS_PER_PAGE"])
    return render_template(
        "accounts/index.html",
        page=page,
        filters=filters,
        csm_options=queries.csm_filter_choices(),
        segments=SEGMENTS,
        stages=LIFECYCLE_STAGES,
        engagement_models=ENGAGEMENT_MODELS,
        unassigned=queries.UNASSIGNED,
        bands=BANDS,
        not_scored=queries.NOT_SCORED,
        band_labels=BAND_LABELS,
    )


def _editable_account(external_id: str) -> Account:
    account = service.get_account(external_id)
    if not can_edit_account(current_user, account):
        abort(403)
    return account


def _owner_choices(account: Account) -> list[tuple[int, str]]:
    """Active CSMs, leads and admins; an account's departed CSM stays listed so that saving
    other fields does not silently unassign the account."""
    choices = queries.csm_choices()
    if account.csm is not None and account.csm_id not in {i for i, _ in choices}:
        choices.append((account.csm_id, f"{account.csm.name} (inactive)"))
    return choices


def _account_form(account: Account, *, submitted: bool) -> AccountForm:
    form = AccountForm(prefix=ACCOUNT_PREFIX, **({} if submitted else {"formdata": None}))
    form.set_csm_choices(_owner_choices(account))
    if not submitted:
        form.load(account)
    return form


def _contact_form(contact=None, *, submitted: bool) -> ContactForm:
    prefix = contact_prefix(contact.id) if contact is not None else NEW_CONTACT_PREFIX
    form = ContactForm(prefix=prefix, **({} if submitted else {"formdata": None}))
    if contact is not None and not submitted:
        form.load(contact)
    return form


def _plan_form(account: Account, *, submitted: bool) -> NewPlanForm:
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


def _show_errors(form, error: ValidationError, aliases: dict[str, str] | None = None) -> None:
    """Put the service's messages next to the fields they are about."""
    aliases = aliases or {}
    general = []
    for name, message in error.fields.items():
        name = aliases.get(name, name)
        if name in form._fields:
            form[name].errors = [*form[name].errors, message]
        else:
            general.append(message)
    if general or not error.fields:
        form.form_errors = [*form.form_errors, *(general or [error.message])]


def _automation_context(account: Account) -> dict:
    """What the trigger rules did for the account: firings (with readable reasons), queue
    items and touchpoints."""
    from cs_app.triggers.account_activity import account_triggers
    from cs_app.triggers.pools.views import reason_lines

    triggers = account_triggers(account.id)
    reasons = {
        firing.id: reason_lines(firing.matched, account.currency) for firing in triggers.firings
    }
    return {"triggers": triggers, "firing_reasons": reasons}


def _render_show(
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
        context["account_form"] = account_form or _account_form(account, submitted=False)
        context["new_contact_form"] = (
            contact_form
            if contact_form is not None and editing_contact_id is None
            else _contact_form(submitted=False)
        )
        context["contact_forms"] = {
            contact.id: (
                contact_form
                if contact.id == editing_contact_id
                else _contact_form(contact, submitted=False)
            )
            for contact in contacts
        }
        context["plan_form"] = plan_form or _plan_form(account, submitted=False)
    return render_template("accounts/show.html", **context), status


@bp.route("/accounts/<external_id>")
def show(external_id: str):
    return _render_show(service.get_account(external_id))


@bp.route("/accounts/<external_id>/edit", methods=["POST"])
def update(external_id: str):
    account = _editable_account(external_id)
    form = _account_form(account, submitted=True)
    if form.validate_on_submit():
        try:
            service.update_account(account, form.values(), user=current_user, now=utcnow())
        except ValidationError as error:
            db.session.rollback()
            _show_errors(form, error, {"arr_minor": "arr"})
        else:
            db.session.commit()
            flash(f"Saved {account.name}.", "success")
            return redirect(url_for("accounts.show", external_id=account.external_id))
    return _render_show(account, status=422, account_form=form)


@bp.route("/accounts/<external_id>/contacts", methods=["POST"])
def add_contact(external_id: str):
    account = _editable_account(external_id)
    form = _contact_form(submitted=True)
    if form.validate_on_submit():
        try:
            contact = service.add_contact(account, form.values(), user=current_user, now=utcnow())
        except ValidationError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"Added {contact.name} to the contacts.", "success")
            return redirect(
                url_for("accounts.show", external_id=account.external_id, _anchor="contacts")
            )
    return _render_show(account, status=422, contact_form=form)


@bp.route("/accounts/<external_id>/contacts/<int:contact_id>", methods=["POST"])
def update_contact(external_id: str, contact_id: int):
    account = _editable_account(external_id)
    contact = service.get_contact(account, contact_id)
    form = _contact_form(contact, submitted=True)
    if form.validate_on_submit():
        try:
            service.update_contact(contact, form.values(), user=current_user, now=utcnow())
        except ValidationError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"Saved {contact.name}.", "success")
            return redirect(
                url_for("accounts.show", external_id=account.external_id, _anchor="contacts")
            )
    return _render_show(account, status=422, contact_form=form, editing_contact_id=contact_id)


@bp.route("/accounts/<external_id>/plans", methods=["POST"])
def create_plan(external_id: str):
    account = _editable_account(external_id)
    form = _plan_form(account, submitted=True)
    if form.validate_on_submit():
        try:
            plan = service.create_plan_for_account(
                account, form.template.data, form.values(), user=current_user, now=utcnow()
            )
        except ValidationError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(f"Created the plan “{plan.title}”.", "success")
            return redirect(url_for("plans.show", plan_id=plan.id))
    return _render_show(account, status=422, plan_form=form)
