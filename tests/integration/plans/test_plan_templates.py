"""Plan template pages and service: list, show, create, edit, duplicate, delete, refusals."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from cs_app.audit.models import AuditEvent
from cs_app.errors import PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.plans import service as plan_service
from cs_app.plans import template_service
from cs_app.plans.builtin_templates import BUILTIN_TEMPLATES
from cs_app.plans.models import PlanTemplate
from tests.factories import AccountFactory, UserFactory

MILESTONES = (
    "implementation | Kickoff held | 7 | Both sponsors attend\n"
    "adoption | Team live | 45\n"
    "value | ROI agreed | 120 | Sponsor signs the ROI summary"
)
OUTCOMES = (
    "Faster onboarding | Days to first value | days | 30 | 10 | 90\n"
    "Higher adoption | Weekly active users | % | 20 | 60"
)
RISKS = (
    "Champion leaves | single_threaded_champion | high | high | Meet a second contact\n"
    "Budget review | budget cuts | M | L"
)
ACTIONS = "Book the kickoff | 3 | Kickoff held\nSend the agenda | 5"


def form_data(**overrides):
    data = {
        "key": "renewal-rescue",
        "name": "Renewal rescue",
        "plan_type": "high-touch",
        "review_cadence": "weekly",
        "description": "When a renewal is at risk.",
        "milestones": MILESTONES,
        "outcomes": OUTCOMES,
        "risks": RISKS,
        "actions": ACTIONS,
    }
    data.update(overrides)
    return data


def errors_in(page: str) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'class="field-error"[^>]*>([^<]*)<', page)]


def textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {name}"
    text = html.unescape(match.group(1))
    return text[2:] if text.startswith("\r\n") else text  # the widget's leading line break


@pytest.fixture
def lead(app):
    return UserFactory(role="lead", name="Lena Lead")


def custom_template(user, now, **overrides):
    template = template_service.create_template(form_data(**overrides), user=user, now=now)
    db.session.commit()
    return template


# --- reading -----------------------------------------------------------------------------------


def test_list_shows_every_template_with_counts_and_origin(client, login, lead, now):
    custom_template(lead, now)
    login(UserFactory(role="viewer"))
    response = client.get("/templates")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for template in BUILTIN_TEMPLATES:
        assert template["name"] in page
        assert template["key"] in page
    assert "Renewal rescue" in page and "renewal-rescue" in page
    assert "Built-in" in page and "Custom" in page
    row = re.search(r"Renewal rescue.*?</tr>", page, re.S).group(0)
    counts = re.findall(r'<td class="num">(\d+)</td>', row)
    assert counts == ["3", "2", "2", "2"]  # milestones, outcomes, risks, actions
    assert "Weekly" in row and "High-touch" in row
    assert "New template" not in page  # viewers do not get the button


def test_list_runs_a_fixed_number_of_queries(client, login, lead, now, count_queries):
    login(lead)
    db.session.expire_all()
    with count_queries() as few:
        client.get("/templates")
    for number in range(6):
        custom_template(lead, now, key=f"extra-{number}", name=f"Extra {number}")
    db.session.expire_all()
    with count_queries() as many:
        assert client.get("/templates").status_code == 200
    assert many.count == few.count


def test_show_gives_rows_as_days_from_contract_start(client, login):
    login(UserFactory(role="csm"))
    page = client.get("/templates/enterprise-high-touch").get_data(as_text=True)
    assert "Technical setup complete" in page
    assert "Day 30" in page and "from contract start" in page
    assert "Reduce average ticket resolution time" in page
    assert "Lower is better" in page  # 18 h → 8 h
    assert "Single-threaded champion" in page
    assert "Quarterly: Executive business review (90 min)" in page
    assert 'href="/templates/enterprise-high-touch/edit"' not in page  # CSMs only read


def test_show_low_touch_has_triggers_touchpoints_and_resources(client, login):
    login(UserFactory(role="viewer"))
    page = client.get("/templates/scaled-low-touch").get_data(as_text=True)
    assert "Automated journey triggers" in page
    assert "No login after 7 days" in page and "Email + In-app" in page
    assert "Human touchpoints" in page and "Renewal Specialist" in page
    assert "Self-service resources" in page and "Video Tutorial Library" in page


def test_unknown_template_is_404(client, login):
    login(UserFactory(role="viewer"))
    assert client.get("/templates/no-such-template").status_code == 404
    assert client.get("/templates/no-such-template/edit").status_code in (403, 404)


def test_templates_need_sign_in(client):
    response = client.get("/templates")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- creating ----------------------------------------------------------------------------------


def test_lead_creates_a_template_from_lines(client, login, lead, now):
    login(lead)
    response = client.post("/templates/new", data=form_data())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/templates/renewal-rescue")
    db.session.expire_all()
    template = plan_service.get_template("renewal-rescue")
    assert (template.name, template.plan_type, template.review_cadence, template.built_in) == (
        "Renewal rescue",
        "high-touch",
        "weekly",
        False,
    )
    assert template.updated_by_id == lead.id
    content = template.content
    assert content["milestones"][0] == {
        "phase": "implementation",
        "title": "Kickoff held",
        "target_offset_days": 7,
        "success_criteria": "Both sponsors attend",
    }
    assert content["milestones"][1]["success_criteria"] is None
    assert content["outcomes"][0] == {
        "title": "Faster onboarding",
        "metric": "Days to first value",
        "unit": "days",
        "baseline": 30.0,
        "target": 10.0,
        "target_offset_days": 90,
    }
    assert content["outcomes"][1]["target_offset_days"] is None
    assert content["risks"][1] == {
        "title": "Budget review",
        "category": "budget_cuts",
        "likelihood": "medium",
        "impact": "low",
        "mitigation": None,
    }
    assert content["actions"] == [
        {"title": "Book the kickoff", "due_offset_days": 3, "milestone": "Kickoff held"},
        {"title": "Send the agenda", "due_offset_days": 5, "milestone": None},
    ]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_id == "renewal-rescue"))
    assert (event.entity_type, event.action, event.user_id) == ("plan_template", "created", lead.id)


@pytest.mark.parametrize(
    "key, message",
    [
        ("Renewal Rescue", "lowercase letters, digits and hyphens"),
        ("renewal_rescue", "lowercase letters, digits and hyphens"),
        ("-renewal", "lowercase letters, digits and hyphens"),
        ("renewal--rescue", "lowercase letters, digits and hyphens"),
        ("", "Give the template a key"),
        ("new", "reserved"),
        ("x" * 61, "60 characters or fewer"),
        ("joint", "already used by the template “Joint success plan”"),
    ],
)
def test_bad_or_taken_key_is_refused_and_typed_content_kept(client, login, lead, key, message):
    login(lead)
    response = client.post("/templates/new", data=form_data(key=key))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert any(message in error for error in errors_in(page)), errors_in(page)
    assert textarea(page, "milestones").replace("\r\n", "\n") == MILESTONES
    assert 'value="Renewal rescue"' in page
    db.session.expire_all()
    assert (
        db.session.scalar(select(PlanTemplate).where(PlanTemplate.name == "Renewal rescue")) is None
    )


@pytest.mark.parametrize(
    "component, text, message",
    [
        (
            "milestones",
            "implementation | A | 7\nadoption | B | 14\nvalue | C | soon",
            "Milestones line 3: day offset must be a whole number",
        ),
        (
            "milestones",
            "implementation | A | 7.5",
            "Milestones line 1: day offset must be a whole number",
        ),
        ("milestones", "\n\nimplementation | | 7", "Milestones line 3: title is missing"),
        (
            "milestones",
            "implementation | A | 7\nadoption | a | 9",
            "Milestones line 2: another milestone (line 1) has the title “a”",
        ),
        (
            "milestones",
            "implementation | A | 99999",
            "Milestones line 1: day offset must be between -3660 and 3660 days",
        ),
        (
            "milestones",
            "implementation | A | 7 | ok | extra",
            "Milestones line 1: 5 fields, but a row has at most 4",
        ),
        (
            "outcomes",
            "Adoption | WAU | % | forty | 60 | 90",
            "Outcomes line 1: baseline must be a number",
        ),
        ("outcomes", "Adoption | | %", "Outcomes line 1: metric is missing"),
        (
            "risks",
            "Churn | asteroid | high | high",
            "Risks line 1: category must be one of: executive_sponsor_departure",
        ),
        (
            "risks",
            "Churn | other | huge",
            "Risks line 1: likelihood must be one of: high, medium, low",
        ),
        ("actions", "Call the sponsor", "Actions line 1: due day offset is missing"),
        (
            "actions",
            "Call | 3 | No such milestone",
            "Actions line 1: no milestone is titled “No such milestone”",
        ),
    ],
)
def test_bad_line_is_refused_naming_line_and_problem(client, login, lead, component, text, message):
    login(lead)
    response = client.post("/templates/new", data=form_data(**{component: text}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert any(error.startswith(message) for error in errors_in(page)), errors_in(page)
    assert textarea(page, component).replace("\r\n", "\n") == text
    assert textarea(page, "actions" if component != "actions" else "risks")  # others kept too
    db.session.expire_all()
    assert (
        db.session.scalar(select(PlanTemplate).where(PlanTemplate.key == "renewal-rescue")) is None
    )


def test_missing_name_and_bad_choices_are_refused(client, login, lead):
    login(lead)
    response = client.post(
        "/templates/new", data=form_data(name=" ", plan_type="solo", review_cadence="daily")
    )
    assert response.status_code == 422
    errors = errors_in(response.get_data(as_text=True))
    assert "Give the template a name." in errors
    assert "Choose one of: high-touch, low-touch, hybrid, joint." in errors
    assert "Choose one of: weekly, monthly, quarterly." in errors


@pytest.mark.parametrize("role", ["viewer", "csm"])
def test_viewers_and_csms_cannot_write(client, login, lead, now, role):
    custom_template(lead, now)
    login(UserFactory(role=role))
    assert client.get("/templates/new").status_code == 403
    assert client.post("/templates/new", data=form_data(key="mine")).status_code == 403
    assert client.get("/templates/renewal-rescue/edit").status_code == 403
    assert (
        client.post("/templates/renewal-rescue/edit", data=form_data(name="Hijacked")).status_code
        == 403
    )
    assert (
        client.post(
            "/templates/joint/duplicate", data={"key": "my-joint", "name": "Mine"}
        ).status_code
        == 403
    )
    assert client.post("/templates/renewal-rescue/delete").status_code == 403
    db.session.expire_all()
    assert plan_service.get_template("renewal-rescue").name == "Renewal rescue"
    assert db.session.scalar(select(PlanTemplate).where(PlanTemplate.key == "my-joint")) is None
    with pytest.raises(PermissionDenied):
        template_service.create_template(
            form_data(key="mine"), user=UserFactory(role=role), now=now
        )


# --- editing -----------------------------------------------------------------------------------


def test_edit_form_is_prefilled_with_rows_as_lines(client, login, lead):
    login(lead)
    page = client.get("/templates/enterprise-high-touch/edit").get_data(as_text=True)
    milestones = textarea(page, "milestones").splitlines()
    assert milestones[0] == (
        "implementation | Technical setup complete | 30 | Integrations "
        "live, SSO configured, data migrated."
    )
    outcomes = textarea(page, "outcomes").splitlines()
    assert outcomes[1] == (
        "Reduce average ticket resolution time | Average resolution time | h | 18 | 8 | 180"
    )
    assert textarea(page, "actions").splitlines()[1] == (
        "Confirm the executive sponsor and book the first quarterly business review | 14 | "
        "Technical setup complete"
    )
    assert 'name="key"' not in page  # the key is shown, not editable
    assert "enterprise-high-touch" in page


def test_built_in_rows_survive_an_unchanged_save(lead, now):
    for builtin in BUILTIN_TEMPLATES:
        template = plan_service.get_template(builtin["key"])
        texts = template_service.editor_text(template)
        template_service.update_template(template, texts, user=lead, now=now)
        for component in texts:
            stored = [
                {k: v for k, v in row.items() if v is not None}
                for row in template.content[component]
            ]
            original = [
                {k: v for k, v in row.items() if v is not None}
                for row in builtin["content"].get(component, [])
            ]
            assert stored == original, (builtin["key"], component)


def test_lead_edits_a_built_in_template_and_other_content_is_kept(client, login, lead):
    login(lead)
    page = client.get("/templates/scaled-low-touch/edit").get_data(as_text=True)
    data = {
        name: textarea(page, name)
        for name in ("outcomes", "milestones", "risks", "actions", "description")
    }
    data.update(
        name="Scaled low-touch plan v2",
        plan_type="low-touch",
        review_cadence="monthly",
        milestones=data["milestones"] + "\nadoption | Second feature activated | 45",
    )
    response = client.post("/templates/scaled-low-touch/edit", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    template = plan_service.get_template("scaled-low-touch")
    assert template.name == "Scaled low-touch plan v2"
    assert template.review_cadence == "monthly"
    assert template.built_in is True
    assert template.content["milestones"][-1]["title"] == "Second feature activated"
    assert len(template.content["milestones"]) == 6
    assert len(template.content["journey_triggers"]) == 6
    assert len(template.content["self_service_resources"]) == 4
    assert template.updated_by_id == lead.id
    history = client.get("/templates/scaled-low-touch").get_data(as_text=True)
    assert "Lena Lead" in history and "changed name, review cadence, rows" in history


def test_edit_with_a_bad_line_keeps_everything_typed(client, login, lead, now):
    custom_template(lead, now)
    login(lead)
    data = form_data(
        name="Renamed", actions="Book the kickoff | 3 | Kickoff held\nSend the agenda | next week"
    )
    data.pop("key")
    response = client.post("/templates/renewal-rescue/edit", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Actions line 2: due day offset must be a whole number" in errors_in(page)
    assert 'value="Renamed"' in page
    assert textarea(page, "actions").replace("\r\n", "\n").endswith("Send the agenda | next week")
    db.session.expire_all()
    assert plan_service.get_template("renewal-rescue").name == "Renewal rescue"


def test_key_cannot_change_after_creation(lead, now):
    template = custom_template(lead, now)
    with pytest.raises(ValidationError) as refused:
        template_service.update_template(
            template, {"key": "other-key", "name": "X"}, user=lead, now=now
        )
    assert "cannot change" in refused.value.fields["key"]
    assert template.key == "renewal-rescue" and template.name == "Renewal rescue"


def test_posting_a_key_to_the_edit_form_does_not_change_it(client, login, lead, now):
    custom_template(lead, now)
    login(lead)
    response = client.post("/templates/renewal-rescue/edit", data=form_data(key="sneaky"))
    assert response.status_code == 302
    db.session.expire_all()
    assert plan_service.get_template("renewal-rescue").key == "renewal-rescue"
    assert db.session.scalar(select(PlanTemplate).where(PlanTemplate.key == "sneaky")) is None


# --- duplicating and deleting -------------------------------------------------------------------


def test_duplicate_a_built_in_under_a_new_key(client, login, lead):
    login(lead)
    response = client.post(
        "/templates/enterprise-high-touch/duplicate",
        data={"key": "enterprise-emea", "name": "Enterprise EMEA"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/templates/enterprise-emea/edit")
    db.session.expire_all()
    copy = plan_service.get_template("enterprise-emea")
    original = plan_service.get_template("enterprise-high-touch")
    assert copy.built_in is False and copy.name == "Enterprise EMEA"
    assert copy.content == original.content
    assert (copy.plan_type, copy.review_cadence) == (original.plan_type, original.review_cadence)


@pytest.mark.parametrize(
    "key, message",
    [
        ("joint", "already used"),
        ("Enterprise EMEA", "lowercase letters, digits and hyphens"),
        ("", "Give the template a key"),
    ],
)
def test_duplicate_with_a_bad_key_is_refused(client, login, lead, key, message):
    login(lead)
    response = client.post(
        "/templates/enterprise-high-touch/duplicate", data={"key": key, "name": "Copy"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert any(message in error for error in errors_in(page)), errors_in(page)
    assert f'value="{html.escape(key)}"' in page or key == ""
    db.session.expire_all()
    assert db.session.scalar(select(PlanTemplate).where(PlanTemplate.name == "Copy")) is None


def test_delete_a_custom_template(client, login, lead, now):
    custom_template(lead, now)
    login(lead)
    response = client.post("/templates/renewal-rescue/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/templates")
    db.session.expire_all()
    assert (
        db.session.scalar(select(PlanTemplate).where(PlanTemplate.key == "renewal-rescue")) is None
    )
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_id == "renewal-rescue")
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["created", "deleted"]


def test_built_in_template_cannot_be_deleted(client, login, lead):
    login(UserFactory(role="admin"))
    response = client.post("/templates/joint/delete", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "is built in and cannot be deleted" in html.unescape(page)
    db.session.expire_all()
    assert plan_service.get_template("joint").built_in is True


# --- plans from templates ----------------------------------------------------------------------


def test_plan_from_a_custom_template_gets_the_edited_rows(client, login, lead, now):
    login(lead)
    client.post("/templates/new", data=form_data())
    client.post(
        "/templates/renewal-rescue/edit",
        data=form_data(milestones=MILESTONES + "\nexpansion | Second team onboarded | 200"),
    )
    db.session.expire_all()
    account = AccountFactory(contract_start=date(2026, 3, 1), csm=UserFactory(role="csm"))
    template = plan_service.get_template("renewal-rescue")
    plan = plan_service.create_plan(account, {}, user=lead, now=now, template=template)
    assert plan.plan_type == "high-touch" and plan.review_cadence == "weekly"
    assert plan.template_key == "renewal-rescue"
    start = date(2026, 3, 1)
    milestones = {m.title: m for m in plan.milestones}
    assert milestones["Second team onboarded"].target_date == start + timedelta(days=200)
    assert milestones["Kickoff held"].success_criteria == "Both sponsors attend"
    outcome = next(o for o in plan.outcomes if o.title == "Faster onboarding")
    assert (outcome.baseline, outcome.target, outcome.unit) == (30.0, 10.0, "days")
    assert outcome.target_date == start + timedelta(days=90)
    risk = next(r for r in plan.risks if r.title == "Champion leaves")
    assert (risk.category, risk.likelihood, risk.impact) == (
        "single_threaded_champion",
        "high",
        "high",
    )
    action = next(a for a in plan.actions if a.title == "Book the kickoff")
    assert action.due_date == start + timedelta(days=3)
    assert action.milestone.title == "Kickoff held"


def test_action_naming_a_milestone_on_a_refused_line_is_not_refused_too(lead, now):
    values = form_data(
        milestones="implementation | Kickoff held | soon",
        actions="Book the kickoff | 3 | Kickoff held\nCall | 4 | Nope",
    )
    with pytest.raises(ValidationError) as refused:
        template_service.create_template(values, user=lead, now=now)
    assert refused.value.messages == {
        "milestones": ["Milestones line 1: day offset must be a whole number"],
        "actions": [
            "Actions line 2: no milestone is titled “Nope” (leave the field empty or "
            "copy a title from Milestones)"
        ],
    }
