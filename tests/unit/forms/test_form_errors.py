"""The shared placement of a service's refusal on a form: plain WTForms forms, no app."""

from __future__ import annotations

import subprocess
import sys

from wtforms import Form, HiddenField, StringField

from cs_app.errors import ConflictError, ValidationError
from cs_app.form_errors import show_errors, show_errors_above


class ContactForm(Form):
    name = StringField("Name")
    email = StringField("Email")
    version = HiddenField()


def test_each_message_goes_beside_its_field():
    form = ContactForm()
    error = ValidationError(
        "Not saved.", {"name": "Give the contact a name.", "email": "Enter an email."}
    )

    assert show_errors(form, error) == []
    assert form.name.errors == ["Give the contact a name."]
    assert form.email.errors == ["Enter an email."]


def test_messages_add_to_the_errors_a_field_already_has():
    form = ContactForm()
    form.name.errors = ["Required."]

    show_errors(form, ValidationError("Not saved.", {"name": "Too long."}))

    assert form.name.errors == ["Required.", "Too long."]


def test_aliases_rename_the_service_fields():
    form = ContactForm()
    show_errors(
        form, ValidationError("Not saved.", {"full_name": "Too long."}), {"full_name": "name"}
    )
    assert form.name.errors == ["Too long."]


def test_messages_no_field_can_show_are_returned_in_order():
    form = ContactForm()
    error = ConflictError(
        "Someone saved it first.",
        {"owner": "Choose an owner.", "version": "It is at version 3.", "name": "Too long."},
    )

    assert show_errors(form, error) == ["Choose an owner.", "It is at version 3."]
    assert form.version.errors == ()  # a hidden input shows nothing beside it
    assert form.name.errors == ["Too long."]


def test_the_summary_is_returned_when_the_error_names_no_field():
    form = ContactForm()
    assert show_errors(form, ValidationError("Nothing to save.")) == ["Nothing to save."]
    assert form.name.errors == ()


def test_fields_limits_which_fields_show_messages():
    form = ContactForm()
    error = ValidationError("Not saved.", {"name": "Too long.", "email": "Enter an email."})

    assert show_errors(form, error, fields={"name"}) == ["Enter an email."]
    assert form.email.errors == ()


def test_messages_shown_elsewhere_are_neither_placed_nor_returned():
    form = ContactForm()
    error = ValidationError("Not saved.", {"rows.0.name": "Give row 1 a name."})

    assert show_errors(form, error, elsewhere={"rows.0.name"}) == []


def test_show_errors_above_lists_the_rest_in_form_errors():
    form = ContactForm()
    form.form_errors = ["Earlier."]

    show_errors_above(form, ValidationError("Not saved.", {"owner": "Choose an owner."}))

    assert form.form_errors == ["Earlier.", "Choose an owner."]


def test_the_helper_loads_no_framework():
    code = (
        "import sys, cs_app.form_errors; "
        "print(','.join(m for m in ('flask', 'sqlalchemy', 'cs_app.extensions') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
