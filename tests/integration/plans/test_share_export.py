"""Sharing a joint plan read-only with the customer, and exporting a plan as Markdown."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from flask import g
from sqlalchemy import func, select

from cs_app.extensions import db
from cs_app.plans import service
from cs_app.plans.models import PlanShareLink
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


@pytest.fixture
def csm(app):
    return UserFactory(role="csm", name="Chris CSM")


@pytest.fixture
def joint_plan(app, csm, now):
    account = AccountFactory(name="Acme Corp", csm=csm, primary_use_case="Consolidate tools")
    plan = PlanFactory(
        account=account,
        owner=csm,
        plan_type="joint",
        title="Joint plan 2027",
        summary="Cut resolution time | together.",
    )
    sarah = ContactFactory(
        account=account, name="Sarah Chen", email="sarah@acme.example", role="executive_sponsor"
    )
    StakeholderFactory(
        plan=plan, contact=sarah, role="executive_sponsor", notes="Internal: prefers calls before 9"
    )
    OutcomeFactory(
        plan=plan,
        title="Faster resolution",
        baseline=18.0,
        target=8.0,
        current_value=13.0,
        unit="h",
    )
    MilestoneFactory(
        plan=plan, title="Data migrated", target_date=date(2026, 11, 1), status="planned"
    )
    ActionFactory(
        plan=plan,
        title="Send the export | with pipes",
        due_date=date(2026, 11, 10),
        owner_user=None,
        owner_contact=sarah,
    )
    RiskFactory(
        plan=plan,
        title="Budget freeze rumour",
        likelihood="high",
        impact="high",
        mitigation="Escalate quietly",
    )
    service.add_item(
        plan,
        "reviews",
        {
            "held_on": date(2026, 11, 2),
            "attendees": "Sarah, Chris",
            "notes": "Internal review notes: renewal wobbly",
        },
        user=csm,
        now=now,
    )
    db.session.commit()
    return plan


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def as_customer(app, url: str):
    """GET ``url`` from a fresh client with nobody signed in. The tests share one app context,
    so Flask-Login's per-context user cache is cleared before and after."""
    g.pop("_login_user", None)
    try:
        return app.test_client().get(url.replace("http://localhost", ""))
    finally:
        g.pop("_login_user", None)


def share(client, plan) -> str:
    """Create a link through the page and return the URL flashed to the CSM."""
    response = client.post(f"/plans/{plan.id}/share")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/plans/{plan.id}")
    category, message = flashes(client)[-1]
    assert category == "success"
    match = re.search(r'<code class="sharelink">(http://[^<]+)</code>', str(message))
    assert match, message
    return match.group(1)


# --- sharing -------------------------------------------------------------------------------------


def test_csm_shares_a_joint_plan_and_the_link_works_without_sign_in(
    app, client, login, csm, joint_plan
):
    login(csm)
    url = share(client, joint_plan)
    message = str(flashes(client)[-1][1])
    assert "shown only this once" in message and "create a new link" in message
    db.session.expire_all()
    link = db.session.scalar(select(PlanShareLink).where(PlanShareLink.plan_id == joint_plan.id))
    token = url.rsplit("/", 1)[1]
    assert link.token_hash != token and token not in link.token_hash  # only a hash is stored

    response = as_customer(app, url)
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "Acme Corp" in page and "Joint plan 2027" in page
    assert "Faster resolution" in page and 'value="50"' in page  # 18 h → 8 h at 13 h
    assert "Data migrated" in page and "Overdue" in page
    assert "Send the export | with pipes" in page and "Sarah Chen" in page
    assert "Executive sponsor" in page
    assert "Sign out" not in page  # no navigation for the customer
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    db.session.expire_all()
    assert db.session.get(PlanShareLink, link.id).last_viewed_at is not None


def test_shared_page_hides_emails_risks_notes_and_money(app, client, login, csm, joint_plan):
    login(csm)
    url = share(client, joint_plan)
    page = as_customer(app, url).get_data(as_text=True)
    page = html.unescape(page)
    assert "sarah@acme.example" not in page and "@" not in re.sub(r"<[^>]+>", "", page)
    assert "Budget freeze rumour" not in page and "Risk register" not in page
    assert "Escalate quietly" not in page
    assert "prefers calls" not in page  # stakeholder notes
    assert "renewal wobbly" not in page  # review notes
    assert "$24,000" not in page and "ARR" not in page
    assert "History" not in page


def test_non_joint_plan_cannot_be_shared(client, login, csm):
    plan = PlanFactory(account=AccountFactory(csm=csm), owner=csm, plan_type="high-touch")
    db.session.commit()
    login(csm)
    response = client.post(f"/plans/{plan.id}/share")
    assert response.status_code == 302
    category, message = flashes(client)[-1]
    assert category == "error" and "Only joint plans are shared" in message
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(PlanShareLink)) == 0


def test_revoked_link_is_404_saying_it_is_no_longer_valid(app, client, login, csm, joint_plan):
    login(csm)
    first = share(client, joint_plan)
    second = share(client, joint_plan)
    assert as_customer(app, first).status_code == 200
    assert as_customer(app, second).status_code == 200
    response = client.post(f"/plans/{joint_plan.id}/share/revoke")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/plans/{joint_plan.id}")
    assert flashes(client)[-1] == (
        "success",
        "Revoked 2 share links; they no longer open the plan.",
    )
    for url in (first, second):
        gone = as_customer(app, url)
        assert gone.status_code == 404
        page = gone.get_data(as_text=True)
        assert "This link is no longer valid" in page
        assert "Joint plan 2027" not in page
        assert gone.headers["Cache-Control"] == "no-store"
    client.post(f"/plans/{joint_plan.id}/share/revoke")
    assert flashes(client)[-1] == ("info", "This plan had no active share links.")


def test_unknown_token_is_404(client):
    for token in ("nope", "x" * 43, "y" * 500):
        response = client.get(f"/share/{token}")
        assert response.status_code == 404
        assert "This link is no longer valid" in response.get_data(as_text=True)


def test_link_stops_working_when_the_plan_is_no_longer_joint(
    app, client, login, csm, joint_plan, now
):
    login(csm)
    url = share(client, joint_plan)
    plan = db.session.get(type(joint_plan), joint_plan.id)
    service.update_plan(plan, {"plan_type": "hybrid"}, expected_version=None, user=csm, now=now)
    db.session.commit()
    assert as_customer(app, url).status_code == 404


@pytest.mark.parametrize("role", ["csm", "viewer"])
def test_only_editors_of_the_plan_share_or_revoke(client, login, joint_plan, role):
    login(UserFactory(role=role))  # a CSM of another account, or a viewer
    assert client.post(f"/plans/{joint_plan.id}/share").status_code == 403
    assert client.post(f"/plans/{joint_plan.id}/share/revoke").status_code == 403
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(PlanShareLink)) == 0


def test_lead_may_share_any_joint_plan(client, login, joint_plan):
    login(UserFactory(role="lead"))
    assert share(client, joint_plan).startswith("http://localhost/share/")


def test_sharing_needs_sign_in(client, joint_plan):
    response = client.post(f"/plans/{joint_plan.id}/share")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/plans/999999/share").status_code == 302


def test_sharing_an_unknown_plan_is_404(client, login):
    login(UserFactory(role="lead"))
    assert client.post("/plans/999999/share").status_code == 404


# --- export --------------------------------------------------------------------------------------


def test_export_is_markdown_with_every_section(client, login, joint_plan):
    login(UserFactory(role="viewer"))
    response = client.get(f"/plans/{joint_plan.id}/export.md")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="acme-corp-joint-plan-2027.md"'
    )
    text = response.get_data(as_text=True)
    assert text.startswith("# Acme Corp — Joint plan 2027\n")
    for heading in (
        "## Flags",
        "## 1. Customer profile and context",
        "### Business context",
        "## 2. Success outcomes",
        "## 3. Milestones",
        "## 4. Stakeholder map",
        "## 5. Risk register",
        "## 6. Action items",
        "## 7. Review cadence and log",
    ):
        assert f"\n{heading}\n" in text, heading
    outcome_row = next(line for line in text.splitlines() if line.startswith("| Faster"))
    assert "| 18 h | 8 h | 13 h | 50% | lower is better |" in outcome_row
    milestone_row = next(line for line in text.splitlines() if "Data migrated" in line)
    assert "2026-11-01 **OVERDUE**" in milestone_row
    action_row = next(line for line in text.splitlines() if "Send the export" in line)
    assert "Send the export \\| with pipes" in action_row
    assert "2026-11-10 **OVERDUE**" in action_row and "Sarah Chen" in action_row
    risk_row = next(line for line in text.splitlines() if "Budget freeze" in line)
    assert "| Critical |" in risk_row
    assert "Internal review notes: renewal wobbly" in text
    assert "- **Next review:** " in text
    assert "action(s) past due" in text  # the flags
    assert "Cut resolution time | together." in text  # the summary is prose, not a table


def test_export_needs_sign_in_and_an_existing_plan(client, login, joint_plan):
    response = client.get(f"/plans/{joint_plan.id}/export.md")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(UserFactory(role="viewer"))
    assert client.get("/plans/999999/export.md").status_code == 404
