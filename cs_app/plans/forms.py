"""Forms for the success-plan pages: the plan header, the account profile and each component.

Field names are the service's value keys, so a ``ValidationError.fields`` from the service lands
next to the right field. The forms only parse what the browser sends (dates, numbers, ids);
what is required and who may own a row are the service's rules, so the browser and the API
refuse the same things with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    DateField,
    FloatField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from cs_app.accounts.models import (
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    ENGAGEMENT_MODELS,
    INFLUENCE_LEVELS,
    SEGMENTS,
)
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.plans.models import (
    ACTION_STATUSES,
    LEVELS,
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
from cs_app.plans.rendering import FastRenderMeta
from cs_app.request_args import database_id

DATE_MESSAGE = "Enter a date as YYYY-MM-DD."
NUMBER_MESSAGE = "Enter a number, e.g. 12.5."
NO_OWNER = SelectChoice("", "— choose a person —")
NO_MILESTONE = SelectChoice("", "— none —")


def _clean_text(value: Any) -> Any:
    """Trim typed text; an empty box means "no value" (None), never an empty string, so the
    history does not record a change from nothing to nothing."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _id_or_none(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    return database_id(value)


def _blank_is_none(value: Any) -> Any:
    return None if value in (None, "", "None") else value


def text(label: str, max_length: int = 200) -> StringField:
    return StringField(label, [Optional(), Length(max=max_length)], filters=[_clean_text])


def long_text(label: str) -> TextAreaField:
    return TextAreaField(label, [Optional(), Length(max=20_000)], filters=[_clean_text])


def day(label: str) -> DateField:
    return DateField(label, [Optional()], invalid_value_message=DATE_MESSAGE)


def number(label: str) -> FloatField:
    return FloatField(label, [Optional()], invalid_value_message=NUMBER_MESSAGE)


def choice(
    label: str, options: dict[str, str], blank: str | None = None, checked_here: bool = False
) -> SelectField:
    """A select whose value the service checks (so a tampered value gets the service's words),
    or, with ``checked_here``, that the form checks for a service that does not."""
    choices = [SelectChoice("", blank)] if blank is not None else []
    choices += [SelectChoice(value, label) for value, label in options.items()]
    return SelectField(
        label,
        choices=choices,
        validate_choice=checked_here,
        coerce=_blank_is_none,
        invalid_choice_message=f"Choose one of: {', '.join(options)}.",
    )


def person(label: str) -> SelectField:
    """An owner or stakeholder: ``user:ID`` or ``contact:ID`` from grouped options. Free text
    is passed on as typed so the service can refuse it with its message."""
    return SelectField(label, choices=[NO_OWNER], validate_choice=False, coerce=str)


def version_field() -> IntegerField:
    return IntegerField(widget=HiddenInput(), validators=[Optional()])


class FastForm(FlaskForm):
    """A form whose fields render through ``cs_app.plans.rendering`` (same HTML, faster)."""

    class Meta(FastRenderMeta):
        pass


class PlanFormBase(FastForm):
    """Every plan form turns its typed fields into the service's ``values`` dict."""

    value_fields: tuple[str, ...] = ()

    def values(self) -> dict[str, Any]:
        values = {name: self[name].data for name in self.value_fields}
        if "completed_on" in values and values["completed_on"] is None:
            del values["completed_on"]  # blank: the service dates it when marked done
        return values


class PlanForm(PlanFormBase):
    title = text("Title")
    plan_type = choice("Type", PLAN_TYPES)
    status = choice("Status", PLAN_STATUSES)
    owner_id = SelectField("Owner (CSM)", choices=[], validate_choice=False, coerce=_id_or_none)
    review_cadence = choice("Review cadence", REVIEW_CADENCES)
    next_review_on = day("Next review")
    summary = long_text("Summary")
    version = version_field()

    value_fields = (
        "title",
        "plan_type",
        "status",
        "owner_id",
        "review_cadence",
        "next_review_on",
        "summary",
    )


class ProfileForm(PlanFormBase):
    name = text("Account name")
    domain = text("Domain")
    industry = text("Industry", 100)
    employees = IntegerField(
        "Employees",
        [Optional(), NumberRange(min=0, message="Enter a number of people, 0 or more.")],
        invalid_value_message="Enter a whole number, e.g. 250.",
    )
    segment = choice("Segment", {segment: segment for segment in SEGMENTS}, checked_here=True)
    engagement_model = choice(
        "Engagement model", {m: m.capitalize() for m in ENGAGEMENT_MODELS}, checked_here=True
    )
    contract_start = day("Contract start")
    renewal_date = day("Renewal date")
    primary_use_case = long_text("Primary use case")
    purchase_trigger = long_text("Why they bought (purchase trigger)")
    previous_solutions = long_text("Previous solutions")
    strategic_priorities = long_text("Strategic priorities")

    value_fields = (
        "name",
        "domain",
        "industry",
        "employees",
        "segment",
        "engagement_model",
        "contract_start",
        "renewal_date",
        "primary_use_case",
        "purchase_trigger",
        "previous_solutions",
        "strategic_priorities",
    )


class OutcomeForm(PlanFormBase):
    title = text("Outcome")
    metric = text("Metric (KPI)")
    unit = text("Unit", 30)
    baseline = number("Baseline")
    target = number("Target")
    current_value = number("Current value")
    target_date = day("Target date")
    status = choice("Status", OUTCOME_STATUSES)
    version = version_field()

    value_fields = (
        "title",
        "metric",
        "unit",
        "baseline",
        "target",
        "current_value",
        "target_date",
        "status",
    )


class MeasurementForm(FastForm):
    measured_on = DateField(
        "Measured on", [DataRequired("Give the date.")], invalid_value_message=DATE_MESSAGE
    )
    value = FloatField(
        "Value", [InputRequired("Give the value.")], invalid_value_message=NUMBER_MESSAGE
    )


class MilestoneForm(PlanFormBase):
    phase = text("Phase", 60)
    title = text("Milestone")
    target_date = day("Target date")
    success_criteria = long_text("Success criteria")
    owner = person("Owner")
    status = choice("Status", MILESTONE_STATUSES)
    completed_on = day("Completed on")
    version = version_field()

    value_fields = (
        "phase",
        "title",
        "target_date",
        "success_criteria",
        "owner",
        "status",
        "completed_on",
    )


class StakeholderEditForm(PlanFormBase):
    role = choice("Role on this plan", STAKEHOLDER_ROLES)
    influence = choice("Influence", INFLUENCE_LEVELS, blank="—")
    engagement = choice("Engagement", ENGAGEMENT_LEVELS, blank="—")
    last_contact_on = day("Last contact")
    notes = long_text("Notes")
    version = version_field()

    value_fields = ("role", "notes", "influence", "engagement", "last_contact_on")

    def values(self) -> dict[str, Any]:
        """Influence, engagement and last contact belong to the contact: a blank one means
        "leave as is", not "erase"."""
        values = super().values()
        for name in ("influence", "engagement", "last_contact_on"):
            if values[name] is None:
                del values[name]
        return values


class StakeholderAddForm(StakeholderEditForm):
    person = person("Person")

    value_fields = ("person", *StakeholderEditForm.value_fields)


class RiskForm(PlanFormBase):
    title = text("Risk")
    category = choice("Category", RISK_CATEGORIES)
    likelihood = choice("Likelihood", LEVELS)
    impact = choice("Impact", LEVELS)
    mitigation = long_text("Mitigation")
    owner = person("Owner")
    status = choice("Status", RISK_STATUSES)
    version = version_field()

    value_fields = ("title", "category", "likelihood", "impact", "mitigation", "owner", "status")


class ActionForm(PlanFormBase):
    title = text("Task", 300)
    owner = person("Owner")
    due_date = day("Due date")
    status = choice("Status", ACTION_STATUSES)
    milestone_id = SelectField(
        "Milestone", choices=[NO_MILESTONE], validate_choice=False, coerce=_id_or_none
    )
    completed_on = day("Completed on")
    version = version_field()

    value_fields = ("title", "owner", "due_date", "status", "milestone_id", "completed_on")


class ReviewForm(PlanFormBase):
    held_on = day("Date")
    attendees = long_text("Attendees")
    notes = long_text("Notes and decisions")
    version = version_field()

    value_fields = ("held_on", "attendees", "notes")


ADD_FORMS: dict[str, type[PlanFormBase]] = {
    "outcomes": OutcomeForm,
    "milestones": MilestoneForm,
    "stakeholders": StakeholderAddForm,
    "risks": RiskForm,
    "actions": ActionForm,
    "reviews": ReviewForm,
}
EDIT_FORMS: dict[str, type[PlanFormBase]] = {**ADD_FORMS, "stakeholders": StakeholderEditForm}


# --- choices ------------------------------------------------------------------------------


@dataclass
class PlanChoices:
    """The people and milestones a plan's forms offer, loaded once per page."""

    people: list[SelectChoice]
    plan_owners: list[SelectChoice]
    milestones: list[SelectChoice]
    valid_people: set[str]


def plan_choices(plan: Plan) -> PlanChoices:
    """Named people only: the account's contacts and our active users who are not viewers.

    Two queries whatever the size of the plan.
    """
    users = list(
        db.session.scalars(
            select(User).where(User.active.is_(True), User.role != "viewer").order_by(User.name)
        )
    )
    contacts = list(plan.account.contacts)
    team = "Our team"
    customer = f"{plan.account.name} contacts"
    people = [NO_OWNER]
    people += [
        SelectChoice(f"user:{u.id}", f"{u.name} ({u.role_label})", optgroup=team) for u in users
    ]
    people += [
        SelectChoice(
            f"contact:{c.id}",
            c.name
            + (f", {c.title}" if c.title else "")
            + (f" ({CONTACT_STATUSES['departed'].lower()})" if c.status == "departed" else ""),
            optgroup=customer,
        )
        for c in contacts
    ]
    return PlanChoices(
        people=people,
        plan_owners=[SelectChoice(str(u.id), f"{u.name} ({u.role_label})") for u in users],
        milestones=[NO_MILESTONE] + [SelectChoice(str(m.id), m.title) for m in plan.milestones],
        valid_people={c.value for c in people if c.value},
    )


def bind_choices(
    form: FlaskForm, choices: PlanChoices, current_person: str = "", current_person_name: str = ""
) -> FlaskForm:
    """Give ``form`` its dynamic options. A row owned by someone who is no longer offered
    (an inactive user) keeps showing that person, marked, so nothing changes silently."""
    for name in ("owner", "person"):
        if name in form:
            people = choices.people  # shared by every form of the page; never changed
            if current_person and current_person not in choices.valid_people:
                people = [
                    people[0],
                    SelectChoice(current_person, f"{current_person_name} (no longer active)"),
                    *people[1:],
                ]
            form[name].choices = people
    if "owner_id" in form:
        form["owner_id"].choices = choices.plan_owners
    if "milestone_id" in form:
        form["milestone_id"].choices = choices.milestones
    return form
