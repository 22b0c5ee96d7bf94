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
from cs_app.accounts.models import (
    ENGAGEMENT_MODELS,
    LIFECYCLE_STAGES,
    SEGMENTS,
    Account,
)
from cs_app.accounts.page import (
    build_account_form,
    build_contact_form,
    build_plan_form,
    render_account_page,
)
from cs_app.auth.permissions import can_edit_account
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.form_errors import show_errors_above
from cs_app.health.scoring import BAND_LABELS, BANDS

bp = Blueprint("accounts", __name__)


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


@bp.route("/accounts/<external_id>")
def show(external_id: str):
    return render_account_page(service.get_account(external_id))


@bp.route("/accounts/<external_id>/edit", methods=["POST"])
def update(external_id: str):
    account = _editable_account(external_id)
    form = build_account_form(account, submitted=True)
    if form.validate_on_submit():
        try:
            service.update_account(account, form.values(), user=current_user, now=utcnow())
        except ValidationError as error:
            db.session.rollback()
            show_errors_above(form, error, {"arr_minor": "arr"})
        else:
            db.session.commit()
            flash(f"Saved {account.name}.", "success")
            return redirect(url_for("accounts.show", external_id=account.external_id))
    return render_account_page(account, status=422, account_form=form)


@bp.route("/accounts/<external_id>/contacts", methods=["POST"])
def add_contact(external_id: str):
    account = _editable_account(external_id)
    form = build_contact_form(submitted=True)
    if form.validate_on_submit():
        try:
            contact = service.add_contact(account, form.values(), user=current_user, now=utcnow())
        except ValidationError as error:
            db.session.rollback()
            show_errors_above(form, error)
        else:
            db.session.commit()
            flash(f"Added {contact.name} to the contacts.", "success")
            return redirect(
                url_for("accounts.show", external_id=account.external_id, _anchor="contacts")
            )
    return render_account_page(account, status=422, contact_form=form)


@bp.route("/accounts/<external_id>/contacts/<int:contact_id>", methods=["POST"])
def update_contact(external_id: str, contact_id: int):
    account = _editable_account(external_id)
    contact = service.get_contact(account, contact_id)
    form = build_contact_form(contact, submitted=True)
    if form.validate_on_submit():
        try:
            service.update_contact(contact, form.values(), user=current_user, now=utcnow())
        except ValidationError as error:
            db.session.rollback()
            show_errors_above(form, error)
        else:
            db.session.commit()
            flash(f"Saved {contact.name}.", "success")
            return redirect(
                url_for("accounts.show", external_id=account.external_id, _anchor="contacts")
            )
    return render_account_page(
        account, status=422, contact_form=form, editing_contact_id=contact_id
    )


@bp.route("/accounts/<external_id>/plans", methods=["POST"])
def create_plan(external_id: str):
    account = _editable_account(external_id)
    form = build_plan_form(account, submitted=True)
    if form.validate_on_submit():
        try:
            plan = service.create_plan_for_account(
                account, form.template.data, form.values(), user=current_user, now=utcnow()
            )
        except ValidationError as error:
            db.session.rollback()
            show_errors_above(form, error)
        else:
            db.session.commit()
            flash(f"Created the plan “{plan.title}”.", "success")
            return redirect(url_for("plans.show", plan_id=plan.id))
    return render_account_page(account, status=422, plan_form=form)
