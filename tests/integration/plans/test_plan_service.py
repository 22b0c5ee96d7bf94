"""The plan service: owners, due dates, history, versions, templates, sharing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cs_app.errors import ConflictError, ValidationError
from cs_app.extensions import db
from cs_app.plans import service
from cs_app.plans.models import PlanChange
from tests.factories import (
    AccountFactory,
    ActionFactory,
    ContactFactory,
    PlanFactory,
    UserFactory,
)


def test_action_owner_must_be_a_named_person(app, now):
    plan = PlanFactory()
    with pytest.raises(ValidationError) as refused:
        service.add_item(
            plan,
            "actions",
            {"title": "Provide assets", "owner": "Marketing team", "due_date": date(2026, 12, 1)},
            user=plan.owner,
            now=now,
        )
    assert "named person" in refused.value.fields["owner"]


def test_action_owner_may_be_a_contact_of_the_account_but_not_of_another(app, now):
    plan = PlanFactory()
    own = ContactFactory(account=plan.account, name="Sarah Chen")
    other = ContactFactory()
    action = service.add_item(
        plan,
        "actions",
        {"title": "Provide assets", "owner": {"contact_id": own.id}, "due_date": date(2026, 12, 1)},
        user=plan.owner,
        now=now,
    )
    assert action.owner_name == "Sarah Chen"
    with pytest.raises(ValidationError) as refused:
        service.add_item(
            plan,
            "actions",
            {"title": "x", "owner": f"contact:{other.id}", "due_date": date(2026, 12, 1)},
            user=plan.owner,
            now=now,
        )
    assert "not a contact of this account" in refused.value.fields["owner"]


def test_action_needs_a_due_date(app, now):
    plan = PlanFactory()
    with pytest.raises(ValidationError) as refused:
        service.add_item(
            plan,
            "actions",
            {"title": "Configure SSO", "owner": f"user:{plan.owner_id}"},
            user=plan.owner,
            now=now,
        )
    assert refused.value.fields == {"due_date": "An action needs a due date."}


def test_every_change_is_recorded_with_old_and_new_value(app, now):
    plan = PlanFactory()
    action = ActionFactory(plan=plan, title="Old title")
    editor = UserFactory(role="lead", name="Lena Lead")
    service.update_item(
        plan,
        "actions",
        action,
        {"title": "New title"},
        expected_version=action.version,
        user=editor,
        now=now,
    )
    change = db.session.query(PlanChange).filter_by(field="title").one()
    assert (change.old_value, change.new_value, change.user_id) == (
        "Old title",
        "New title",
        editor.id,
    )


def test_stale_item_version_is_refused_and_changes_nothing(app, now):
    plan = PlanFactory()
    action = ActionFactory(plan=plan, title="Original")
    seen = action.version
    service.update_item(
        plan,
        "actions",
        action,
        {"title": "First save"},
        expected_version=seen,
        user=plan.owner,
        now=now,
    )
    with pytest.raises(ConflictError):
        service.update_item(
            plan,
            "actions",
            action,
            {"title": "Second save"},
            expected_version=seen,
            user=plan.owner,
            now=now,
        )
    assert action.title == "First save"


def test_component_change_bumps_plan_version(app, now):
    plan = PlanFactory()
    before = plan.version
    ActionFactory(plan=plan)
    service.add_item(
        plan,
        "risks",
        {"title": "Budget cuts", "owner": f"user:{plan.owner_id}"},
        user=plan.owner,
        now=now,
    )
    assert plan.version == before + 1


def test_template_dates_rows_from_contract_start(app, now):
    account = AccountFactory(contract_start=date(2026, 3, 1))
    ContactFactory(account=account, role="executive_sponsor")
    csm = UserFactory()
    template = service.get_template("enterprise-high-touch")
    plan = service.create_plan(account, {"owner_id": csm.id}, user=csm, now=now, template=template)
    titles = {m.title: m.target_date for m in plan.milestones}
    assert titles["Technical setup complete"] == date(2026, 3, 1) + timedelta(days=30)
    assert len(plan.milestones) == 6 and len(plan.risks) == 3 and len(plan.outcomes) == 3
    assert {s.role for s in plan.stakeholders} == {"executive_sponsor", "csm"}
    assert all(a.owner_user_id == csm.id for a in plan.actions)


def test_review_sets_next_review_from_cadence(app, now):
    plan = PlanFactory(review_cadence="quarterly")
    service.add_item(
        plan,
        "reviews",
        {"held_on": date(2026, 11, 20), "attendees": "Ana, Bo"},
        user=plan.owner,
        now=now,
    )
    assert plan.last_reviewed_on == date(2026, 11, 20)
    assert plan.next_review_on == date(2027, 2, 20)


def test_share_link_works_until_revoked(app, now):
    plan = PlanFactory(plan_type="joint")
    token = service.create_share_link(plan, user=plan.owner, now=now)
    assert service.plan_for_share_token(token, now=now) is plan
    service.revoke_share_links(plan, user=plan.owner, now=now)
    assert service.plan_for_share_token(token, now=now) is None


def test_done_keeps_its_completion_date_even_when_none_is_passed(app, now):
    plan = PlanFactory()
    action = ActionFactory(plan=plan)
    service.update_item(
        plan,
        "actions",
        action,
        {"status": "done", "completed_on": None},
        expected_version=None,
        user=plan.owner,
        now=now,
    )
    assert action.completed_on == now.date()
    service.update_item(
        plan, "actions", action, {"status": "open"}, expected_version=None, user=plan.owner, now=now
    )
    assert action.completed_on is None


def test_plan_conflict_names_the_change_that_made_it_stale(app, now):
    plan = PlanFactory()
    seen = plan.version
    other = UserFactory(name="Olga Other")
    service.add_item(
        plan,
        "risks",
        {"title": "Budget cuts", "owner": f"user:{plan.owner_id}"},
        user=other,
        now=now,
    )
    with pytest.raises(ConflictError) as conflict:
        service.update_plan(
            plan, {"title": "Renamed"}, expected_version=seen, user=plan.owner, now=now
        )
    assert conflict.value.message.startswith("Olga Other changed this plan")
