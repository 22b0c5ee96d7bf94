"""Plan template pages: everyone signed in reads them; CS leads and admins change them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from cs_app.auth.permissions import can_manage_templates
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.form_errors import EXPIRED, show_errors_above, shows_errors
from cs_app.plans import progress, template_service
from cs_app.plans import service as plan_service
from cs_app.plans.models import (
    LEVELS,
    PLAN_TYPES,
    REVIEW_CADENCES,
    RISK_CATEGORIES,
    PlanTemplate,
)
from cs_app.plans.template_service import COMPONENT_ORDER, ROW_FORMATS

bp = Blueprint("templates", __name__)

ROWS_LABELS = {
    "outcomes": "Outcomes",
    "milestones": "Milestones",
    "risks": "Risks",
    "actions": "Actions",
}


class TemplateForm(FlaskForm):
    key = StringField("Key")
    name = StringField("Name")
    plan_type = SelectField(
        "Plan type",
        validate_choice=False,
        choices=[SelectChoice(k, v) for k, v in PLAN_TYPES.items()],
    )
    review_cadence = SelectField(
        "Review cadence",
        validate_choice=False,
        choices=[SelectChoice(k, v) for k, v in REVIEW_CADENCES.items()],
    )
    description = TextAreaField("Description")
    outcomes = TextAreaField(ROWS_LABELS["outcomes"])
    milestones = TextAreaField(ROWS_LABELS["milestones"])
    risks = TextAreaField(ROWS_LABELS["risks"])
    actions = TextAreaField(ROWS_LABELS["actions"])


class DuplicateForm(FlaskForm):
    key = StringField("New key")
    name = StringField("Name of the copy")


def _require_manager() -> None:
    if not can_manage_templates(current_user):
        abort(403)


def _show_errors(form: FlaskForm, error: ValidationError) -> None:
    """The shared placement, then each bad line of a rows box as its own message."""
    show_errors_above(form, error)
    for name, problems in getattr(error, "messages", {}).items():
        if name in form and shows_errors(form[name]):
            form[name].errors = list(problems)


def _form_values(form: TemplateForm) -> dict[str, str]:
    names = ["name", "plan_type", "review_cadence", "description", *COMPONENT_ORDER]
    if "key" in form:
        names.append("key")
    return {name: form[name].data or "" for name in names}


def _render_form(form: TemplateForm, template: PlanTemplate | None, status: int = 200):
    return render_template(
        "plan_templates/form.html",
        form=form,
        template=template,
        formats=ROW_FORMATS,
        components=COMPONENT_ORDER,
        read_only_sections=_read_only_sections(template) if template else [],
    ), status


def _read_only_sections(template: PlanTemplate) -> list[str]:
    content = template.content or {}
    return [
        READ_ONLY_TITLES[name] for name in template_service.READ_ONLY_CONTENT if content.get(name)
    ]


FIELD_LABELS = {
    "name": "name",
    "plan_type": "plan type",
    "review_cadence": "review cadence",
    "description": "description",
    "content": "rows",
    "built_in": "built-in",
}
READ_ONLY_TITLES = {
    "review_meetings": "review meetings",
    "journey_triggers": "automated journey triggers",
    "human_touchpoints": "human touchpoints",
    "self_service_resources": "self-service resources",
}


@bp.route("/templates")
@login_required
def index():
    return render_template(
        "plan_templates/index.html",
        summaries=template_service.list_templates(),
        can_manage=can_manage_templates(current_user),
        plan_types=PLAN_TYPES,
        cadences=REVIEW_CADENCES,
    )


def _render_show(template: PlanTemplate, duplicate_form: DuplicateForm, status: int = 200):
    content = template.content or {}
    milestones = sorted(
        content.get("milestones") or [], key=lambda row: row.get("target_offset_days") or 0
    )
    return render_template(
        "plan_templates/show.html",
        template=template,
        content=content,
        milestones=milestones,
        counts=template_service.row_counts(template),
        updated_by_name=template_service.updated_by_name(template),
        history=template_service.template_history(template),
        field_labels=FIELD_LABELS,
        can_manage=can_manage_templates(current_user),
        duplicate_form=duplicate_form,
        plan_types=PLAN_TYPES,
        cadences=REVIEW_CADENCES,
        risk_categories=RISK_CATEGORIES,
        levels=LEVELS,
        severity=progress.risk_severity,
        lower_is_better=progress.lower_is_better,
    ), status


@bp.route("/templates/<key>")
@login_required
def show(key: str):
    template = plan_service.get_template(key)
    return _render_show(template, DuplicateForm(formdata=None, name=f"{template.name} (copy)"))


@bp.route("/templates/new", methods=["GET", "POST"])
@login_required
def new():
    _require_manager()
    form = TemplateForm()
    if form.validate_on_submit():
        try:
            template = template_service.create_template(
                _form_values(form), user=current_user, now=utcnow()
            )
        except ValidationError as error:
            db.session.rollback()
            _show_errors(form, error)
            form.form_errors.insert(
                0, error.message + " Fix the marked fields; nothing you typed was lost."
            )
            return _render_form(form, None, 422)
        db.session.commit()
        flash(f"Template “{template.name}” created.", "success")
        return redirect(url_for("templates.show", key=template.key))
    if form.is_submitted():
        form.form_errors.append(EXPIRED)
        return _render_form(form, None, 400)
    return _render_form(form, None)


@bp.route("/templates/<key>/edit", methods=["GET", "POST"])
@login_required
def edit(key: str):
    _require_manager()
    template = plan_service.get_template(key)
    if request.method == "GET":
        form = TemplateForm(formdata=None, obj=template, **template_service.editor_text(template))
    else:
        form = TemplateForm()
    del form.key  # the key is fixed once the template exists
    if form.validate_on_submit():
        try:
            template_service.update_template(
                template, _form_values(form), user=current_user, now=utcnow()
            )
        except ValidationError as error:
            db.session.rollback()
            _show_errors(form, error)
            form.form_errors.insert(
                0, error.message + " Fix the marked fields; nothing you typed was lost."
            )
            return _render_form(form, template, 422)
        db.session.commit()
        flash(f"Template “{template.name}” saved.", "success")
        return redirect(url_for("templates.show", key=template.key))
    if form.is_submitted():
        form.form_errors.append(EXPIRED)
        return _render_form(form, template, 400)
    return _render_form(form, template)


@bp.route("/templates/<key>/duplicate", methods=["POST"])
@login_required
def duplicate(key: str):
    _require_manager()
    template = plan_service.get_template(key)
    form = DuplicateForm()
    if not form.validate_on_submit():
        form.form_errors.append(EXPIRED)
        return _render_show(template, form, 400)
    try:
        copy_ = template_service.duplicate_template(
            template,
            {"key": form.key.data, "name": form.name.data},
            user=current_user,
            now=utcnow(),
        )
    except ValidationError as error:
        db.session.rollback()
        _show_errors(form, error)
        return _render_show(template, form, 422)
    db.session.commit()
    flash(f"“{template.name}” copied to “{copy_.name}”. Change the copy below.", "success")
    return redirect(url_for("templates.edit", key=copy_.key))


@bp.route("/templates/<key>/delete", methods=["POST"])
@login_required
def delete(key: str):
    _require_manager()
    template = plan_service.get_template(key)
    try:
        template_service.delete_template(template, user=current_user, now=utcnow())
    except ValidationError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("templates.show", key=key))
    name = template.name
    db.session.commit()
    flash(f"Template “{name}” deleted. Plans made from it keep their rows.", "success")
    return redirect(url_for("templates.index"))
