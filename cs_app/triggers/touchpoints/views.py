"""Browser pages for touchpoints (scheduled, sent, failed, dead), touchpoint templates and
the development outbox (admins only: the emails kept while no SMTP host is configured).

Everyone signed in reads both. The account's CSM, leads and admins retry or cancel a
touchpoint; leads and admins write templates. The template editor previews subject and body
against an account chosen from a list, with refusals (syntax errors, sandbox violations) beside
the field and the typed text kept.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from cs_app.accounts.models import Account
from cs_app.audit import service as audit
from cs_app.auth.permissions import (
    can_edit_account,
    can_manage_templates,
    can_read_outbox,
    permission_required,
)
from cs_app.db_types import utcnow
from cs_app.errors import ConflictError, ValidationError
from cs_app.extensions import db
from cs_app.form_errors import EXPIRED, show_errors, show_errors_above
from cs_app.request_args import page_number, safe_next
from cs_app.triggers.touchpoints import outbox as outbox_service
from cs_app.triggers.touchpoints import service
from cs_app.triggers.touchpoints import templates as templates_service
from cs_app.triggers.touchpoints.forms import (
    CHANNEL_HINTS,
    TouchpointTemplateForm,
    list_filters,
    preview_choices,
)
from cs_app.triggers.touchpoints.models import (
    CHANNELS,
    TOUCHPOINT_STATUSES,
    TouchpointTemplate,
)
from cs_app.triggers.touchpoints.retry import MAX_ATTEMPTS
from cs_app.triggers.touchpoints.sandbox import TemplateProblem

bp = Blueprint("touchpoints", __name__)

NOT_SAVED = "The template was not saved: fix the marked fields; what you typed is kept."
PAGE_CONTEXT = {
    "channels": CHANNELS,
    "statuses": TOUCHPOINT_STATUSES,
    "recipients": service.RECIPIENT_LABELS,
    "max_attempts": MAX_ATTEMPTS,
}


@bp.before_request
@login_required
def require_sign_in() -> None:
    """Every touchpoint page needs a signed-in user."""


# --- touchpoints ----------------------------------------------------------------------------


@bp.route("/touchpoints")
def index():
    filters = list_filters(request.args)
    page = service.touchpoint_page(filters, page=page_number(request.args), with_counts=True)
    actionable = {tp.id for tp in page.items if can_edit_account(current_user, tp.account)}
    return render_template(
        "touchpoints/index.html",
        page=page,
        filters=filters,
        actionable=actionable,
        now=utcnow(),
        **PAGE_CONTEXT,
    )


@bp.route("/touchpoints/<int:touchpoint_id>")
def show(touchpoint_id: int):
    touchpoint = service.get_touchpoint(touchpoint_id)
    now = utcnow()
    rendered, problem = None, None
    if touchpoint.status == "sent" or (touchpoint.subject and touchpoint.template_id is None):
        rendered = (touchpoint.subject, touchpoint.body)
    else:
        [outgoing] = service.load_outgoing([touchpoint.id], today=now.date())
        try:
            message = service.render_outgoing(outgoing)
            rendered = (message.subject, message.body)
        except TemplateProblem as error:
            problem = error.message
    return render_template(
        "touchpoints/show.html",
        touchpoint=touchpoint,
        rendered=rendered,
        problem=problem,
        history=audit.events_for("touchpoint", touchpoint.id),
        now=now,
        can_act=can_edit_account(current_user, touchpoint.account),
        outbox_copy=outbox_service.outbox_message_of(touchpoint.id)
        if touchpoint.status == "sent"
        else None,
        can_read_outbox=can_read_outbox(current_user),
        **PAGE_CONTEXT,
    )


def _act(touchpoint_id: int, action, done: str):
    touchpoint = service.get_touchpoint(touchpoint_id)
    if not can_edit_account(current_user, touchpoint.account):
        abort(403)
    back = safe_next(request.form.get("next")) or url_for(
        "touchpoints.show", touchpoint_id=touchpoint.id
    )
    try:
        action(touchpoint, user=current_user, now=utcnow())
    except (ConflictError, ValidationError) as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(
        done.format(
            who=touchpoint.recipient_name or touchpoint.recipient_email or "nobody",
            account=touchpoint.account.name,
        ),
        "success",
    )
    return redirect(back)


@bp.route("/touchpoints/<int:touchpoint_id>/retry", methods=["POST"])
def retry(touchpoint_id: int):
    return _act(
        touchpoint_id,
        service.retry_touchpoint,
        "The touchpoint to {who} at {account} will be sent again within a minute.",
    )


@bp.route("/touchpoints/<int:touchpoint_id>/cancel", methods=["POST"])
def cancel(touchpoint_id: int):
    return _act(
        touchpoint_id,
        service.cancel_touchpoint,
        "The touchpoint to {who} at {account} is cancelled; it will not be sent.",
    )


# --- templates ------------------------------------------------------------------------------


@bp.route("/touchpoint-templates")
def templates_index():
    return render_template(
        "touchpoints/templates.html",
        summaries=templates_service.list_templates(),
        can_manage=can_manage_templates(current_user),
        **PAGE_CONTEXT,
    )


def _chosen_account(values, choices: list) -> tuple[Account | None, str | None]:
    """The account to preview with, from the editor's form or the page's arguments."""
    return templates_service.preview_account(
        values.get("preview_external_id") or "",
        values.get("preview_account") or "",
        choices[0][0] if choices else None,
    )


def _preview(form: TouchpointTemplateForm, choices: list):
    """Render the typed subject and body for the chosen account: (message, status)."""
    account, problem = _chosen_account(request.form, choices)
    if account is None:
        form.preview_external_id.errors = [problem]
        return None, 422
    form.preview_account.data = str(account.id)
    try:
        message = templates_service.preview(
            form.subject.data or "", form.body.data or "", account, now=utcnow()
        )
    except ValidationError as error:
        show_errors_above(form, error)
        return None, 422
    return {"account": account, "subject": message.subject, "body": message.body}, 200


def _render_editor(form, template, preview, accounts, status=200):
    choices, total = accounts
    form.preview_account.choices = preview_choices(choices)
    return render_template(
        "touchpoints/template_form.html",
        form=form,
        template=template,
        preview=preview,
        more_accounts=max(total - len(choices), 0),
        channel_hints=CHANNEL_HINTS,
        rules=templates_service.rules_sending(template.key) if template else [],
        **PAGE_CONTEXT,
    ), status


def _editor(template: TouchpointTemplate | None):
    if not can_manage_templates(current_user):
        abort(403)
    if request.method == "GET":
        form = TouchpointTemplateForm(formdata=None, obj=template)
        if template is None:
            form.channel.data = "email"
    else:
        form = TouchpointTemplateForm()
    if template is not None:
        del form.key  # the key is how rules name the template: fixed once it exists
        if request.method == "GET":
            form.version.data = str(template.version)
    accounts = templates_service.preview_accounts()
    if request.method == "GET":
        return _render_editor(form, template, None, accounts)
    if not form.validate_on_submit():
        form.form_errors.append(EXPIRED)
        return _render_editor(form, template, None, accounts, 400)
    if request.form.get("action") == "preview":
        preview, status = _preview(form, accounts[0])
        return _render_editor(form, template, preview, accounts, status)
    try:
        if template is None:
            template = templates_service.create_template(
                form.values(), user=current_user, now=utcnow()
            )
            done = "created"
        else:
            templates_service.update_template(
                template,
                form.values(),
                user=current_user,
                now=utcnow(),
                version=form.version_read(),
            )
            done = "saved"
    except (ValidationError, ConflictError) as error:
        db.session.rollback()
        summary = error.message if isinstance(error, ConflictError) else NOT_SAVED
        general = show_errors(form, error)
        form.form_errors = [summary, *(message for message in general if message != summary)]
        return _render_editor(form, template, None, accounts, error.status)
    db.session.commit()
    flash(f"Template “{template.name}” {done}.", "success")
    return redirect(url_for("touchpoints.template_show", tp_template_id=template.id))


@bp.route("/touchpoint-templates/new", methods=["GET", "POST"])
def template_new():
    return _editor(None)


@bp.route("/touchpoint-templates/<int:tp_template_id>/edit", methods=["GET", "POST"])
def template_edit(tp_template_id: int):
    return _editor(templates_service.get_template(tp_template_id))


@bp.route("/touchpoint-templates/<int:tp_template_id>")
def template_show(tp_template_id: int):
    template = templates_service.get_template(tp_template_id)
    choices, total = templates_service.preview_accounts()
    account, problem = _chosen_account(request.args, choices)
    preview, preview_error = None, problem
    if account is not None:
        try:
            preview = templates_service.preview(
                template.subject, template.body, account, now=utcnow()
            )
        except ValidationError as error:
            preview_error = " ".join(error.fields.values()) or error.message
    return render_template(
        "touchpoints/template_show.html",
        template=template,
        account=account,
        preview=preview,
        preview_error=preview_error,
        choices=preview_choices(choices),
        typed_external_id=request.args.get("preview_external_id", ""),
        more_accounts=max(total - len(choices), 0),
        rules=templates_service.rules_sending(template.key),
        history=audit.events_for("touchpoint_template", template.id),
        can_manage=can_manage_templates(current_user),
        **PAGE_CONTEXT,
    )


# --- the development outbox -----------------------------------------------------------------


@bp.route("/admin/outbox")
@permission_required(can_read_outbox)
def outbox():
    return render_template(
        "touchpoints/outbox.html", page=outbox_service.outbox_page(page=page_number(request.args))
    )


@bp.route("/admin/outbox/<int:outbox_message_id>")
@permission_required(can_read_outbox)
def outbox_message(outbox_message_id: int):
    return render_template(
        "touchpoints/outbox_message.html", view=outbox_service.outbox_message(outbox_message_id)
    )
