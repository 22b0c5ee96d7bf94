""" "My work" on the home page: a CSM's own accounts, reviews, actions, milestones and renewals;
the whole portfolio for leads, admins and viewers who own no accounts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.home.work import my_work
from tests.factories import (
    AccountFactory,
    ActionFactory,
    ContactFactory,
    MilestoneFactory,
    PlanFactory,
    UserFactory,
)


@pytest.fixture
def today():
    return utcnow().date()


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_csm_sees_their_own_work_only(client, login, today):
    me = UserFactory(name="Casey CSM")
    other = UserFactory(name="Olga Other")
    mine = AccountFactory(
        name="Mine Renewing",
        csm_id=me.id,
        arr_minor=5_000_000,
        renewal_date=today + timedelta(days=30),
        lifecycle_stage="renewal",
    )
    AccountFactory(name="Mine Later", csm_id=me.id, renewal_date=today + timedelta(days=200))
    theirs = AccountFactory(
        name="Theirs Renewing", csm_id=other.id, renewal_date=today + timedelta(days=10)
    )
    my_plan = PlanFactory(
        account=mine, owner=me, title="Mine plan", next_review_on=today - timedelta(days=3)
    )
    PlanFactory(account=theirs, owner=other, title="Their plan", next_review_on=today)
    PlanFactory(
        account=mine,
        owner=me,
        title="Reviewed later plan",
        next_review_on=today + timedelta(days=30),
    )
    ActionFactory(
        plan=my_plan, owner_user=me, title="Overdue action", due_date=today - timedelta(days=2)
    )
    ActionFactory(
        plan=my_plan, owner_user=me, title="Upcoming action", due_date=today + timedelta(days=10)
    )
    ActionFactory(
        plan=my_plan, owner_user=me, title="Far action", due_date=today + timedelta(days=30)
    )
    ActionFactory(
        plan=my_plan,
        owner_user=me,
        title="Done action",
        status="done",
        due_date=today - timedelta(days=5),
    )
    contact = ContactFactory(account=mine)
    ActionFactory(
        plan=my_plan,
        owner_user=None,
        owner_contact=contact,
        title="Customer action",
        due_date=today,
    )
    MilestoneFactory(
        plan=my_plan,
        owner_user=me,
        title="Overdue milestone",
        target_date=today - timedelta(days=1),
    )
    MilestoneFactory(
        plan=my_plan,
        owner_user=me,
        title="Done milestone",
        status="done",
        target_date=today - timedelta(days=1),
    )
    db.session.commit()
    login(me)

    html = client.get("/").get_data(as_text=True)
    assert "Your accounts, plans and actions" in html
    actions = section(html, "actions")
    assert "Overdue action" in actions and "Upcoming action" in actions
    assert "Overdue 2 d" in actions
    for absent in ("Far action", "Done action", "Customer action"):
        assert absent not in actions
    plans = section(html, "plans-due")
    assert "Mine plan" in plans and "Overdue 3 d" in plans
    assert "Their plan" not in plans and "Reviewed later plan" not in plans
    milestones = section(html, "milestones")
    assert "Overdue milestone" in milestones and "Done milestone" not in milestones
    renewals = section(html, "renewals")
    assert "Mine Renewing" in renewals and "in 30 days" in renewals
    assert "Theirs Renewing" not in renewals and "Mine Later" not in renewals
    accounts = section(html, "my-accounts")
    assert accounts.index("Mine Renewing") < accounts.index("Mine Later")
    assert "Theirs Renewing" not in accounts
    assert "$50,000" in accounts
    assert f"/accounts?csm={me.id}" in html


def test_plans_on_my_accounts_count_even_when_someone_else_owns_them(app, today):
    me = UserFactory()
    colleague = UserFactory()
    account = AccountFactory(csm_id=me.id)
    PlanFactory(
        account=account,
        owner=colleague,
        title="Colleague's plan on my account",
        next_review_on=today + timedelta(days=2),
    )
    PlanFactory(owner=me, title="My plan on another account", next_review_on=today)
    PlanFactory(
        account=account, owner=me, title="Archived", status="archived", next_review_on=today
    )
    work = my_work(me, today=today, now=utcnow())
    assert sorted(p.title for p in work.plans_due.items) == [
        "Colleague's plan on my account",
        "My plan on another account",
    ]
    assert (work.plans_due.total, work.plans_due.overdue) == (2, 0)


def test_counts_beyond_the_list_say_how_many_more(app, today):
    me = UserFactory()
    plan = PlanFactory(account=AccountFactory(csm_id=me.id), owner=me)
    for i in range(13):
        ActionFactory(plan=plan, owner_user=me, due_date=today - timedelta(days=i))
    work = my_work(me, today=today, now=utcnow())
    assert len(work.actions.items) == 10
    assert (work.actions.total, work.actions.overdue, work.actions.more) == (13, 12, 3)


def test_accounts_without_an_active_plan_are_counted(client, login, today):
    me = UserFactory()
    covered = AccountFactory(csm_id=me.id)
    PlanFactory(account=covered, owner=me, status="active")
    AccountFactory(csm_id=me.id)
    AccountFactory(csm_id=me.id, lifecycle_stage="churned")
    db.session.commit()
    login(me)
    html = client.get("/").get_data(as_text=True)
    assert "1 of your account (not churned) has no active success plan" in html


def test_a_lead_who_owns_no_accounts_sees_the_whole_portfolio(client, login, today):
    lead = UserFactory(role="lead", name="Lena Lead")
    casey = UserFactory(name="Casey CSM")
    account = AccountFactory(
        name="Casey's account", csm_id=casey.id, renewal_date=today + timedelta(days=20)
    )
    AccountFactory(name="Pooled account", renewal_date=today + timedelta(days=40))
    plan = PlanFactory(
        account=account, owner=casey, title="Casey's plan", next_review_on=today - timedelta(days=1)
    )
    ActionFactory(plan=plan, owner_user=casey, title="Casey's action", due_date=today)
    db.session.commit()
    login(lead)
    html = client.get("/").get_data(as_text=True)
    assert "The whole portfolio" in html
    assert "Casey&#39;s plan" in section(html, "plans-due")
    actions = section(html, "actions")
    assert "Casey&#39;s action" in actions and "Casey CSM" in actions  # the owner is shown
    renewals = section(html, "renewals")
    assert "Casey&#39;s account" in renewals and "Pooled account" in renewals
    assert "Pooled" in section(html, "my-accounts")
    assert 'href="/accounts"' in html


@pytest.mark.parametrize("role", ["lead", "admin", "viewer"])
def test_other_roles_see_the_portfolio_unless_they_own_accounts(app, today, role):
    user = UserFactory(role=role)
    AccountFactory()
    assert my_work(user, today=today, now=utcnow()).scope == "portfolio"
    if role != "viewer":
        AccountFactory(csm_id=user.id)
        work = my_work(user, today=today, now=utcnow())
        assert (work.scope, work.account_count) == ("mine", 1)


def test_a_csm_without_accounts_is_told_what_to_do(client, login):
    me = UserFactory()
    AccountFactory()  # someone else's portfolio is not theirs
    db.session.commit()
    login(me)
    html = client.get("/").get_data(as_text=True)
    assert "No accounts are assigned to you yet" in html
    assert "browse all accounts" in html


def test_an_empty_portfolio_says_how_to_add_accounts(client, login):
    lead = UserFactory(role="lead")
    db.session.commit()
    login(lead)
    html = client.get("/").get_data(as_text=True)
    assert "No accounts yet" in html
    assert "PUT /api/v1/accounts/&lt;external_id&gt;" in html and "cs-app demo" in html


def test_empty_sections_suggest_a_next_step(client, login):
    me = UserFactory()
    AccountFactory(csm_id=me.id, renewal_date=None)
    db.session.commit()
    login(me)
    html = client.get("/").get_data(as_text=True)
    assert "Nothing due in the next 14 days" in section(html, "actions")
    assert "No plan needs a review this week." in section(html, "plans-due")
    assert "No renewals in the next 90 days." in section(html, "renewals")


def test_renewal_arr_is_summed_per_currency(app, today):
    me = UserFactory()
    for arr, currency in ((1_000_00, "USD"), (2_000_00, "USD"), (500_00, "EUR")):
        AccountFactory(
            csm_id=me.id, arr_minor=arr, currency=currency, renewal_date=today + timedelta(days=5)
        )
    work = my_work(me, today=today, now=utcnow())
    assert work.renewal_arr_by_currency == [("EUR", 500_00), ("USD", 3_000_00)]
    assert work.arr_by_currency == [("EUR", 500_00), ("USD", 3_000_00)]
    assert work.renewals.total == 3


def test_the_number_of_queries_does_not_grow_with_the_portfolio(
    client, login, count_queries, today
):
    me = UserFactory()

    def add_accounts(count: int) -> None:
        for _ in range(count):
            account = AccountFactory(csm_id=me.id, renewal_date=today + timedelta(days=9))
            plan = PlanFactory(account=account, owner=me, next_review_on=today)
            ActionFactory(plan=plan, owner_user=me, due_date=today)
            MilestoneFactory(plan=plan, owner_user=me, target_date=today)
        db.session.commit()

    add_accounts(2)
    login(me)
    db.session.expire_all()
    with count_queries() as small:
        small_html = client.get("/").get_data(as_text=True)
    add_accounts(25)
    db.session.expire_all()
    with count_queries() as large:
        large_html = client.get("/").get_data(as_text=True)
    assert small.count == large.count, large.statements
    assert small.count <= 14
    assert re.search(r'<div class="stat">27</div>', large_html)
    assert "and 17 more" in large_html and "and" not in section(small_html, "renewals")
