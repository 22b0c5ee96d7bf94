"""Plan pages in the browser: the plan list, the plan page with its seven components, every form
(success and refusal), conflicts, roles, history and the query bound."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.plans import service
from cs_app.plans.models import (
    ActionItem,
    Milestone,
    Outcome,
    OutcomeMeasurement,
    PlanChange,
    Review,
    Risk,
    Stakeholder,
)
from tests.factories import (
    AccountFactory,
    ActionFactory,
    ContactFactory,
    MilestoneFactory,
    OutcomeFactory,
    PlanFactory,
    RiskFactory,
    StakeholderFactory,
    UserFactory,
)

TODAY = utcnow().date()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
def csm(app):
    return UserFactory(role="csm", name="Casey CSM")


@pytest.fixture
def plan(app, csm):
    """An active plan of Casey's account with one row of every component."""
    account = AccountFactory(
        name="Acme Corp", csm=csm, external_id="ACME-1", primary_use_case="Route support tickets"
    )
    plan = PlanFactory(
        account=account,
        owner=csm,
        title="Acme success plan",
        status="active",
        next_review_on=TODAY + timedelta(days=10),
    )
    champion = ContactFactory(account=account, name="Sarah Chen", title="VP Operations")
    OutcomeFactory(
        plan=plan, title="Faster resolution", baseline=18.0, target=8.0, current_value=13.0
    )
    MilestoneFactory(plan=plan, title="SSO live", target_date=TODAY + timedelta(days=20))
    StakeholderFactory(plan=plan, contact=champion, role="champion")
    RiskFactory(plan=plan, title="Budget freeze", likelihood="high", impact="high")
    ActionFactory(plan=plan, title="Send rollout guide", due_date=TODAY + timedelta(days=5))
    db.session.add(
        Review(
            plan=plan,
            held_on=TODAY - timedelta(days=20),
            attendees="Casey, Sarah",
            notes="Kick-off",
        )
    )
    db.session.commit()
    return plan


def page(client, plan_id: int) -> str:
    response = client.get(f"/plans/{plan_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def field_value(html: str, element_id: str) -> str | None:
    """The value an input with ``element_id`` shows (or the selected option of a select)."""
    tag = re.search(rf'<input[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    if tag:
        value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
        return value.group(1) if value else ""
    select_html = re.search(
        rf'<select[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</select>', html, re.S
    )
    if select_html:
        chosen = re.search(
            r'<option[^>]*selected[^>]*value="([^"]*)"|'
            r'<option[^>]*value="([^"]*)"[^>]*selected',
            select_html.group(1),
        )
        return (chosen.group(1) or chosen.group(2)) if chosen else None
    area = re.search(
        rf'<textarea[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</textarea>', html, re.S
    )
    return area.group(1).strip() if area else None


def error_after(html: str, element_id: str) -> str | None:
    match = re.search(
        rf'<p class="field-error" id="{re.escape(element_id)}-error">([^<]*)</p>', html
    )
    return match.group(1) if match else None


def is_open(html: str, key: str) -> bool:
    return (
        re.search(rf'<details class="editor" id="editor-{re.escape(key)}" open>', html) is not None
    )


def post(client, url: str, data: dict):
    return client.post(url, data={k: ("" if v is None else v) for k, v in data.items()})


def action_data(plan, **changes) -> dict:
    values = {
        "title": "Configure SSO",
        "owner": f"user:{plan.owner_id}",
        "due_date": day(7),
        "status": "open",
        "milestone_id": "",
        "completed_on": "",
    }
    values.update(changes)
    return values


# --- the plan page ------------------------------------------------------------------------------


def test_plan_pages_require_sign_in(client, plan):
    for url in (f"/plans/{plan.id}", "/plans", f"/plans/{plan.id}/history"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(f"/plans/{plan.id}/actions", data=action_data(plan))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_plan_and_component_are_404(client, login, plan, csm):
    login(csm)
    assert client.get("/plans/999999").status_code == 404
    assert client.post(f"/plans/{plan.id}/budgets", data={}).status_code == 404


def test_plan_page_shows_header_and_all_seven_components(client, login, plan, csm):
    login(csm)
    html = page(client, plan.id)
    assert "Acme success plan" in html and 'href="/accounts/ACME-1"' in html
    assert "Monthly" in html and f"v{plan.version}" in html
    for section in (
        "profile",
        "outcomes",
        "milestones",
        "stakeholders",
        "risks",
        "actions",
        "reviews",
        "history",
    ):
        assert f'id="{section}"' in html
    assert "Route support tickets" in html  # the profile comes from the account
    assert "Faster resolution" in html and "lower is better" in html
    assert 'value="50" max="100"' in html  # 18 h → 8 h at 13 h is half way
    assert "SSO live" in html and "Sarah Chen" in html and "Budget freeze" in html
    assert "badge-critical" in html  # high × high
    assert "Send rollout guide" in html and "Casey, Sarah" in html
    assert f'href="/plans/{plan.id}/export.md"' in html and "data-print" in html
    assert f'href="/plans/{plan.id}/history"' in html


def test_warning_flags_show_overdue_items_review_and_people(client, login, plan, csm):
    plan.next_review_on = TODAY - timedelta(days=3)
    ActionFactory(plan=plan, title="Late task", due_date=TODAY - timedelta(days=2))
    MilestoneFactory(plan=plan, title="Late milestone", target_date=TODAY - timedelta(days=1))
    gone = ContactFactory(
        account=plan.account,
        name="Quiet Quinn",
        engagement="low",
        last_contact_on=TODAY - timedelta(days=90),
    )
    StakeholderFactory(plan=plan, contact=gone, role="end_user")
    left = ContactFactory(account=plan.account, name="Departed Dana", status="departed")
    StakeholderFactory(plan=plan, contact=left, role="billing")
    db.session.commit()
    login(csm)
    html = page(client, plan.id)
    assert "Review overdue by 3 days" in html
    assert "1 action(s) past due." in html and "1 milestone(s) past target." in html
    assert "1 open high-severity risk(s)." in html
    assert "Single-threaded: only Sarah Chen is an engaged customer contact." in html
    assert "Quiet Quinn: no contact for 90 days." in html
    assert "Departed Dana has left the company." in html
    late = db.session.scalar(select(ActionItem).where(ActionItem.title == "Late task"))
    assert re.search(rf'<tr id="action-{late.id}" class="is-overdue', html)


def test_dark_threshold_comes_from_config(client, login, plan, csm, monkeypatch):
    quiet = ContactFactory(
        account=plan.account, name="Quiet Quinn", last_contact_on=TODAY - timedelta(days=20)
    )
    StakeholderFactory(plan=plan, contact=quiet, role="end_user")
    db.session.commit()
    login(csm)
    assert "Quiet Quinn: no contact" not in page(client, plan.id)
    monkeypatch.setitem(client.application.config, "STAKEHOLDER_DARK_DAYS", 14)
    assert "Quiet Quinn: no contact for 20 days." in page(client, plan.id)


def test_owner_select_offers_contacts_and_active_users_grouped(client, login, plan, csm):
    UserFactory(role="viewer", name="Vera Viewer")
    UserFactory(role="csm", name="Ivan Inactive", active=False)
    db.session.commit()
    login(csm)
    html = page(client, plan.id)
    owner = re.search(r'<select[^>]*id="add-actions-owner"[^>]*>(.*?)</select>', html, re.S)
    assert owner, "the add-action form has an owner select"
    options = owner.group(1)
    assert '<optgroup label="Our team">' in options
    assert '<optgroup label="Acme Corp contacts">' in options
    assert f'value="user:{csm.id}"' in options
    assert "Sarah Chen" in options and "Vera Viewer" not in options
    assert "Ivan Inactive" not in options
    assert "<input" not in options


def test_every_row_has_its_own_edit_form_with_its_own_values(client, login, plan, csm):
    """Row edit forms are filled one after the other from one form per component: each row
    must still show its own values, and a departed owner only on the row they own."""
    gone = UserFactory(role="csm", name="Gina Gone", active=False)
    sarah = plan.stakeholders[0].contact
    second = ActionFactory(
        plan=plan,
        title="Book the QBR",
        due_date=TODAY + timedelta(days=9),
        status="blocked",
        owner_user=gone,
        milestone=plan.milestones[0],
    )
    third = ActionFactory(
        plan=plan,
        title="Invite <Tom> & co",
        owner_user=None,
        owner_contact=sarah,
        due_date=TODAY + timedelta(days=12),
    )
    db.session.commit()
    first = plan.actions[0]
    login(csm)
    html = page(client, plan.id)
    for action in (first, second, third):
        key = f"actions-{action.id}"
        assert f'<form method="post" action="/plans/{plan.id}/actions/{action.id}"' in html
        assert f'<details class="editor" id="editor-{key}" >' in html
        assert field_value(html, f"{key}-due_date") == action.due_date.isoformat()
        assert field_value(html, f"{key}-version") == str(action.version)
        assert f'<form method="post" action="/plans/{plan.id}/actions/{action.id}/delete"' in html
    assert field_value(html, f"actions-{first.id}-title") == "Send rollout guide"
    assert field_value(html, f"actions-{third.id}-title") == "Invite &lt;Tom&gt; &amp; co"
    assert field_value(html, f"actions-{first.id}-owner") == f"user:{first.owner_user_id}"
    assert field_value(html, f"actions-{second.id}-owner") == f"user:{gone.id}"
    assert field_value(html, f"actions-{third.id}-owner") == f"contact:{sarah.id}"
    assert field_value(html, f"actions-{second.id}-status") == "blocked"
    assert field_value(html, f"actions-{second.id}-milestone_id") == str(plan.milestones[0].id)
    assert field_value(html, f"actions-{third.id}-milestone_id") is None  # "— none —"
    assert html.count("Gina Gone (no longer active)") == 1
    assert "Gina Gone" not in re.search(
        rf'<select[^>]*id="actions-{third.id}-owner"[^>]*>(.*?)</select>', html, re.S
    ).group(1)
    # the outcome's measurement form and the other components' rows too
    outcome = plan.outcomes[0]
    assert field_value(html, f"measure-{outcome.id}-measured_on") == TODAY.isoformat()
    assert f'action="/plans/{plan.id}/outcomes/{outcome.id}/measurements"' in html
    assert field_value(html, f"outcomes-{outcome.id}-title") == "Faster resolution"
    assert field_value(html, f"risks-{plan.risks[0].id}-title") == "Budget freeze"
    assert field_value(html, f"stakeholders-{plan.stakeholders[0].id}-role") == "champion"


def test_the_row_form_urls_are_the_routes_urls(app, plan, csm):
    from flask import url_for
    from flask_login import login_user

    from cs_app.plans import forms
    from cs_app.plans.views import PlanEditors

    with app.test_request_context():
        login_user(csm)
        editors = PlanEditors(plan, forms.plan_choices(plan), TODAY, None)
        for component in service.COMPONENTS:
            assert editors.add_url(component) == url_for(
                "plans.add_item", plan_id=plan.id, component=component
            )
            assert editors.edit_url(component, 42) == url_for(
                "plans.edit_item", plan_id=plan.id, component=component, item_id=42
            )
            assert editors.delete_url(component, 42) == url_for(
                "plans.delete_item", plan_id=plan.id, component=component, item_id=42
            )
        assert editors.measurement_url(7) == url_for(
            "plans.add_measurement", plan_id=plan.id, item_id=7
        )


def test_joint_plan_has_share_panel_with_active_link_count(client, login, plan, csm, now):
    plan.plan_type = "joint"
    service.create_share_link(plan, user=csm, now=now)
    service.create_share_link(plan, user=csm, now=now)
    db.session.commit()
    login(csm)
    html = page(client, plan.id)
    assert "Share with customer" in html and "2 active links" in html
    assert f'action="/plans/{plan.id}/share"' in html
    assert f'action="/plans/{plan.id}/share/revoke"' in html


def test_non_joint_plan_has_no_share_panel(client, login, plan, csm):
    login(csm)
    assert "Share with customer" not in page(client, plan.id)


# --- roles --------------------------------------------------------------------------------------


def all_post_urls(plan) -> list[str]:
    urls = [
        f"/plans/{plan.id}/edit",
        f"/plans/{plan.id}/profile",
        f"/plans/{plan.id}/outcomes/{plan.outcomes[0].id}/measurements",
    ]
    for component in service.COMPONENTS:
        item = getattr(plan, component)[0]
        urls += [
            f"/plans/{plan.id}/{component}",
            f"/plans/{plan.id}/{component}/{item.id}",
            f"/plans/{plan.id}/{component}/{item.id}/delete",
        ]
    return urls


def test_viewer_sees_no_edit_controls(client, login, plan):
    plan.plan_type = "joint"
    db.session.commit()
    login(UserFactory(role="viewer"))
    html = page(client, plan.id)
    assert "Faster resolution" in html and "Share with customer" in html
    assert 'class="editor"' not in html
    assert f'action="/plans/{plan.id}' not in html
    assert "Delete" not in html and "Edit plan" not in html and "+ Add" not in html
    assert "Create share link" not in html


def test_viewer_gets_403_on_every_post(client, login, plan):
    login(UserFactory(role="viewer"))
    for url in all_post_urls(plan):
        assert client.post(url, data={"title": "x"}).status_code == 403, url
    db.session.expire_all()
    assert db.session.scalar(select(PlanChange).where(PlanChange.plan_id == plan.id)) is None


def test_csm_of_another_account_cannot_edit(client, login, plan):
    other = UserFactory(role="csm", name="Other CSM")
    db.session.commit()
    login(other)
    html = page(client, plan.id)
    assert 'class="editor"' not in html
    for url in all_post_urls(plan):
        assert client.post(url, data={"title": "x"}).status_code == 403, url


def test_plan_owner_who_is_not_the_account_csm_can_edit(client, login, plan):
    owner = UserFactory(role="csm")
    plan.owner = owner
    db.session.commit()
    login(owner)
    response = post(client, f"/plans/{plan.id}/actions", action_data(plan))
    assert response.status_code == 302


def test_lead_can_edit_every_plan(client, login, plan):
    lead = UserFactory(role="lead", name="Lena Lead")
    db.session.commit()
    login(lead)
    assert 'id="editor-add-actions"' in page(client, plan.id)
    response = post(
        client,
        f"/plans/{plan.id}/actions",
        action_data(plan, owner=f"user:{lead.id}", title="Exec sync"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    action = db.session.scalar(select(ActionItem).where(ActionItem.title == "Exec sync"))
    assert action.owner_user_id == lead.id


# --- plan header ---------------------------------------------------------------------------------


def header_data(plan, **changes) -> dict:
    values = {
        "title": plan.title,
        "plan_type": plan.plan_type,
        "status": plan.status,
        "owner_id": str(plan.owner_id),
        "review_cadence": plan.review_cadence,
        "next_review_on": plan.next_review_on.isoformat(),
        "summary": "",
        "version": str(plan.version),
    }
    values.update(changes)
    return values


def test_edit_header_saves_and_records_history(client, login, plan, csm):
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/edit",
        header_data(plan, title="Acme plan FY27", review_cadence="quarterly"),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/plans/{plan.id}#plan")
    db.session.expire_all()
    assert (plan.title, plan.review_cadence) == ("Acme plan FY27", "quarterly")
    html = page(client, plan.id)
    assert "Plan saved." in html
    assert re.search(r"title:\s*<del>Acme success plan</del> → <ins>Acme plan FY27</ins>", html)
    assert re.search(r"review cadence:\s*<del>Monthly</del> → <ins>Quarterly</ins>", html)


def test_edit_header_refuses_blank_title_and_keeps_typed_values(client, login, plan, csm):
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/edit",
        header_data(plan, title="  ", status="completed", summary="Wrapped up"),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "plan-title") == "Give the plan a title."
    assert is_open(html, "plan")
    assert field_value(html, "plan-status") == "completed"
    assert field_value(html, "plan-summary") == "Wrapped up"
    db.session.expire_all()
    assert plan.title == "Acme success plan" and plan.status == "active"


def test_edit_header_refuses_a_viewer_as_owner(client, login, plan, csm):
    viewer = UserFactory(role="viewer")
    db.session.commit()
    login(csm)
    response = post(client, f"/plans/{plan.id}/edit", header_data(plan, owner_id=str(viewer.id)))
    assert response.status_code == 422
    assert error_after(response.get_data(as_text=True), "plan-owner_id") == (
        "The plan owner must be an active CSM, lead or admin."
    )


def test_edit_header_refuses_a_malformed_date(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/edit", header_data(plan, next_review_on="soon"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "plan-next_review_on") == "Enter a date as YYYY-MM-DD."


def test_header_conflict_keeps_typed_values_and_shows_saved_ones(client, login, plan, csm):
    lead = UserFactory(role="lead", name="Lena Lead")
    db.session.commit()
    seen = header_data(plan)
    login(lead)
    assert (
        post(client, f"/plans/{plan.id}/edit", {**seen, "title": "Lena's title"}).status_code == 302
    )
    client.post("/logout")
    login(csm)
    response = post(client, f"/plans/{plan.id}/edit", {**seen, "title": "Casey's title"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Lena Lead changed this plan" in html and "Your changes were not saved" in html
    assert is_open(html, "plan")
    assert field_value(html, "plan-title") == "Casey&#39;s title"
    assert "<h1>Lena&#39;s title</h1>" in html  # what is saved now, on the same page
    assert re.search(
        r'<td class="saved">Lena&#39;s title</td><td class="typed">Casey&#39;s '
        r"title</td>",
        html,
    )
    db.session.expire_all()
    assert plan.title == "Lena's title"
    assert field_value(html, "plan-version") == str(plan.version)  # saving again wins


# --- profile -------------------------------------------------------------------------------------


def profile_data(account, **changes) -> dict:
    values = {
        "name": account.name,
        "domain": "",
        "industry": "Software",
        "employees": "",
        "segment": account.segment,
        "engagement_model": account.engagement_model,
        "contract_start": account.contract_start.isoformat(),
        "renewal_date": account.renewal_date.isoformat(),
        "primary_use_case": account.primary_use_case or "",
        "purchase_trigger": "",
        "previous_solutions": "",
        "strategic_priorities": "",
    }
    values.update(changes)
    return values


def test_profile_edit_changes_the_account_and_is_recorded_on_the_plan(client, login, plan, csm):
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/profile",
        profile_data(plan.account, employees="250", strategic_priorities="Expand to EU"),
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#profile")
    db.session.expire_all()
    assert plan.account.employees == 250 and plan.account.strategic_priorities == "Expand to EU"
    change = db.session.scalar(
        select(PlanChange).where(PlanChange.component == "profile", PlanChange.field == "employees")
    )
    assert (change.old_value, change.new_value) == (None, "250")


def test_profile_refuses_blank_name_and_bad_numbers(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/profile", profile_data(plan.account, name=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "profile-name") == "The account needs a name."
    assert is_open(html, "profile")
    response = post(
        client,
        f"/plans/{plan.id}/profile",
        profile_data(plan.account, employees="lots", industry="Retail"),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "profile-employees") == "Enter a whole number, e.g. 250."
    assert field_value(html, "profile-industry") == "Retail"
    response = post(
        client, f"/plans/{plan.id}/profile", profile_data(plan.account, segment="Galactic")
    )
    assert response.status_code == 422
    assert error_after(response.get_data(as_text=True), "profile-segment") == (
        "Choose one of: SMB, Mid-Market, Enterprise."
    )
    db.session.expire_all()
    assert plan.account.name == "Acme Corp" and plan.account.industry == "Software"
    assert plan.account.segment == "Mid-Market"


# --- outcomes and measurements ------------------------------------------------------------------


def outcome_data(**changes) -> dict:
    values = {
        "title": "Raise adoption",
        "metric": "Weekly active users",
        "unit": "%",
        "baseline": "40",
        "target": "75",
        "current_value": "40",
        "target_date": day(90),
        "status": "on_track",
    }
    values.update(changes)
    return values


def test_add_edit_delete_outcome(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/outcomes", outcome_data())
    assert response.status_code == 302 and response.headers["Location"].endswith("#outcomes")
    db.session.expire_all()
    outcome = db.session.scalar(select(Outcome).where(Outcome.title == "Raise adoption"))
    assert (outcome.baseline, outcome.target, outcome.unit) == (40.0, 75.0, "%")
    response = post(
        client,
        f"/plans/{plan.id}/outcomes/{outcome.id}",
        outcome_data(current_value="57.5", status="at_risk", version=str(outcome.version)),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert outcome.current_value == 57.5 and outcome.status == "at_risk"
    assert 'value="50" max="100"' in page(client, plan.id)
    response = client.post(f"/plans/{plan.id}/outcomes/{outcome.id}/delete")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Outcome, outcome.id) is None


def test_add_outcome_refusals_keep_typed_values(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/outcomes", outcome_data(metric=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-outcomes-metric") == "Name the metric (KPI) that measures it."
    assert field_value(html, "add-outcomes-title") == "Raise adoption"
    assert is_open(html, "add-outcomes")
    response = post(client, f"/plans/{plan.id}/outcomes", outcome_data(baseline="forty"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-outcomes-baseline") == "Enter a number, e.g. 12.5."
    assert field_value(html, "add-outcomes-baseline") == "forty"
    db.session.expire_all()
    assert len(plan.outcomes) == 1


def test_edit_outcome_refuses_blank_title(client, login, plan, csm):
    outcome = plan.outcomes[0]
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/outcomes/{outcome.id}",
        outcome_data(title="", version=str(outcome.version)),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, f"outcomes-{outcome.id}-title") == "Name the outcome."
    assert is_open(html, f"outcomes-{outcome.id}")


def test_measurement_becomes_current_value_and_shows_in_history(client, login, plan, csm):
    outcome = plan.outcomes[0]
    login(csm)
    for measured_on, value in ((day(-20), "15"), (day(-1), "11")):
        response = post(
            client,
            f"/plans/{plan.id}/outcomes/{outcome.id}/measurements",
            {"measured_on": measured_on, "value": value},
        )
        assert response.status_code == 302
    db.session.expire_all()
    assert outcome.current_value == 11.0
    values = db.session.scalars(
        select(OutcomeMeasurement.value).where(OutcomeMeasurement.outcome_id == outcome.id)
    ).all()
    assert sorted(values) == [11.0, 15.0]
    html = page(client, plan.id)
    assert f"{day(-1)}: 11 h" in html and "<polyline" in html
    assert 'value="70" max="100"' in html  # 18 h → 8 h at 11 h


def test_measurement_refusals(client, login, plan, csm):
    outcome = plan.outcomes[0]
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/outcomes/{outcome.id}/measurements",
        {"measured_on": day(0), "value": ""},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, f"measure-{outcome.id}-value") == "Give the value."
    assert error_after(html, f"measure-{outcome.id}-measured_on") is None
    assert is_open(html, f"measure-{outcome.id}")
    response = post(
        client,
        f"/plans/{plan.id}/outcomes/{outcome.id}/measurements",
        {"measured_on": "", "value": "12"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error_after(html, f"measure-{outcome.id}-measured_on") == "Give the date."
    assert (
        field_value(html, f"measure-{outcome.id}-value") == "12.0"
        or field_value(html, f"measure-{outcome.id}-value") == "12"
    )
    db.session.expire_all()
    assert outcome.current_value == 13.0


# --- milestones ---------------------------------------------------------------------------------


def milestone_data(plan, **changes) -> dict:
    values = {
        "phase": "adoption",
        "title": "Half the agents active",
        "target_date": day(40),
        "success_criteria": "50% weekly active",
        "owner": f"user:{plan.owner_id}",
        "status": "planned",
        "completed_on": "",
    }
    values.update(changes)
    return values


def test_add_edit_delete_milestone(client, login, plan, csm):
    sarah = plan.stakeholders[0].contact
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/milestones",
        milestone_data(plan, owner=f"contact:{sarah.id}", phase="Go-live party"),
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#milestones")
    db.session.expire_all()
    milestone = db.session.scalar(
        select(Milestone).where(Milestone.title == "Half the agents active")
    )
    assert milestone.owner_contact_id == sarah.id and milestone.phase == "Go-live party"
    response = post(
        client,
        f"/plans/{plan.id}/milestones/{milestone.id}",
        milestone_data(plan, status="done", version=str(milestone.version)),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert milestone.status == "done" and milestone.completed_on == TODAY
    assert milestone.owner_user_id == plan.owner_id
    assert client.post(f"/plans/{plan.id}/milestones/{milestone.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Milestone, milestone.id) is None


def test_deleting_a_milestone_keeps_its_actions_unlinked(client, login, plan, csm):
    milestone = plan.milestones[0]
    action = ActionFactory(plan=plan, title="Linked", milestone=milestone)
    db.session.commit()
    login(csm)
    assert client.post(f"/plans/{plan.id}/milestones/{milestone.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Milestone, milestone.id) is None
    assert db.session.get(ActionItem, action.id).milestone_id is None
    assert "Linked" in page(client, plan.id)


def test_milestone_refusals(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/milestones", milestone_data(plan, target_date=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-milestones-target_date") == "A milestone needs a target date."
    assert field_value(html, "add-milestones-title") == "Half the agents active"
    milestone = plan.milestones[0]
    response = post(
        client,
        f"/plans/{plan.id}/milestones/{milestone.id}",
        milestone_data(plan, owner="The customer", version=str(milestone.version)),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Pick a named person as owner" in error_after(html, f"milestones-{milestone.id}-owner")
    assert field_value(html, f"milestones-{milestone.id}-title") == "Half the agents active"


# --- stakeholders -------------------------------------------------------------------------------


def test_add_edit_delete_stakeholder_writes_through_to_the_contact(client, login, plan, csm):
    tom = ContactFactory(account=plan.account, name="Tom Becker", engagement="low")
    db.session.commit()
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/stakeholders",
        {
            "person": f"contact:{tom.id}",
            "role": "technical_admin",
            "influence": "influencer",
            "engagement": "high",
            "last_contact_on": day(-2),
            "notes": "Owns SSO",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#stakeholders")
    db.session.expire_all()
    stakeholder = db.session.scalar(select(Stakeholder).where(Stakeholder.contact_id == tom.id))
    assert stakeholder.role == "technical_admin" and stakeholder.notes == "Owns SSO"
    assert (tom.influence, tom.engagement) == ("influencer", "high")
    response = post(
        client,
        f"/plans/{plan.id}/stakeholders/{stakeholder.id}",
        {
            "role": "champion",
            "influence": "",
            "engagement": "medium",
            "last_contact_on": "",
            "notes": "",
            "version": str(stakeholder.version),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert stakeholder.role == "champion" and stakeholder.notes is None
    assert tom.engagement == "medium" and tom.influence == "influencer"  # blank keeps it
    assert tom.last_contact_on == TODAY - timedelta(days=2)
    assert client.post(f"/plans/{plan.id}/stakeholders/{stakeholder.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Stakeholder, stakeholder.id) is None


def test_add_internal_user_as_stakeholder(client, login, plan, csm):
    login(csm)
    response = post(
        client, f"/plans/{plan.id}/stakeholders", {"person": f"user:{csm.id}", "role": "csm"}
    )
    assert response.status_code == 302
    html = page(client, plan.id)
    assert re.search(r"Casey CSM</strong>\s*<span class=\"badge badge-internal\">Our team", html)


def test_stakeholder_refusals(client, login, plan, csm):
    sarah = plan.stakeholders[0].contact
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/stakeholders",
        {"person": f"contact:{sarah.id}", "role": "champion", "notes": "Again"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-stakeholders-person") == (
        "This person is already on the stakeholder map."
    )
    assert field_value(html, "add-stakeholders-notes") == "Again"
    response = post(
        client, f"/plans/{plan.id}/stakeholders", {"person": "Procurement team", "role": "champion"}
    )
    assert response.status_code == 422
    assert "Pick a named person" in error_after(
        response.get_data(as_text=True), "add-stakeholders-person"
    )
    stakeholder = plan.stakeholders[0]
    response = post(
        client,
        f"/plans/{plan.id}/stakeholders/{stakeholder.id}",
        {"role": "", "version": str(stakeholder.version)},
    )
    assert response.status_code == 422
    assert (
        error_after(response.get_data(as_text=True), f"stakeholders-{stakeholder.id}-role")
        == "Say what role this person plays."
    )


# --- risks --------------------------------------------------------------------------------------


def risk_data(plan, **changes) -> dict:
    values = {
        "title": "Sponsor may leave",
        "category": "executive_sponsor_departure",
        "likelihood": "medium",
        "impact": "high",
        "mitigation": "Second sponsor",
        "owner": f"user:{plan.owner_id}",
        "status": "open",
    }
    values.update(changes)
    return values


def test_add_edit_delete_risk(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/risks", risk_data(plan))
    assert response.status_code == 302 and response.headers["Location"].endswith("#risks")
    db.session.expire_all()
    risk = db.session.scalar(select(Risk).where(Risk.title == "Sponsor may leave"))
    assert re.search(rf'<tr id="risk-{risk.id}".*?badge-high', page(client, plan.id), re.S)
    response = post(
        client,
        f"/plans/{plan.id}/risks/{risk.id}",
        risk_data(plan, likelihood="low", status="mitigating", version=str(risk.version)),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (risk.likelihood, risk.status) == ("low", "mitigating")
    assert client.post(f"/plans/{plan.id}/risks/{risk.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Risk, risk.id) is None


def test_risk_refusals(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/risks", risk_data(plan, title=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-risks-title") == "Describe the risk."
    assert field_value(html, "add-risks-mitigation") == "Second sponsor"
    response = post(client, f"/plans/{plan.id}/risks", risk_data(plan, likelihood="extreme"))
    assert response.status_code == 422
    assert (
        error_after(response.get_data(as_text=True), "add-risks-likelihood")
        == "Choose one of: high, medium, low."
    )


# --- actions ------------------------------------------------------------------------------------


def test_add_edit_delete_action(client, login, plan, csm):
    milestone = plan.milestones[0]
    login(csm)
    response = post(
        client, f"/plans/{plan.id}/actions", action_data(plan, milestone_id=str(milestone.id))
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#actions")
    assert "Action added “Configure SSO”." in page(client, plan.id)
    db.session.expire_all()
    action = db.session.scalar(select(ActionItem).where(ActionItem.title == "Configure SSO"))
    assert action.milestone_id == milestone.id and action.due_date == TODAY + timedelta(days=7)
    response = post(
        client,
        f"/plans/{plan.id}/actions/{action.id}",
        action_data(plan, title="Configure SSO for EU", status="done", version=str(action.version)),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert action.title == "Configure SSO for EU" and action.milestone_id is None
    assert action.completed_on == TODAY
    assert client.post(f"/plans/{plan.id}/actions/{action.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(ActionItem, action.id) is None
    assert "Action deleted." in page(client, plan.id)


def test_action_without_due_date_is_refused_keeping_typed_values(client, login, plan, csm):
    sarah = plan.stakeholders[0].contact
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/actions",
        action_data(plan, due_date="", owner=f"contact:{sarah.id}", status="blocked"),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-actions-due_date") == "An action needs a due date."
    assert is_open(html, "add-actions")
    assert field_value(html, "add-actions-title") == "Configure SSO"
    assert field_value(html, "add-actions-owner") == f"contact:{sarah.id}"
    assert field_value(html, "add-actions-status") == "blocked"
    db.session.expire_all()
    assert len(plan.actions) == 1


def test_action_owner_free_text_is_refused(client, login, plan, csm):
    login(csm)
    response = post(client, f"/plans/{plan.id}/actions", action_data(plan, owner="Marketing team"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-actions-owner") == (
        "Pick a named person as owner: one of our users or a contact of this account "
        "(not a team or “the customer”)."
    )
    assert field_value(html, "add-actions-title") == "Configure SSO"
    other_account_contact = ContactFactory()
    db.session.commit()
    response = post(
        client,
        f"/plans/{plan.id}/actions",
        action_data(plan, owner=f"contact:{other_account_contact.id}"),
    )
    assert response.status_code == 422
    assert error_after(response.get_data(as_text=True), "add-actions-owner") == (
        "That contact is not a contact of this account."
    )


def test_edit_action_refusal_opens_that_row_only(client, login, plan, csm):
    action = plan.actions[0]
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/actions/{action.id}",
        action_data(plan, title="Renamed", due_date="", version=str(action.version)),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    key = f"actions-{action.id}"
    assert error_after(html, f"{key}-due_date") == "An action needs a due date."
    assert field_value(html, f"{key}-title") == "Renamed"
    assert is_open(html, key) and not is_open(html, "add-actions")
    assert len(re.findall(r'<details class="editor" id="editor-[^"]+" open>', html)) == 1
    db.session.expire_all()
    assert action.title == "Send rollout guide"


def test_action_conflict_second_save_gets_409_with_typed_values(client, login, plan, csm):
    action = plan.actions[0]
    lead = UserFactory(role="lead", name="Lena Lead")
    db.session.commit()
    seen = action.version
    login(lead)
    first = post(
        client,
        f"/plans/{plan.id}/actions/{action.id}",
        action_data(plan, title="Lena's version", version=str(seen)),
    )
    assert first.status_code == 302
    client.post("/logout")
    login(csm)
    second = post(
        client,
        f"/plans/{plan.id}/actions/{action.id}",
        action_data(plan, title="Casey's version", due_date=day(30), version=str(seen)),
    )
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    key = f"actions-{action.id}"
    assert "Lena Lead changed this action" in html and "Your changes were not saved" in html
    assert is_open(html, key)
    assert field_value(html, f"{key}-title") == "Casey&#39;s version"
    assert field_value(html, f"{key}-due_date") == day(30)
    assert "<strong>Lena&#39;s version</strong>" in html  # the saved row, to compare
    db.session.expire_all()
    assert action.title == "Lena's version"
    assert field_value(html, f"{key}-version") == str(action.version)
    third = post(
        client,
        f"/plans/{plan.id}/actions/{action.id}",
        action_data(plan, title="Casey's version", version=str(action.version)),
    )
    assert third.status_code == 302
    db.session.expire_all()
    assert action.title == "Casey's version"


def test_concurrent_save_caught_at_flush_is_a_conflict_too(client, login, plan, csm):
    action = plan.actions[0]
    login(csm)

    table = ActionItem.__table__
    saved_by_someone_else = []

    def someone_else_saves(session, flush_context, instances):
        """Between our read and our write, another process saves the same row."""
        if not saved_by_someone_else:
            saved_by_someone_else.append(True)
            session.connection().execute(
                update(table).where(table.c.id == action.id).values(version=table.c.version + 1)
            )

    event.listen(Session, "before_flush", someone_else_saves)
    try:
        response = post(
            client,
            f"/plans/{plan.id}/actions/{action.id}",
            action_data(plan, title="Mine", version=str(action.version)),
        )
    finally:
        event.remove(Session, "before_flush", someone_else_saves)
    assert saved_by_someone_else
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone else saved this at the same moment" in html
    assert field_value(html, f"actions-{action.id}-title") == "Mine"


def test_editing_a_deleted_item_says_so(client, login, plan, csm):
    action = plan.actions[0]
    login(csm)
    assert client.post(f"/plans/{plan.id}/actions/{action.id}/delete").status_code == 302
    response = post(client, f"/plans/{plan.id}/actions/{action.id}", action_data(plan, version="1"))
    assert response.status_code == 302
    assert "no longer exists" in page(client, plan.id)


def test_item_of_another_plan_is_not_found(client, login, plan, csm):
    other = ActionFactory(plan=PlanFactory(account=plan.account, owner=csm))
    db.session.commit()
    login(csm)
    response = client.post(f"/plans/{plan.id}/actions/{other.id}/delete")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ActionItem, other.id) is not None


# --- reviews ------------------------------------------------------------------------------------


def test_add_edit_delete_review_moves_next_review(client, login, plan, csm):
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/reviews",
        {"held_on": day(-1), "attendees": "Casey, Sarah, Tom", "notes": "QBR"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#reviews")
    db.session.expire_all()
    assert plan.last_reviewed_on == TODAY - timedelta(days=1)
    review = db.session.scalar(select(Review).where(Review.notes == "QBR"))
    html = page(client, plan.id)
    assert f"next\n      <strong>{plan.next_review_on.isoformat()}</strong>" in html
    response = post(
        client,
        f"/plans/{plan.id}/reviews/{review.id}",
        {
            "held_on": day(-1),
            "attendees": "Casey, Sarah",
            "notes": "QBR, short",
            "version": str(review.version),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert review.attendees == "Casey, Sarah"
    assert client.post(f"/plans/{plan.id}/reviews/{review.id}/delete").status_code == 302
    db.session.expire_all()
    assert plan.last_reviewed_on == TODAY - timedelta(days=20)


def test_review_refusals(client, login, plan, csm):
    login(csm)
    response = post(
        client,
        f"/plans/{plan.id}/reviews",
        {"held_on": day(0), "attendees": "", "notes": "Typed notes"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_after(html, "add-reviews-attendees") == "List who attended."
    assert field_value(html, "add-reviews-notes") == "Typed notes"
    response = post(client, f"/plans/{plan.id}/reviews", {"held_on": "", "attendees": "Casey"})
    assert (
        error_after(response.get_data(as_text=True), "add-reviews-held_on")
        == "Give the date of the review."
    )


# --- history ------------------------------------------------------------------------------------


def test_history_shows_who_when_and_old_to_new(client, login, plan, csm):
    action = plan.actions[0]
    login(csm)
    post(
        client,
        f"/plans/{plan.id}/actions/{action.id}",
        action_data(
            plan, title="Send the rollout guide", status="blocked", version=str(action.version)
        ),
    )
    html = client.get(f"/plans/{plan.id}/history").get_data(as_text=True)
    assert "Casey CSM" in html
    assert re.search(
        r"Action <q>Send rollout guide</q>\s*· title:\s*<del>Send rollout guide"
        r"</del> → <ins>Send the rollout guide</ins>",
        html,
    )
    assert re.search(r"status:\s*<del>Open</del> → <ins>Blocked</ins>", html)
    only_risks = client.get(f"/plans/{plan.id}/history?component=risks").get_data(as_text=True)
    assert "rollout guide" not in only_risks


def test_plan_page_shows_the_latest_50_changes(client, login, plan, csm, now):
    action = plan.actions[0]
    for number in range(60):
        service.update_item(
            plan,
            "actions",
            action,
            {"title": f"Title {number}"},
            expected_version=None,
            user=csm,
            now=now,
        )
    db.session.commit()
    login(csm)
    html = page(client, plan.id)
    section = html[html.index('id="history"') :]
    assert section.count("<li>") == 50
    assert "<ins>Title 59</ins>" in section and "<ins>Title 5</ins>" not in section
    assert "Showing the latest 50 changes" in section
    full = client.get(f"/plans/{plan.id}/history").get_data(as_text=True)
    assert "<ins>Title 5</ins>" in full


# --- speed --------------------------------------------------------------------------------------


def fill(plan, rows: int) -> None:
    for number in range(rows):
        contact = ContactFactory(account=plan.account)
        outcome = OutcomeFactory(plan=plan, title=f"Outcome {number}")
        db.session.add(OutcomeMeasurement(outcome=outcome, measured_on=TODAY, value=1.0))
        milestone = MilestoneFactory(plan=plan, owner_user=None, owner_contact=contact)
        StakeholderFactory(plan=plan, contact=contact)
        RiskFactory(plan=plan)
        ActionFactory(plan=plan, milestone=milestone)
        db.session.add(
            Review(
                plan=plan,
                held_on=TODAY - timedelta(days=number),
                attendees="A, B",
                recorded_by=plan.owner,
            )
        )
        db.session.add(
            PlanChange(
                plan_id=plan.id,
                changed_at=utcnow(),
                user_id=plan.owner_id,
                component="actions",
                action="updated",
                field="title",
                old_value="a",
                new_value="b",
            )
        )
    db.session.commit()


@pytest.mark.parametrize("role", ["csm", "viewer"])
def test_plan_page_query_count_does_not_grow_with_items(client, login, count_queries, role):
    small, large = PlanFactory(plan_type="joint"), PlanFactory(plan_type="joint")
    small.account.csm = small.owner
    large.account.csm = large.owner
    fill(small, 2)
    fill(large, 8)
    counts = []
    for plan in (small, large):
        client.post("/logout")
        login(plan.owner if role == "csm" else UserFactory(role="viewer"))
        db.session.expire_all()
        with count_queries() as counter:
            html = page(client, plan.id)
        assert ("editor-add-actions" in html) is (role == "csm")
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert counts[1] <= 15, counts


# --- the list of plans ---------------------------------------------------------------------------


def titles(html: str) -> list[str]:
    return re.findall(r'<a href="/plans/\d+"><strong>([^<]+)</strong></a>', html)


@pytest.fixture
def portfolio(app, csm):
    """Four plans across owners, types and states."""
    other = UserFactory(role="csm", name="Olga Other")
    alpha = PlanFactory(
        title="Alpha plan",
        account=AccountFactory(name="Zeta Corp"),
        owner=csm,
        plan_type="joint",
        status="active",
        next_review_on=TODAY - timedelta(days=4),
    )
    ActionFactory(plan=alpha, due_date=TODAY - timedelta(days=1))
    ActionFactory(plan=alpha, due_date=TODAY - timedelta(days=9))
    ActionFactory(plan=alpha, due_date=TODAY - timedelta(days=9), status="done")
    MilestoneFactory(plan=alpha, target_date=TODAY - timedelta(days=2))
    beta = PlanFactory(
        title="Beta plan",
        account=AccountFactory(name="Acme Inc"),
        owner=other,
        plan_type="low-touch",
        status="draft",
        next_review_on=TODAY + timedelta(days=3),
    )
    ActionFactory(plan=beta, due_date=TODAY - timedelta(days=1))
    gamma = PlanFactory(
        title="Gamma plan",
        account=AccountFactory(name="Midway"),
        owner=other,
        plan_type="hybrid",
        status="active",
        next_review_on=TODAY + timedelta(days=30),
    )
    delta = PlanFactory(
        title="Delta plan",
        account=AccountFactory(name="Old Co"),
        owner=csm,
        plan_type="hybrid",
        status="archived",
        next_review_on=TODAY - timedelta(days=100),
    )
    db.session.commit()
    return SimpleNamespace(alpha=alpha, beta=beta, gamma=gamma, delta=delta, other=other)


def test_plan_list_empty_state_says_what_to_do(client, login, csm):
    login(csm)
    html = client.get("/plans").get_data(as_text=True)
    assert "No success plans yet" in html
    assert "open an account and create its plan there" in html
    assert 'href="/accounts"' in html


def test_plan_list_shows_overdue_counts_and_review_overdue(client, login, csm, portfolio):
    login(csm)
    html = client.get("/plans").get_data(as_text=True)
    assert titles(html) == ["Alpha plan", "Beta plan", "Gamma plan"]  # next review first
    row = html[html.index("Alpha plan") : html.index("Beta plan")]
    assert "2 actions" in row and "1 milestone" in row and "Overdue 4 d" in row
    beta_row = html[html.index("Beta plan") : html.index("Gamma plan")]
    assert "1 action<" in beta_row and "Overdue" not in beta_row
    assert 'href="/accounts/' in row


def test_plan_list_filters(client, login, csm, portfolio):
    login(csm)

    def listed(query: str) -> list[str]:
        return titles(client.get(f"/plans?{query}").get_data(as_text=True))

    assert listed("status=draft") == ["Beta plan"]
    assert listed("status=all") == ["Delta plan", "Alpha plan", "Beta plan", "Gamma plan"]
    assert listed("type=hybrid") == ["Gamma plan"]
    assert listed(f"owner={csm.id}") == ["Alpha plan"]
    assert listed(f"owner={csm.id}&status=all") == ["Delta plan", "Alpha plan"]
    assert listed("review=overdue") == ["Alpha plan"]
    assert listed("q=acme") == ["Beta plan"]
    assert listed("q=gamma") == ["Gamma plan"]
    html = client.get("/plans?type=joint&status=draft").get_data(as_text=True)
    assert "No plans match these filters" in html


def test_plan_list_sorts(client, login, csm, portfolio):
    login(csm)

    def listed(query: str) -> list[str]:
        return titles(client.get(f"/plans?{query}").get_data(as_text=True))

    assert listed("sort=account") == ["Beta plan", "Gamma plan", "Alpha plan"]
    assert listed("sort=account&dir=desc") == ["Alpha plan", "Gamma plan", "Beta plan"]
    assert listed("sort=overdue&dir=desc") == ["Alpha plan", "Beta plan", "Gamma plan"]
    assert listed("sort=owner") == ["Alpha plan", "Beta plan", "Gamma plan"]
    assert listed("sort=plan&dir=desc") == ["Gamma plan", "Beta plan", "Alpha plan"]
    assert listed("sort=nonsense") == ["Alpha plan", "Beta plan", "Gamma plan"]
    html = client.get("/plans?sort=account&type=hybrid").get_data(as_text=True)
    assert "sort=account" in html and "type=hybrid" in html  # links keep the filters


def test_plan_list_pages(client, login, csm, portfolio, monkeypatch):
    monkeypatch.setitem(client.application.config, "PLANS_PER_PAGE", 2)
    login(csm)
    first = client.get("/plans").get_data(as_text=True)
    assert titles(first) == ["Alpha plan", "Beta plan"] and "Page 1 of 2" in first
    second = client.get("/plans?page=2").get_data(as_text=True)
    assert titles(second) == ["Gamma plan"]
    assert titles(client.get("/plans?page=99").get_data(as_text=True)) == ["Gamma plan"]


def test_plan_list_query_count_does_not_grow_with_plans(client, login, csm, count_queries):
    login(csm)
    counts = []
    for extra in (2, 12):
        for _ in range(extra):
            plan = PlanFactory(owner=csm)
            ActionFactory(plan=plan, due_date=TODAY - timedelta(days=1))
            MilestoneFactory(plan=plan)
        db.session.commit()
        db.session.expire_all()
        with count_queries() as counter:
            html = client.get("/plans").get_data(as_text=True)
        assert "1 action<" in html
        counts.append(counter.count)
    assert counts[0] == counts[1] and counts[1] <= 5, counts
