"""Forms of the account pages. They parse types (dates, numbers); the rules live in
``cs_app.accounts.service``, whose error fields match these field names."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from cs_app.accounts.models import (
    CONTACT_ROLES,
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    ENGAGEMENT_MODELS,
    INFLUENCE_LEVELS,
    LIFECYCLE_STAGES,
    SEGMENTS,
)
from cs_app.money import to_major, to_minor
from cs_app.plans.models import PLAN_TYPES

UNASSIGNED_LABEL = "Unassigned / pooled"
PERSON_REFUSAL = "Choose one of the listed people (active CSMs, leads and admins)."


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _capitalized(values: tuple[str, ...]) -> list[SelectChoice]:
    return [SelectChoice(value, value.capitalize()) for value in values]


class AmountField(DecimalField):
    """A money amount in major units; thousands separators, spaces and a currency symbol
    are allowed, as people type them."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        cleaned = re.sub(r"[\s,$€£_]", "", valuelist[0] or "")
        if not cleaned:
            self.data = None
            return
        try:
            self.data = Decimal(cleaned)
        except InvalidOperation as error:
            self.data = None
            raise ValueError("Enter an amount like 48000 or 48,000.50.") from error
        if not self.data.is_finite():
            self.data = None
            raise ValueError("Enter an amount like 48000 or 48,000.50.")


class AccountForm(FlaskForm):
    name = StringField("Name")
    domain = StringField("Domain")
    industry = StringField("Industry")
    employees = IntegerField("Employees", validators=[Optional()])
    segment = SelectField(
        "Segment", choices=[SelectChoice(s) for s in SEGMENTS], validate_choice=False
    )
    engagement_model = SelectField(
        "Engagement model", choices=_capitalized(ENGAGEMENT_MODELS), validate_choice=False
    )
    arr = AmountField("ARR", places=2, validators=[Optional()])
    currency = StringField("Currency")
    contract_start = DateField("Contract start", validators=[Optional()])
    renewal_date = DateField("Renewal date", validators=[Optional()])
    csm_id = SelectField("CSM owner", choices=[], invalid_choice_message=PERSON_REFUSAL)
    lifecycle_stage = SelectField(
        "Lifecycle stage", choices=_capitalized(LIFECYCLE_STAGES), validate_choice=False
    )
    product_plan = StringField("Product plan")
    seats_purchased = IntegerField("Seats purchased", validators=[Optional()])
    primary_use_case = TextAreaField("Primary use case")
    purchase_trigger = TextAreaField("Purchase trigger")
    previous_solutions = TextAreaField("Previous solutions")
    strategic_priorities = TextAreaField("Strategic priorities")

    def set_csm_choices(self, users: list[tuple[int, str]]) -> None:
        self.csm_id.choices = [
            SelectChoice("", UNASSIGNED_LABEL),
            *(SelectChoice(str(i), n) for i, n in users),
        ]

    def load(self, account) -> None:
        """Fill the fields from ``account`` (for showing the form, not after a POST)."""
        for name in self._fields:
            if name in ("csrf_token", "arr", "csm_id"):
                continue
            self[name].data = getattr(account, name)
        self.arr.data = to_major(account.arr_minor or 0)
        self.csm_id.data = str(account.csm_id) if account.csm_id else ""

    def values(self) -> dict[str, Any]:
        values = {
            name: f.data
            for name, f in self._fields.items()
            if name not in ("csrf_token", "arr", "csm_id")
        }
        if self.arr.data is not None:
            values["arr_minor"] = to_minor(self.arr.data)
        values["csm_id"] = int(self.csm_id.data) if self.csm_id.data else None
        return values


class ContactForm(FlaskForm):
    name = StringField("Name")
    title = StringField("Title")
    email = StringField("Email")
    role = SelectField(
        "Role", choices=_choices(CONTACT_ROLES), default="champion", validate_choice=False
    )
    influence = SelectField(
        "Influence", choices=_choices(INFLUENCE_LEVELS), default="influencer", validate_choice=False
    )
    engagement = SelectField(
        "Engagement", choices=_choices(ENGAGEMENT_LEVELS), default="medium", validate_choice=False
    )
    last_contact_on = DateField("Last contact", validators=[Optional()])
    status = SelectField(
        "Status", choices=_choices(CONTACT_STATUSES), default="active", validate_choice=False
    )

    def load(self, contact) -> None:
        for name in self._fields:
            if name != "csrf_token":
                self[name].data = getattr(contact, name)

    def values(self) -> dict[str, Any]:
        return {name: f.data for name, f in self._fields.items() if name != "csrf_token"}


class NewPlanForm(FlaskForm):
    template = SelectField("Template", choices=[], validate_choice=False)
    title = StringField("Title")
    plan_type = SelectField(
        "Plan type",
        choices=[SelectChoice("", "From the template"), *_choices(PLAN_TYPES)],
        validate_choice=False,
    )
    owner_id = SelectField("Owner", choices=[], invalid_choice_message=PERSON_REFUSAL)

    def set_choices(
        self, templates: list[tuple[str, str, str]], owners: list[tuple[int, str]]
    ) -> None:
        self.template.choices = [
            *(SelectChoice(k, n) for k, n, _ in templates),
            SelectChoice("blank", "Blank plan"),
        ]
        self.owner_id.choices = [SelectChoice(str(i), n) for i, n in owners]

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {"title": self.title.data, "plan_type": self.plan_type.data}
        if self.owner_id.data:
            values["owner_id"] = int(self.owner_id.data)
        return values
