"""The plan page's fast field HTML is WTForms' HTML, byte for byte: every field of every plan
form, filled from a row, from typed input (tricky characters, refused values, errors) or left
blank, with and without CSRF, drawn with the attributes the templates pass."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from flask import Flask
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.meta import DefaultMeta

from cs_app.plans import forms, rendering

TRICKY = 'Tom & "Jerry" <b>O\'Neil</b> — café'

PEOPLE = [
    forms.NO_OWNER,
    SelectChoice("user:1", "Casey CSM (CSM)", optgroup="Our team"),
    SelectChoice("user:2", 'Lena "Lead" <admin> (CS lead)', optgroup="Our team"),
    SelectChoice("contact:7", "Sarah Chen, VP & Ops", optgroup="Acme & <Sons> contacts"),
    SelectChoice("contact:8", "Dana (departed)", optgroup="Acme & <Sons> contacts"),
]
CHOICES = forms.PlanChoices(
    people=PEOPLE,
    plan_owners=[SelectChoice("1", "Casey CSM (CSM)"), SelectChoice("2", "Lena & co")],
    milestones=[forms.NO_MILESTONE, SelectChoice("3", "SSO <live>"), SelectChoice("4", "Go")],
    valid_people={c.value for c in PEOPLE if c.value},
)
ALL_FORMS = sorted(
    {
        *forms.ADD_FORMS.values(),
        *forms.EDIT_FORMS.values(),
        forms.PlanForm,
        forms.ProfileForm,
        forms.MeasurementForm,
    },
    key=lambda cls: cls.__name__,
)

# what a browser might send: valid values, tricky text, values the forms refuse
TYPED = MultiDict(
    {
        "title": TRICKY,
        "metric": "NPS",
        "unit": "%",
        "baseline": "12.5",
        "target": "forty",
        "current_value": "",
        "target_date": "2026-13-40",
        "status": "blocked",
        "phase": TRICKY,
        "success_criteria": "line one\nline <two>",
        "owner": "user:2",
        "person": "The customer",
        "completed_on": "2026-11-20",
        "role": "champion",
        "influence": "",
        "engagement": "high",
        "last_contact_on": "2026-11-01",
        "notes": TRICKY,
        "category": "budget",
        "likelihood": "extreme",
        "impact": "high",
        "mitigation": "",
        "due_date": "2026-12-01",
        "milestone_id": "3",
        "held_on": "soon",
        "attendees": "A, B",
        "version": "7",
        "plan_type": "joint",
        "owner_id": "2",
        "review_cadence": "monthly",
        "next_review_on": "2026-12-24",
        "summary": TRICKY,
        "name": TRICKY,
        "domain": "x.test",
        "industry": "",
        "employees": "-3",
        "segment": "Galactic",
        "engagement_model": "joint",
        "contract_start": "2026-01-01",
        "renewal_date": "",
        "primary_use_case": TRICKY,
        "measured_on": "2026-11-02",
        "value": "1e3",
    }
)
ROW = SimpleNamespace(
    title=TRICKY,
    metric="Adoption",
    unit="h",
    baseline=18.0,
    target=8.0,
    current_value=None,
    target_date=date(2026, 12, 1),
    status="in_progress",
    phase="adoption",
    success_criteria='50% "weekly" active',
    completed_on=None,
    role="champion",
    notes=None,
    category="other",
    likelihood="low",
    impact="medium",
    mitigation=TRICKY,
    due_date=date(2027, 1, 2),
    milestone_id=4,
    held_on=date(2026, 10, 1),
    attendees="A & B",
    version=3,
    plan_type="hybrid",
    owner_id=1,
    review_cadence="quarterly",
    next_review_on=None,
    summary="",
    name="Acme",
    domain=None,
    industry="Retail",
    employees=250,
    segment="SMB",
    engagement_model="hybrid",
    contract_start=date(2026, 1, 1),
    renewal_date=date(2027, 1, 1),
    primary_use_case=None,
    purchase_trigger=TRICKY,
    previous_solutions=None,
    strategic_priorities=None,
)
# the attributes the plan templates pass, and some more
RENDER_KW = [
    {},
    {"id": "actions-5-title"},
    {
        "id": "add-actions-owner",
        "aria_invalid": "true",
        "aria_describedby": "add-actions-owner-error",
    },
    {
        "id": "k-x",
        "class_": "wide",
        "rows": 2,
        "inputmode": "decimal",
        "list": "phases",
        "min": "0",
        "data_thing": 'a"b',
        "disabled": True,
        "readonly": False,
    },
]


@pytest.fixture(params=[False, True], ids=["no-csrf", "csrf"])
def request_context(request):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=request.param)
    with app.test_request_context():
        yield


def filled_forms():
    """Each form blank, from a saved row, and from typed input after validation."""
    for form_class in ALL_FORMS:
        yield form_class(formdata=None)
        yield forms.bind_choices(
            form_class(formdata=None, obj=ROW, owner="user:1", influence="decision_maker"), CHOICES
        )
        # an owner no longer offered stays shown, marked
        yield forms.bind_choices(
            form_class(formdata=None, obj=ROW, owner="user:99"),
            CHOICES,
            "user:99",
            "Ivan <Inactive>",
        )
        typed = forms.bind_choices(form_class(formdata=TYPED), CHOICES)
        typed.validate()
        yield typed


@pytest.mark.usefixtures("request_context")
def test_every_field_renders_as_wtforms_does():
    checked = 0
    for form in filled_forms():
        for field in form:
            for render_kw in RENDER_KW:
                expected = DefaultMeta().render_field(field, dict(render_kw))
                actual = rendering.render_field(field, dict(render_kw))
                assert actual == expected, (type(form).__name__, field.name, render_kw)
                assert isinstance(actual, Markup)
                checked += 1
    assert checked > 1000


@pytest.mark.usefixtures("request_context")
def test_plan_forms_render_through_the_fast_path():
    form = forms.bind_choices(forms.ActionForm(formdata=None, obj=ROW, owner="contact:7"), CHOICES)
    html = form.owner(id="a-owner")
    assert html == DefaultMeta().render_field(form.owner, {"id": "a-owner"})
    assert '<option selected value="contact:7">Sarah Chen, VP &amp; Ops</option>' in html
    assert '<optgroup label="Acme &amp; &lt;Sons&gt; contacts">' in html


@pytest.mark.usefixtures("request_context")
def test_a_field_the_fast_path_does_not_know_is_drawn_by_its_widget():
    class Odd(forms.FastForm):
        picked = SelectMultipleField(
            "Picked", choices=[SelectChoice("a", "A"), SelectChoice("b", "B")]
        )
        agree = BooleanField("Agree")

    form = Odd(formdata=MultiDict([("picked", "b"), ("agree", "y")]))
    for field in form:
        assert field(id="x") == DefaultMeta().render_field(field, {"id": "x"})


@pytest.mark.usefixtures("request_context")
def test_plan_field_shows_label_control_hint_and_errors():
    form = forms.ActionForm(formdata=MultiDict({"title": TRICKY, "due_date": "soon"}))
    form.validate()
    form.title.errors = ["Too <long>."]
    html = rendering.plan_field(form.title, "add-actions", hint="Say & do.", class_="wide")
    assert html.startswith('<div class="field wide has-error">')
    assert '<label for="add-actions-title">Task</label>' in html
    assert (
        '<input aria-describedby="add-actions-title-error" aria-invalid="true" '
        'id="add-actions-title" maxlength="300" name="title" type="text" '
        'value="Tom &amp; &#34;Jerry&#34; &lt;b&gt;O&#39;Neil&lt;/b&gt; — café">'
    ) in html
    assert '<small class="hint">Say &amp; do.</small>' in html
    assert '<p class="field-error" id="add-actions-title-error">Too &lt;long&gt;.</p>' in html
    quiet = rendering.plan_field(form.status, "actions-5", rows=2)
    assert quiet.startswith('<div class="field  ">') and "field-error" not in quiet
    assert 'id="actions-5-status"' in quiet and "hint" not in quiet


@pytest.mark.parametrize("csrf", [False, True])
def test_hidden_fields_carry_the_version_and_one_csrf_token(csrf):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=csrf)
    with app.test_request_context():
        form = forms.RiskForm(formdata=None, obj=ROW)
        html = rendering.hidden_fields(form, "risks-9")
    assert '<input id="risks-9-version" name="version" type="hidden" value="3">' in html
    assert html.count('name="csrf_token"') == 1
    assert ('id="risks-9-csrf_token"' in html) is csrf
