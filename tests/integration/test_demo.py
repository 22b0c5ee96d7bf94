"""The demo portfolio: the seed guide's two examples, a varied portfolio, idempotent and
deterministic loading."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from email_validator import validate_email
from sqlalchemy import func, select

from cs_app.accounts.models import (
    ENGAGEMENT_MODELS,
    LIFECYCLE_STAGES,
    SEGMENTS,
    Account,
    Contact,
    LifecycleStageEntry,
)
from cs_app.auth.models import User
from cs_app.auth.service import authenticate
from cs_app.demo import DEMO_PASSWORD, DEMO_USERS, load_demo
from cs_app.extensions import db
from cs_app.plans.models import (
    PLAN_STATUSES,
    ActionItem,
    Milestone,
    Outcome,
    OutcomeMeasurement,
    Plan,
    PlanChange,
    Review,
    Risk,
    Stakeholder,
)
from cs_app.plans.service import plan_insights

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def quiet(message: str) -> None:
    """Swallow the loader's progress lines."""


def account(external_id: str) -> Account:
    return db.session.scalar(select(Account).where(Account.external_id == external_id))


def only_plan(acct: Account) -> Plan:
    plans = list(db.session.scalars(select(Plan).where(Plan.account_id == acct.id)))
    assert len(plans) == 1
    return plans[0]


def snapshot() -> dict[str, list[tuple]]:
    """Everything the demo writes, without database ids (which differ between loads)."""
    ext = {a.id: a.external_id for a in db.session.scalars(select(Account))}
    emails = {u.id: u.email for u in db.session.scalars(select(User))}
    contacts = {c.id: c.email for c in db.session.scalars(select(Contact))}
    plan_keys = {p.id: (ext[p.account_id], p.title) for p in db.session.scalars(select(Plan))}
    outcomes = {o.id: (plan_keys[o.plan_id], o.title) for o in db.session.scalars(select(Outcome))}

    def owner(row) -> str | None:
        return emails.get(row.owner_user_id) or contacts.get(row.owner_contact_id)

    def rows(model, describe) -> list[tuple]:
        return sorted((describe(r) for r in db.session.scalars(select(model))), key=repr)

    return {
        "users": rows(User, lambda u: (u.email, u.name, u.role, u.away)),
        "accounts": rows(Account, lambda a: (
            a.external_id, a.name, a.domain, a.industry, a.employees, a.segment,
            a.engagement_model, a.arr_minor, a.currency, a.contract_start, a.renewal_date,
            emails.get(a.csm_id), a.lifecycle_stage, a.stage_entered_on, a.product_plan,
            a.seats_purchased, a.primary_use_case)),
        "stages": rows(LifecycleStageEntry, lambda e: (ext[e.account_id], e.stage,
                                                       e.entered_on)),
        "contacts": rows(Contact, lambda c: (ext[c.account_id], c.name, c.title, c.email,
                                             c.role, c.influence, c.engagement,
                                             c.last_contact_on, c.status)),
        "plans": rows(Plan, lambda p: (plan_keys[p.id], p.plan_type, p.status,
                                       emails[p.owner_id], p.review_cadence, p.last_reviewed_on,
                                       p.next_review_on, p.template_key, p.version,
                                       p.created_at, p.updated_at)),
        "outcomes": rows(Outcome, lambda o: (outcomes[o.id], o.metric, o.unit, o.baseline,
                                             o.target, o.current_value, o.target_date,
                                             o.status)),
        "measurements": rows(OutcomeMeasurement, lambda m: (outcomes[m.outcome_id],
                                                            m.measured_on, m.value)),
        "milestones": rows(Milestone, lambda m: (plan_keys[m.plan_id], m.phase, m.title,
                                                 m.target_date, m.status, m.completed_on,
                                                 owner(m))),
        "risks": rows(Risk, lambda r: (plan_keys[r.plan_id], r.title, r.category,
                                       r.likelihood, r.impact, r.status, owner(r))),
        "actions": rows(ActionItem, lambda a: (plan_keys[a.plan_id], a.title, a.due_date,
                                               a.status, a.completed_on, owner(a))),
        "stakeholders": rows(Stakeholder, lambda s: (plan_keys[s.plan_id], s.role,
                                                     contacts.get(s.contact_id),
                                                     emails.get(s.user_id))),
        "reviews": rows(Review, lambda r: (plan_keys[r.plan_id], r.held_on, r.attendees,
                                           r.notes)),
        "history": rows(PlanChange, lambda c: (plan_keys[c.plan_id], c.changed_at,
                                               c.component, c.action, c.field, c.old_value,
                                               c.new_value, emails.get(c.user_id))),
    }


@pytest.fixture(scope="module")
def demo(migrated_app):
    """The demo portfolio, loaded once for this module's read-only tests and rolled back
    afterwards. It is loaded twice from an empty database (the first load rolled back to a
    savepoint), and both loads' snapshots are kept for the determinism test."""
    with migrated_app.app_context():
        engines = db._app_engines[migrated_app]
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        try:
            assert db.session.scalar(select(func.count(Account.id))) == 0
            first_load = db.session.begin_nested()
            first_created = load_demo(NOW, echo=quiet)
            first = snapshot()
            first_load.rollback()
            # Rows the first load wrote and snapshot() read back (as new instances, once the
            # originals were garbage-collected) stay in the identity map after the rollback;
            # SQLite then hands out the same ids again.
            db.session.expunge_all()
            messages: list[str] = []
            created = load_demo(NOW, echo=messages.append)
            yield {"first": first, "first_created": first_created, "second": snapshot(),
                   "created": created, "messages": messages}
        finally:
            db.session.remove()
            transaction.rollback()
            connection.close()
            engines[None] = engine


def test_two_loads_from_scratch_write_exactly_the_same_rows(demo):
    assert demo["first"] == demo["second"]
    assert demo["first_created"] == demo["created"]
    assert demo["created"]["accounts"] >= 42 and demo["created"]["plans"] > 0
    assert any("accounts 44/44" in line for line in demo["messages"])


def test_loading_again_adds_nothing(demo):
    again = db.session.begin_nested()
    messages: list[str] = []
    assert load_demo(NOW, echo=messages.append) == {}
    assert snapshot() == demo["second"]
    assert messages == ["Demo portfolio already loaded; nothing added."]
    again.rollback()


def test_techcorp_is_the_seed_guides_enterprise_example(demo):
    now = NOW
    techcorp = account("CRM-10001")
    assert (techcorp.name, techcorp.industry, techcorp.employees) == ("TechCorp Inc.",
                                                                      "B2B SaaS", 500)
    assert (techcorp.arr_minor, techcorp.currency) == (8_500_000, "USD")
    assert (techcorp.segment, techcorp.engagement_model) == ("Enterprise", "high-touch")
    sponsor = next(c for c in techcorp.contacts if c.role == "executive_sponsor")
    assert sponsor.title == "VP of Customer Experience"

    plan = only_plan(techcorp)
    assert (plan.template_key, plan.status, plan.plan_type) == ("enterprise-high-touch",
                                                               "active", "high-touch")
    outcomes = {o.title: o for o in plan.outcomes}
    start = techcorp.contract_start
    for title, baseline, target, months in (("Average resolution time", 18, 8, 6),
                                            ("Tool consolidation", 3, 1, 3),
                                            ("Agent satisfaction (internal)", 62, 80, 6),
                                            ("Customer effort score", 4.2, 3.0, 9)):
        outcome = outcomes[title]
        assert (outcome.baseline, outcome.target) == (baseline, target)
        assert outcome.target_date == start + timedelta(days=30 * months)
    resolution = outcomes["Average resolution time"]
    assert [m.value for m in resolution.measurements] == [18.0, 17.0, 15.5, 13.2]
    assert resolution.current_value == 13.2

    milestones = [m.title for m in plan.milestones]
    for month_title in ("Data migration from legacy systems complete",
                        "Support team trained, soft launch with 25% ticket volume",
                        "Full cutover, legacy systems deprecated",
                        "Automation workflows deployed for the top 5 ticket categories",
                        "Resolution time target achieved, expansion discussion initiated"):
        assert month_title in milestones
    assert len(plan.reviews) == 3
    assert plan.next_review_on > now.date()
    flags = {f.key for f in plan_insights(plan, today=now.date(), dark_after_days=30).flags}
    assert {"overdue_actions", "overdue_milestones", "severe_risks", "gone_dark"} <= flags


def test_growthstack_is_the_seed_guides_hybrid_example(demo):
    now = NOW
    growthstack = account("CRM-10002")
    assert (growthstack.name, growthstack.industry, growthstack.employees) == (
        "GrowthStack Marketing", "Marketing Services", 45)
    assert growthstack.arr_minor == 2_400_000
    assert (growthstack.segment, growthstack.engagement_model) == ("Mid-Market", "hybrid")
    primary = next(c for c in growthstack.contacts if c.role == "champion")
    assert primary.title == "Director of Operations"

    plan = only_plan(growthstack)
    assert plan.template_key == "hybrid-mid-market"
    forecast = next(o for o in plan.outcomes if o.metric == "Renewal forecast accuracy")
    assert (forecast.baseline, forecast.target) == (65, 90)
    assert forecast.target_date == growthstack.contract_start + timedelta(days=270)
    assert len(forecast.measurements) >= 3
    phases = [m.phase for m in plan.milestones]
    assert phases == ["onboarding", "activation", "adoption", "optimization", "renewal"]
    flags = {f.key for f in plan_insights(plan, today=now.date(), dark_after_days=30).flags}
    assert "single_threaded" in flags


def test_the_portfolio_covers_every_segment_model_stage_and_plan_state(demo):
    now = NOW
    accounts = list(db.session.scalars(select(Account)))
    assert len(accounts) >= 42
    assert {a.segment for a in accounts} == set(SEGMENTS)
    assert {a.engagement_model for a in accounts} == set(ENGAGEMENT_MODELS)
    assert {a.lifecycle_stage for a in accounts} == set(LIFECYCLE_STAGES)
    assert any(a.csm_id is None for a in accounts)  # pooled
    today = now.date()
    days_to_renewal = [(a.renewal_date - today).days for a in accounts]
    for window in (30, 60, 90):
        assert any(0 <= days <= window for days in days_to_renewal)
    assert len({a.name for a in accounts}) == len(accounts)
    contacts_per_account = Counter(c.account_id for c in db.session.scalars(select(Contact)))
    assert all(1 <= contacts_per_account[a.id] <= 5 for a in accounts)
    assert db.session.scalar(select(func.count()).where(Contact.status == "departed")) > 0

    plans = list(db.session.scalars(select(Plan)))
    assert {p.status for p in plans} == set(PLAN_STATUSES)
    assert any(p.plan_type == "joint" for p in plans)
    assert db.session.scalar(select(func.count(Review.id))) > len(plans)
    flags = Counter(flag.key for p in plans
                    for flag in plan_insights(p, today=today, dark_after_days=30).flags)
    for key in ("review_overdue", "overdue_actions", "overdue_milestones", "severe_risks",
                "single_threaded", "gone_dark", "departed"):
        assert flags[key] > 0, key


def test_demo_users_sign_in_with_the_demo_password(demo):
    now = NOW
    roles = Counter(role for _, role, _ in DEMO_USERS)
    assert roles["admin"] == 1 and roles["lead"] == 1 and roles["viewer"] == 1
    assert 3 <= roles["csm"] <= 4
    assert len(DEMO_PASSWORD) >= 8
    for email, role, name in DEMO_USERS:
        user = authenticate(email, DEMO_PASSWORD, now=now)
        assert (user.role, user.name) == (role, name)
    assert authenticate(DEMO_USERS[0][0], "wrong-password", now=now) is None


def test_demo_email_addresses_pass_the_forms_email_check(demo):
    """The user and contact forms validate addresses with email-validator, which refuses
    reserved names such as ``.test``; editing a demo user must not fail on its own email."""
    emails = [email for email, _, _ in DEMO_USERS]
    emails += [c.email for c in db.session.scalars(select(Contact))]
    for email in emails:
        validate_email(email, check_deliverability=False)
