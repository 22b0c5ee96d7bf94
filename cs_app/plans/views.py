"""Success-plan pages: the list of plans, one plan on one page, its history, and the forms
that change a plan and its seven components.

Each POST route parses one form, calls one service function, commits once and redirects to
the plan section it changed. A refused form re-renders the whole plan page with that form open,
the typed values kept and the message next to the field (422), or with the conflict message and
the saved values beside the typed ones when someone else saved first (409).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

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
from sqlalchemy.orm.exc import StaleDataError
from wtforms import SelectField

from cs_app.accounts.models import (
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    INFLUENCE_LEVELS,
)
from cs_app.auth.models import User
from cs_app.auth.permissions import can_edit_plan
from cs_app.db_types import utcnow
from cs_app.errors import ConflictError, NotFoundError, ValidationError
from cs_app.extensions import db
from cs_app.form_errors import show_errors_above
from cs_app.plans import forms, progress, queries, rendering, service
from cs_app.plans.models import (
    ACTION_STATUSES,
    LEVELS,
    MILESTONE_PHASES,
    MILESTONE_STATUSES,
    OUTCOME_STATUSES,
    PLAN_STATUSES,
    PLAN_TYPES,
    REVIEW_CADENCES,
    RISK_CATEGORIES,
    RISK_STATUSES,
    STAKEHOLDER_ROLES,
    Plan,
)

bp = Blueprint("plans", __name__)

COMPONENT_RULE = "any(outcomes, milestones, stakeholders, risks, actions, reviews)"
PLAN_PAGE_HISTORY = 50
FULL_HISTORY_LIMIT = 1000
STALE_MESSAGE = (
    "Someone else saved this at the same moment. Your changes were not saved; they are kept "
    "below so you can compare with the current version and save again."
)

LABELS = SimpleNamespace(
    plan_types=PLAN_TYPES,
    plan_statuses=PLAN_STATUSES,
    cadences=REVIEW_CADENCES,
    outcome_statuses=OUTCOME_STATUSES,
    milestone_statuses=MILESTONE_STATUSES,
    risk_categories=RISK_CATEGORIES,
    levels=LEVELS,
    risk_statuses=RISK_STATUSES,
    action_statuses=ACTION_STATUSES,
    roles=STAKEHOLDER_ROLES,
    influence=INFLUENCE_LEVELS,
    engagement=ENGAGEMENT_LEVELS,
    contact_statuses=CONTACT_STATUSES,
    phases=MILESTONE_PHASES,
)
SECTIONS = (
    ("profile", "Customer profile"),
    ("outcomes", "Outcomes"),
    ("milestones", "Milestones"),
    ("stakeholders", "Stakeholders"),
    ("risks", "Risks"),
    ("actions", "Actions"),
    ("reviews", "Reviews"),
    ("history", "History"),
)
HISTORY_COMPONENTS = {
    "plan": "Plan",
    "profile": "Profile",
    "outcomes": "Outcome",
    "milestones": "Milestone",
    "stakeholders": "Stakeholder",
    "risks": "Risk",
    "actions": "Action",
    "reviews": "Review",
}
FIELD_LABELS = {
    "owner_id": "owner",
    "milestone_id": "milestone",
    "current_value": "current value",
    "next_review_on": "next review",
    "last_contact_on": "last contact",
    "completed_on": "completed on",
    "held_on": "date",
    "plan_type": "type",
    "review_cadence": "review cadence",
    "title": "title",
}
VALUE_LABELS = {
    "plan_type": PLAN_TYPES,
    "review_cadence": REVIEW_CADENCES,
    "category": RISK_CATEGORIES,
    "likelihood": LEVELS,
    "impact": LEVELS,
    "role": STAKEHOLDER_ROLES,
    "influence": INFLUENCE_LEVELS,
    "engagement": ENGAGEMENT_LEVELS,
}
STATUS_LABELS = {
    "plan": PLAN_STATUSES,
    "outcomes": OUTCOME_STATUSES,
    "milestones": MILESTONE_STATUSES,
    "risks": RISK_STATUSES,
    "actions": ACTION_STATUSES,
}


def field_label(name: str | None) -> str:
    if not name:
        return ""
    return FIELD_LABELS.get(name, name.replace("_", " "))


def value_label(component: str, name: str | None, value: str | None) -> str | None:
    """A stored history value as people read it ("In progress", not "in_progress")."""
    if value is None:
        return None
    labels = STATUS_LABELS.get(component) if name == "status" else VALUE_LABELS.get(name or "")
    return labels.get(value, value) if labels else value


def _actor() -> User:
    return current_user._get_current_object()


def _today() -> date:
    return utcnow().date()


# --- the list of plans ------------------------------------------------------------------------


@bp.route("/plans")
@login_required
def index():
    filters = queries.PlanListFilters.from_args(request.args)
    today = _today()
    listing = queries.plan_list(
        filters, today=today, per_page=current_app.config.get("PLANS_PER_PAGE", 50)
    )
    owners = queries.plan_owner_choices()
    return render_template(
        "plans/index.html",
        listing=listing,
        filters=filters,
        args=filters.args(),
        owners=owners,
        labels=LABELS,
        as_of=today,
        review_overdue=progress.review_overdue,
    )


# --- one plan ----------------------------------------------------------------------------------


@dataclass
class Failed:
    """The form a POST could not save, to be shown open with its errors or conflict."""

    key: str
    form: Any
    conflict: str | None = None
    saved: list[tuple[str, str, str]] = field(default_factory=list)


def _editable_plan(plan_id: int) -> Plan:
    plan = service.get_plan(plan_id)
    if not can_edit_plan(current_user, plan):
        abort(403)
    return plan


def _item_values(component: str, item: Any) -> dict[str, Any]:
    """What a row's edit form shows beyond the row's own attributes."""
    extra: dict[str, Any] = {}
    if hasattr(item, "owner_ref"):
        extra["owner"] = item.owner_ref
    if component == "stakeholders" and item.contact is not None:
        extra.update(
            influence=item.contact.influence,
            engagement=item.contact.engagement,
            last_contact_on=item.contact.last_contact_on,
        )
    return extra


class PlanEditors:
    """The plan page's forms, for an editor.

    The header, profile and add forms are built up front. A row's edit form is made when the
    template draws that row: one form per component is filled from each row in turn
    (``Form.process``, as the constructor does) instead of building some forty forms whose
    fields are all alike. Drawn one after the other, each row still gets its own complete
    form. The form of a refused POST is kept as it came back, with its errors and typed values.
    """

    def __init__(
        self, plan: Plan, choices: forms.PlanChoices, today: date, failed: Failed | None
    ) -> None:
        self.plan_id = plan.id
        self._add_urls: dict[str, str] = {}
        self.choices = choices
        self.today = today
        self.failed = failed
        self.forms: dict[str, Any] = {
            "plan": forms.bind_choices(forms.PlanForm(formdata=None, obj=plan), choices),
            "profile": forms.ProfileForm(formdata=None, obj=plan.account),
        }
        for component in service.COMPONENTS:
            self.forms[f"add-{component}"] = _add_form(component, choices, today)
        self._row_forms: dict[str, Any] = {}
        self._measurement_form: forms.MeasurementForm | None = None
        if failed is not None:
            self.forms[failed.key] = failed.form

    def __getitem__(self, key: str):
        return self.forms[key]

    def row(self, component: str, item: Any):
        """The edit form of one row, filled from the saved row."""
        failed = self.forms.get(f"{component}-{item.id}")
        if failed is not None:
            return failed
        form = self._row_forms.get(component)
        if form is None:
            form = self._row_forms[component] = forms.bind_choices(
                forms.EDIT_FORMS[component](formdata=None), self.choices
            )
        form.process(None, obj=item, **_item_values(component, item))
        if hasattr(item, "owner_ref"):
            forms.bind_choices(form, self.choices, item.owner_ref, item.owner_name)
        return form

    # Where the forms post. A page has some seventy row forms; their URLs extend the
    # component's URL (routes below: <component>, <component>/<id>, <component>/<id>/delete,
    # outcomes/<id>/measurements) rather than each running url_for.

    def add_url(self, component: str) -> str:
        url = self._add_urls.get(component)
        if url is None:
            url = self._add_urls[component] = url_for(
                "plans.add_item", plan_id=self.plan_id, component=component
            )
        return url

    def edit_url(self, component: str, item_id: int) -> str:
        return f"{self.add_url(component)}/{int(item_id)}"

    def delete_url(self, component: str, item_id: int) -> str:
        return f"{self.add_url(component)}/{int(item_id)}/delete"

    def measurement_url(self, outcome_id: int) -> str:
        return f"{self.add_url('outcomes')}/{int(outcome_id)}/measurements"

    def measurement(self, outcome: Any):
        """The form that records a value of an outcome: the same for every outcome."""
        failed = self.forms.get(f"measure-{outcome.id}")
        if failed is not None:
            return failed
        if self._measurement_form is None:
            self._measurement_form = forms.MeasurementForm(formdata=None, measured_on=self.today)
        return self._measurement_form


def _add_form(component: str, choices: forms.PlanChoices, today: date):
    defaults: dict[str, Any] = {}
    me = f"user:{current_user.id}"
    if component in ("milestones", "risks", "actions") and me in choices.valid_people:
        defaults["owner"] = me
    if component == "reviews":
        defaults["held_on"] = today
    if component == "stakeholders":
        defaults["role"] = "champion"
    form = forms.ADD_FORMS[component](formdata=None, **defaults)
    return forms.bind_choices(form, choices)


def _stakeholders_gone_dark(plan: Plan, today: date, dark_after_days: int) -> set[int]:
    dark = set()
    for stakeholder in plan.stakeholders:
        contact = stakeholder.contact
        if contact is None or contact.status == "departed":
            continue
        facts = progress.StakeholderFacts(
            name=contact.name,
            is_customer=True,
            engagement=contact.engagement,
            last_contact=contact.last_contact_on,
            departed=False,
        )
        flags = progress.stakeholder_flags([facts], today, dark_after_days)
        if any(flag.key == "gone_dark" for flag in flags):
            dark.add(stakeholder.id)
    return dark


def sparkline(values: list[float], width: int = 90, height: int = 22) -> str:
    """SVG polyline points for a row of measurements (no inline styles: CSP allows none)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(values)
    )


def _render_plan(plan: Plan, failed: Failed | None = None, status: int = 200):
    today = _today()
    dark_days = current_app.config["STAKEHOLDER_DARK_DAYS"]
    insights = service.plan_insights(plan, today=today, dark_after_days=dark_days)
    editable = can_edit_plan(current_user, plan)
    editors: PlanEditors | None = None
    if editable:
        choices = forms.plan_choices(plan)
        if failed is not None:
            forms.bind_choices(failed.form, choices, *_failed_person(plan, failed))
        editors = PlanEditors(plan, choices, today, failed)
    return render_template(
        "plans/show.html",
        plan=plan,
        account=plan.account,
        insights=insights,
        editable=editable,
        editors=editors,
        failed=failed,
        history=service.plan_history(plan, limit=PLAN_PAGE_HISTORY),
        share_links=service.active_share_links(plan) if plan.plan_type == "joint" else [],
        dark_ids=_stakeholders_gone_dark(plan, today, dark_days),
        sparkline=sparkline,
        lower_is_better=progress.lower_is_better,
        labels=LABELS,
        sections=SECTIONS,
        as_of=today,
        dark_days=dark_days,
        field_label=field_label,
        value_label=value_label,
        history_components=HISTORY_COMPONENTS,
        pfield=rendering.plan_field,
        hidden_fields=rendering.hidden_fields,
    ), status


def _failed_person(plan: Plan, failed: Failed) -> tuple[str, str]:
    """Keep showing the saved owner of a row being edited, even one no longer offered."""
    component, _, item_id = failed.key.rpartition("-")
    if component in service.COMPONENTS and item_id.isdigit():
        for item in getattr(plan, component):
            if item.id == int(item_id) and hasattr(item, "owner_ref"):
                return item.owner_ref, item.owner_name
    return "", ""


@bp.route("/plans/<int:plan_id>")
@login_required
def show(plan_id: int):
    return _render_plan(service.get_plan(plan_id))


@bp.route("/plans/<int:plan_id>/history")
@login_required
def history(plan_id: int):
    plan = service.get_plan(plan_id)
    changes = service.plan_history(plan, limit=FULL_HISTORY_LIMIT)
    truncated = len(changes) >= FULL_HISTORY_LIMIT
    component = request.args.get("component", "")
    if component in HISTORY_COMPONENTS:
        changes = [c for c in changes if c.component == component]
    else:
        component = ""
    return render_template(
        "plans/history.html",
        plan=plan,
        changes=changes,
        component=component,
        truncated=truncated,
        history_components=HISTORY_COMPONENTS,
        field_label=field_label,
        value_label=value_label,
    )


# --- saving ------------------------------------------------------------------------------------


def _saved_values(form, saved: Any) -> list[tuple[str, str, str]]:
    """Field by field, what is saved now and what the user typed, where they differ."""
    rows = []
    if saved is None:
        return rows
    for name in getattr(form, "value_fields", ()):
        typed = form[name].data
        if name == "owner":
            current = getattr(saved, "owner_ref", "")
        elif hasattr(saved, name):
            current = getattr(saved, name)
        elif (
            name in ("influence", "engagement", "last_contact_on")
            and getattr(saved, "contact", None) is not None
        ):
            current = getattr(saved.contact, name)
        else:
            continue
        if _show(current) != _show(typed):
            rows.append(
                (
                    form[name].label.text,
                    _choice_text(form[name], current) or "—",
                    _choice_text(form[name], typed) or "—",
                )
            )
    return rows


def _choice_text(form_field, value: Any) -> str:
    """A value as the field shows it: a select's option label, else the value itself."""
    shown = _show(value)
    if isinstance(form_field, SelectField):
        for option in form_field._choices_from_input(form_field.choices) or []:
            if _show(option.value) == shown:
                return option.label
    return shown


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _attempt(
    plan_id: int,
    key: str,
    form,
    save: Callable[[], Any],
    message: str,
    anchor: str,
    saved: Callable[[Plan], Any] | None = None,
):
    """Run one service call and commit; refusals re-render the plan with ``form`` open."""
    try:
        save()
        db.session.commit()
    except ValidationError as error:
        db.session.rollback()
        show_errors_above(form, error)
        return _render_plan(service.get_plan(plan_id), Failed(key, form), 422)
    except (ConflictError, StaleDataError) as error:
        db.session.rollback()
        plan = service.get_plan(plan_id)
        current = saved(plan) if saved else None
        conflict = error.message if isinstance(error, ConflictError) else STALE_MESSAGE
        if "version" in form and current is not None:
            # Saving again now means "I have seen theirs, keep mine".
            form.version.data = current.version
            form.version.raw_data = [str(current.version)]
        return _render_plan(plan, Failed(key, form, conflict, _saved_values(form, current)), 409)
    flash(message, "success")
    return redirect(url_for("plans.show", plan_id=plan_id, _anchor=anchor))


def _invalid(plan: Plan, key: str, form):
    return _render_plan(plan, Failed(key, form), 422)


def _quote(text: Any) -> str:
    shown = _show(text)
    return f" “{shown[:80]}”" if shown else ""


@bp.post("/plans/<int:plan_id>/edit")
@login_required
def edit(plan_id: int):
    plan = _editable_plan(plan_id)
    form = forms.bind_choices(forms.PlanForm(), forms.plan_choices(plan))
    if not form.validate():
        return _invalid(plan, "plan", form)
    return _attempt(
        plan_id,
        "plan",
        form,
        lambda: service.update_plan(
            plan, form.values(), expected_version=form.version.data, user=_actor(), now=utcnow()
        ),
        "Plan saved.",
        "plan",
        saved=lambda current: current,
    )


@bp.post("/plans/<int:plan_id>/profile")
@login_required
def edit_profile(plan_id: int):
    plan = _editable_plan(plan_id)
    form = forms.ProfileForm()
    if not form.validate():
        return _invalid(plan, "profile", form)
    return _attempt(
        plan_id,
        "profile",
        form,
        lambda: service.update_profile(plan, form.values(), user=_actor(), now=utcnow()),
        "Customer profile saved.",
        "profile",
    )


@bp.post(f"/plans/<int:plan_id>/<{COMPONENT_RULE}:component>")
@login_required
def add_item(plan_id: int, component: str):
    plan = _editable_plan(plan_id)
    form = forms.ADD_FORMS[component]()
    key = f"add-{component}"
    if not form.validate():
        return _invalid(plan, key, form)
    spec = service.COMPONENTS[component]
    title = "" if component == "stakeholders" else form.values().get(spec.title_field)
    return _attempt(
        plan_id,
        key,
        form,
        lambda: service.add_item(plan, component, form.values(), user=_actor(), now=utcnow()),
        f"{spec.label} added{_quote(title)}.",
        component,
    )


def _item_or_gone(plan: Plan, component: str, item_id: int):
    try:
        return service.get_item(plan, component, item_id)
    except NotFoundError:
        return None


def _gone(plan_id: int, component: str):
    label = service.COMPONENTS[component].label.lower()
    flash(f"That {label} no longer exists: someone deleted it.", "warning")
    return redirect(url_for("plans.show", plan_id=plan_id, _anchor=component))


@bp.post(f"/plans/<int:plan_id>/<{COMPONENT_RULE}:component>/<int:item_id>")
@login_required
def edit_item(plan_id: int, component: str, item_id: int):
    plan = _editable_plan(plan_id)
    item = _item_or_gone(plan, component, item_id)
    if item is None:
        return _gone(plan_id, component)
    form = forms.EDIT_FORMS[component]()
    key = f"{component}-{item_id}"
    if not form.validate():
        return _invalid(plan, key, form)
    label = service.COMPONENTS[component].label
    return _attempt(
        plan_id,
        key,
        form,
        lambda: service.update_item(
            plan,
            component,
            item,
            form.values(),
            expected_version=form.version.data,
            user=_actor(),
            now=utcnow(),
        ),
        f"{label} saved.",
        component,
        saved=lambda current: _item_or_gone(current, component, item_id),
    )


@bp.post(f"/plans/<int:plan_id>/<{COMPONENT_RULE}:component>/<int:item_id>/delete")
@login_required
def delete_item(plan_id: int, component: str, item_id: int):
    plan = _editable_plan(plan_id)
    item = _item_or_gone(plan, component, item_id)
    if item is None:
        return _gone(plan_id, component)
    label = service.COMPONENTS[component].label
    service.delete_item(plan, component, item, user=_actor(), now=utcnow())
    db.session.commit()
    flash(f"{label} deleted.", "success")
    return redirect(url_for("plans.show", plan_id=plan_id, _anchor=component))


@bp.post("/plans/<int:plan_id>/outcomes/<int:item_id>/measurements")
@login_required
def add_measurement(plan_id: int, item_id: int):
    plan = _editable_plan(plan_id)
    outcome = _item_or_gone(plan, "outcomes", item_id)
    if outcome is None:
        return _gone(plan_id, "outcomes")
    form = forms.MeasurementForm()
    key = f"measure-{item_id}"
    if not form.validate():
        return _invalid(plan, key, form)
    return _attempt(
        plan_id,
        key,
        form,
        lambda: service.add_measurement(
            plan, outcome, form.measured_on.data, form.value.data, user=_actor(), now=utcnow()
        ),
        f"Measurement recorded for{_quote(outcome.title)}.",
        "outcomes",
    )
