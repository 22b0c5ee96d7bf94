"""Account pages: the list (search, filters, sorting, paging, query bound), the account page,
contacts, the account editor, lifecycle history, plans from templates, and who may do what."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from cs_app.accounts import service
from cs_app.accounts.models import Account, Contact, LifecycleStageEntry
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.plans.builtin_templates import BUILTIN_TEMPLATES
from cs_app.plans.models import Plan
from tests.factories import AccountFactory, ContactFactory, PlanFactory, UserFactory


def prefixed(prefix: str, **values) -> dict[str, str]:
    return {f"{prefix}-{name}": value for name, value in values.items()}


def account_form(account: Account, **changes) -> dict[str, str]:
    """The edit form as the page fills it in, with ``changes`` typed over it."""
    values = {
        "name": account.name,
        "domain": account.domain or "",
        "industry": account.industry or "",
        "employees": "" if account.employees is None else str(account.employees),
        "segment": account.segment,
        "engagement_model": account.engagement_model,
        "arr": f"{account.arr_minor / 100:.2f}",
        "currency": account.currency,
        "contract_start": account.contract_start.isoformat() if account.contract_start else "",
        "renewal_date": account.renewal_date.isoformat() if account.renewal_date else "",
        "csm_id": str(account.csm_id or ""),
        "lifecycle_stage": account.lifecycle_stage,
        "product_plan": account.product_plan or "",
        "seats_purchased": "",
        "primary_use_case": "",
        "purchase_trigger": "",
        "previous_solutions": "",
        "strategic_priorities": "",
    }
    values.update(changes)
    return prefixed("account", **values)


def contact_form(prefix="new-contact", **changes) -> dict[str, str]:
    values = {
        "name": "Sarah Chen",
        "title": "VP Operations",
        "email": "sarah@acme.example",
        "role": "executive_sponsor",
        "influence": "decision_maker",
        "engagement": "high",
        "last_contact_on": "2026-11-01",
        "status": "active",
    }
    values.update(changes)
    return prefixed(prefix, **values)


def names_in(html: str) -> list[str]:
    return re.findall(r'class="account-name">([^<]+)</a>', html)


@pytest.fixture
def lead(app, login):
    user = UserFactory(role="lead", name="Lena Lead")
    db.session.commit()
    login(user)
    return user


# --- the list -------------------------------------------------------------------------------


def test_list_requires_sign_in(client):
    response = client.get("/accounts")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_empty_list_says_how_to_add_accounts(client, lead):
    html = client.get("/accounts").get_data(as_text=True)
    assert "No accounts yet" in html
    assert "PUT /api/v1/accounts/&lt;external_id&gt;" in html
    assert "cs-app demo" in html


def test_filters_that_match_nothing_say_so_and_offer_to_clear(client, lead):
    AccountFactory(name="Acme")
    db.session.commit()
    response = client.get("/accounts?q=zzz&segment=Enterprise")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No accounts match these filters" in html
    assert 'href="/accounts"' in html and "Clear filters" in html


def test_search_is_a_case_insensitive_substring_of_name_or_external_id(client, lead):
    AccountFactory(name="Acme Corporation", external_id="SF-001")
    AccountFactory(name="Globex", external_id="SF-ACME-2")
    AccountFactory(name="Initech", external_id="HS-77")
    db.session.commit()
    assert names_in(client.get("/accounts?q=aCmE").get_data(as_text=True)) == [
        "Acme Corporation",
        "Globex",
    ]
    assert names_in(client.get("/accounts?q=hs-7").get_data(as_text=True)) == ["Initech"]
    html = client.get("/accounts?q=corp").get_data(as_text=True)
    assert names_in(html) == ["Acme Corporation"]
    assert "1 account matches these filters" in html


def test_search_treats_wildcards_as_text(client, lead):
    AccountFactory(name="100% Juice")
    AccountFactory(name="Plain")
    db.session.commit()
    assert names_in(client.get("/accounts?q=%25").get_data(as_text=True)) == ["100% Juice"]
    assert names_in(client.get("/accounts?q=_").get_data(as_text=True)) == []


def test_filters_by_segment_stage_csm_unassigned_and_engagement(client, lead):
    csm = UserFactory(name="Casey CSM")
    AccountFactory(
        name="A",
        segment="SMB",
        lifecycle_stage="onboarding",
        csm_id=csm.id,
        engagement_model="low-touch",
    )
    AccountFactory(
        name="B", segment="Enterprise", lifecycle_stage="renewal", engagement_model="high-touch"
    )
    AccountFactory(
        name="C",
        segment="Enterprise",
        lifecycle_stage="onboarding",
        csm_id=csm.id,
        engagement_model="joint",
    )
    db.session.commit()

    def names(query: str) -> list[str]:
        return names_in(client.get(f"/accounts?{query}").get_data(as_text=True))

    assert names("segment=Enterprise") == ["B", "C"]
    assert names("stage=onboarding") == ["A", "C"]
    assert names(f"csm={csm.id}") == ["A", "C"]
    assert names("csm=none") == ["B"]
    assert names("engagement=joint") == ["C"]
    assert names(f"segment=Enterprise&csm={csm.id}&stage=onboarding") == ["C"]
    # unknown values are ignored rather than matching nothing
    assert names("segment=Galactic&stage=nope&csm=abc&sort=bogus&page=x") == ["A", "B", "C"]
    assert names("csm=99999999999") == ["A", "B", "C"]  # beyond any id: no database error


def test_the_csm_filter_offers_unassigned_and_the_csms(client, lead):
    UserFactory(name="Casey CSM")
    db.session.commit()
    html = client.get("/accounts").get_data(as_text=True)
    assert ">Unassigned / pooled</option>" in html
    assert ">Casey CSM</option>" in html


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("name", ["Alpha", "Bravo", "Charlie"]),
        ("arr", ["Charlie", "Alpha", "Bravo"]),
        ("renewal", ["Bravo", "Charlie", "Alpha"]),
        ("stage", ["Bravo", "Alpha", "Charlie"]),
        ("segment", ["Charlie", "Bravo", "Alpha"]),
        ("csm", ["Charlie", "Alpha", "Bravo"]),
    ],
)
def test_sorts_both_ways(client, lead, sort, expected):
    anna = UserFactory(name="Anna")
    zoe = UserFactory(name="Zoe")
    AccountFactory(
        name="Alpha",
        arr_minor=500_00,
        renewal_date=date(2027, 6, 1),
        lifecycle_stage="adoption",
        segment="Enterprise",
        csm_id=zoe.id,
    )
    AccountFactory(
        name="Bravo",
        arr_minor=900_00,
        renewal_date=date(2027, 1, 1),
        lifecycle_stage="onboarding",
        segment="Mid-Market",
        csm_id=None,
    )
    AccountFactory(
        name="Charlie",
        arr_minor=100_00,
        renewal_date=date(2027, 3, 1),
        lifecycle_stage="renewal",
        segment="SMB",
        csm_id=anna.id,
    )
    db.session.commit()
    ascending = names_in(client.get(f"/accounts?sort={sort}&dir=asc").get_data(as_text=True))
    descending = names_in(client.get(f"/accounts?sort={sort}&dir=desc").get_data(as_text=True))
    assert ascending == expected
    if sort in ("csm",):  # the pooled account stays last both ways
        assert descending == ["Alpha", "Charlie", "Bravo"]
    else:
        assert descending == list(reversed(expected))


def listed_keys(html: str) -> list[tuple[str, str]]:
    """(name, external id) of each row, in the order shown."""
    return re.findall(
        r'class="account-name">([^<]+)</a>\s*<span class="external-id">([^<]+)'
        r"</span>",
        html,
    )


@pytest.fixture
def portfolio(app):
    """26 accounts over every stage, the segments, CSMs (two of them namesakes) and nobody,
    with repeated names: groups of one account up to groups of several pages."""
    csms = [UserFactory(name=name) for name in ("anna", "cleo", "bob", "cleo", "dora")]
    stages = [
        "adoption",
        "onboarding",
        "renewal",
        "adoption",
        "churned",
        "adoption",
        "expansion",
        "activation",
        "adoption",
        "optimization",
        "renewal",
        "adoption",
    ]
    names = ["delta", "alpha", "echo", "bravo", "alpha", "charlie", "golf", "foxtrot", "hotel"]
    accounts = []
    for number in range(26):
        csm = None if number % 6 == 5 else csms[(number * 7) % 5]
        accounts.append(
            AccountFactory(
                name=names[number % len(names)],
                external_id=f"K-{(number * 11) % 26:02d}",
                lifecycle_stage=stages[number % len(stages)],
                segment=("SMB", "Enterprise", "Mid-Market", "SMB")[number % 4],
                engagement_model=("joint", "hybrid")[number % 2],
                csm_id=csm.id if csm else None,
            )
        )
    db.session.commit()
    return accounts


def expected_order(accounts, sort: str, direction: str) -> list[tuple[str, str]]:
    from cs_app.accounts.models import LIFECYCLE_STAGES, SEGMENTS

    def key(account):
        if sort == "stage":
            return (LIFECYCLE_STAGES.index(account.lifecycle_stage),)
        if sort == "segment":
            return (SEGMENTS.index(account.segment),)
        if sort == "csm":
            return (account.csm.name if account.csm else "",)
        return ()

    ordered = sorted(
        accounts, key=lambda a: (*key(a), a.name, a.external_id), reverse=direction == "desc"
    )
    if sort == "csm":  # the pooled accounts stay last both ways
        ordered = [a for a in ordered if a.csm_id] + [a for a in ordered if not a.csm_id]
    return [(a.name, a.external_id) for a in ordered]


@pytest.mark.parametrize("sort", ["stage", "segment", "csm", "name"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("narrowed", ["", "engagement=joint"])
def test_every_page_of_a_sort_continues_the_last(
    client, lead, portfolio, monkeypatch, sort, direction, narrowed
):
    """Pages of four, so that pages start and end inside groups and span up to five of them
    (stage, segment and CSM sorts are read group by group); namesake CSMs' accounts mix by
    name; equal names go by external id."""
    monkeypatch.setitem(client.application.config, "ACCOUNTS_PER_PAGE", 4)
    accounts = [a for a in portfolio if not narrowed or a.engagement_model == "joint"]
    shown = []
    for page in range(1, 9):
        html = client.get(f"/accounts?sort={sort}&dir={direction}&page={page}&{narrowed}").get_data(
            as_text=True
        )
        shown += listed_keys(html)
        if len(shown) >= len(accounts):
            break
    assert shown == expected_order(accounts, sort, direction)
    assert f"{len(accounts)} accounts" in html


def test_sorting_by_csm_takes_a_bounded_number_of_queries_on_any_page(
    client, lead, portfolio, count_queries, monkeypatch
):
    monkeypatch.setitem(client.application.config, "ACCOUNTS_PER_PAGE", 4)
    counts = []
    for page in (1, 3, 7):
        db.session.expire_all()
        with count_queries() as counter:
            html = client.get(f"/accounts?sort=csm&page={page}").get_data(as_text=True)
        assert len(listed_keys(html)) == (2 if page == 7 else 4)
        counts.append(counter.count)
    # sign-in user, group counts, CSM order, at most three group reads, the rows, the CSM
    # filter options
    assert max(counts) <= 8, counts


def test_search_matches_any_case_and_keeps_the_list_order(client, lead):
    AccountFactory(name="harbor freight", external_id="Z-2")
    AccountFactory(name="Harbor Freight", external_id="Z-1")
    AccountFactory(name="Anchor", external_id="HARBOR-9")
    AccountFactory(name="Dock", external_id="D-1")
    db.session.commit()
    html = client.get("/accounts?q=HarBor").get_data(as_text=True)
    expected = sorted(
        [("harbor freight", "Z-2"), ("Harbor Freight", "Z-1"), ("Anchor", "HARBOR-9")]
    )
    assert listed_keys(html) == expected  # name, then external id, as the database orders
    assert "3 accounts match these filters" in html


@pytest.mark.parametrize(
    "query",
    [
        "",
        "q=harbor",
        "segment=Enterprise&stage=renewal&sort=arr&dir=desc",
        "sort=csm&dir=desc",
        "page=1000",
        "sort=renewal",
        "stage=renewal&sort=arr",
        "csm=none&sort=segment",
        "engagement=joint&sort=stage&dir=desc",
        "q=harbor&segment=SMB&sort=renewal",
    ],
)
def test_on_sqlite_the_list_reads_indexes_not_the_table(app, lead, query):
    """The accounts list's counts and page picks are answered from covering indexes; only
    the page's own fifty rows are read from the table (by external id or primary key). On
    SQLite, reading a wide account row per index entry is what made filtered and sorted pages
    slow at 100,000 accounts."""
    from urllib.parse import parse_qsl

    from sqlalchemy import event
    from werkzeug.datastructures import MultiDict

    from cs_app.accounts import queries

    if db.engine.dialect.name != "sqlite":
        pytest.skip("query plans of SQLite")
    statements = []

    def remember(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "accounts" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        queries.list_accounts(
            queries.AccountFilters.from_args(MultiDict(parse_qsl(query))), per_page=50
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert statements
    for statement, parameters in statements:
        plan = [
            row[-1]
            for row in db.session.connection().exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters
            )
        ]
        reads = [line for line in plan if " accounts " in f"{line} "]
        assert reads, plan
        for line in reads:
            assert (
                "COVERING INDEX" in line
                or "PRIMARY KEY" in line
                or "sqlite_autoindex_accounts" in line
            ), (query, statement, plan)


def test_sort_headers_keep_the_filters_and_flip_direction(client, lead):
    AccountFactory(segment="SMB")
    db.session.commit()
    html = client.get("/accounts?segment=SMB&sort=arr&dir=asc").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)"\s+class="sort sorted-asc">ARR', html).group(1)
    assert "segment=SMB" in link and "sort=arr" in link and "dir=desc" in link


def test_pages_of_fifty_with_total_and_a_constant_number_of_queries(client, lead, count_queries):
    csms = [UserFactory(name=f"CSM {i}") for i in range(3)]
    for i in range(60):
        account = AccountFactory(name=f"Account {i:03d}", csm_id=csms[i % 3].id)
        if i % 2 == 0:
            PlanFactory(account=account, owner=csms[0], status="active")
    db.session.commit()

    db.session.expire_all()
    with count_queries() as first:
        page1 = client.get("/accounts").get_data(as_text=True)
    db.session.expire_all()
    with count_queries() as second:
        page2 = client.get("/accounts?page=2").get_data(as_text=True)

    assert len(names_in(page1)) == 50 and len(names_in(page2)) == 10
    assert names_in(page2)[0] == "Account 050"
    assert "60 accounts" in page1 and "showing 1–50" in page1 and "showing 51–60" in page2
    assert "Page 1 of 2" in page1 and 'rel="next"' in page1 and 'rel="prev"' in page2
    assert first.count == second.count, (first.statements, second.statements)
    # sign-in user, the count, the page, the CSM filter options
    assert first.count <= 5, first.statements
    assert page1.count("Active plan") == 25


def test_a_page_past_the_end_shows_the_last_page(client, lead):
    AccountFactory(name="Only")
    db.session.commit()
    assert names_in(client.get("/accounts?page=9").get_data(as_text=True)) == ["Only"]


def test_the_list_marks_accounts_with_an_active_plan(client, lead):
    with_plan = AccountFactory(name="Planned")
    AccountFactory(name="Unplanned")
    draft_only = AccountFactory(name="Drafted")
    PlanFactory(account=with_plan, status="active")
    PlanFactory(account=draft_only, status="draft")
    db.session.commit()
    html = client.get("/accounts").get_data(as_text=True)
    rows = dict(re.findall(r'class="account-name">([^<]+)</a>(.*?)</tr>', html, re.S))
    assert "Active plan" in rows["Planned"]
    assert "No active plan" in rows["Unplanned"]
    assert "No active plan" in rows["Drafted"]


# --- the account page -----------------------------------------------------------------------


def test_account_page_shows_profile_context_contacts_history_and_plans(client, lead):
    csm = UserFactory(name="Casey CSM")
    renewal = utcnow().date() + timedelta(days=40)
    account, _ = service.upsert_account(
        {
            "external_id": "SF-42",
            "name": "Acme Corp",
            "domain": "acme.example",
            "industry": "Logistics",
            "employees": 1200,
            "segment": "Enterprise",
            "engagement_model": "high-touch",
            "arr_minor": 12_000_000,
            "currency": "EUR",
            "contract_start": date(2026, 1, 1),
            "renewal_date": renewal,
            "csm_id": csm.id,
            "lifecycle_stage": "onboarding",
            "stage_entered_on": date(2026, 1, 1),
            "product_plan": "Scale",
            "seats_purchased": 250,
            "primary_use_case": "Route planning",
            "purchase_trigger": "Peak season failures",
            "previous_solutions": "Spreadsheets",
            "strategic_priorities": "Cut delivery cost",
        },
        now=utcnow(),
    )
    service.set_lifecycle_stage(
        account, "adoption", user=lead, now=utcnow(), entered_on=date(2026, 3, 1)
    )
    ContactFactory(account=account, name="Sarah Chen", title="VP Ops", role="executive_sponsor")
    PlanFactory(account=account, title="Acme growth plan", owner=csm, status="active")
    db.session.commit()

    response = client.get("/accounts/SF-42")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        "Acme Corp",
        "acme.example",
        "Logistics",
        "1,200",
        "Enterprise",
        "High-touch",
        "€120,000",
        "EUR",
        "2026-01-01",
        renewal.isoformat(),
        "in 40 days",
        "Casey CSM",
        "Scale",
        "250",
        "Route planning",
        "Peak season failures",
        "Spreadsheets",
        "Cut delivery cost",
        "Sarah Chen",
        "VP Ops",
        "Executive sponsor",
        "Acme growth plan",
        "since 2026-03-01",
    ):
        assert text in html, text
    journey = html[html.index('id="journey"') : html.index('id="contacts"')]
    assert journey.index("Onboarding") < journey.index("Adoption")
    assert "59 days" in journey  # onboarding lasted from 1 January to 1 March


def test_unknown_account_is_404(client, lead):
    assert client.get("/accounts/NOPE").status_code == 404
    assert client.post("/accounts/NOPE/contacts", data=contact_form()).status_code == 404


# --- contacts -------------------------------------------------------------------------------


def test_add_contact(client, lead):
    account = AccountFactory(external_id="ACME")
    db.session.commit()
    response = client.post("/accounts/ACME/contacts", data=contact_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/accounts/ACME#contacts")
    db.session.expire_all()
    contact = db.session.scalar(select(Contact).where(Contact.account_id == account.id))
    assert (
        contact.name,
        contact.title,
        contact.email,
        contact.role,
        contact.influence,
        contact.engagement,
        contact.last_contact_on,
        contact.status,
    ) == (
        "Sarah Chen",
        "VP Operations",
        "sarah@acme.example",
        "executive_sponsor",
        "decision_maker",
        "high",
        date(2026, 11, 1),
        "active",
    )


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"name": "  "}, "name", "Give the contact&#39;s name."),
        ({"email": "sarah-at-acme"}, "email", "Enter an email address like name@example.com."),
        ({"role": "boss"}, "role", "Choose a role"),
        ({"influence": "huge"}, "influence", "Choose a influence"),
        ({"engagement": "wild"}, "engagement", "Choose a engagement"),
        ({"status": "gone"}, "status", "Choose a status"),
        (
            {"last_contact_on": "2099-01-01"},
            "last_contact_on",
            "The last contact cannot be in the future.",
        ),
        ({"last_contact_on": "next week"}, "last_contact_on", "Not a valid date value."),
        ({"name": "x" * 201}, "name", "Use at most 200 characters."),
        (
            {"name": "Evil\r\nBcc: x@example.com"},
            "name",
            "Write the name on one line, without line breaks or control characters.",
        ),
    ],
)
def test_add_contact_refusals_keep_what_was_typed(client, lead, changes, field, message):
    AccountFactory(external_id="ACME")
    db.session.commit()
    data = contact_form(**changes)
    response = client.post("/accounts/ACME/contacts", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="new-contact-{field}-error">{message}' in html
    assert 'id="add-contact" open' in html
    assert 'value="VP Operations"' in html  # the typed values are kept
    db.session.expire_all()
    assert db.session.scalar(select(Contact.id)) is None


def test_add_contact_refuses_a_duplicate_email_on_the_same_account(client, lead):
    account = AccountFactory(external_id="ACME")
    ContactFactory(account=account, email="Sarah@Acme.example")
    ContactFactory(email="sarah@acme.example")  # another account's contact does not count
    db.session.commit()
    response = client.post("/accounts/ACME/contacts", data=contact_form())
    assert response.status_code == 422
    assert (
        "This account already has a contact with the email sarah@acme.example."
        in response.get_data(as_text=True)
    )


def test_edit_contact(client, lead):
    account = AccountFactory(external_id="ACME")
    contact = ContactFactory(account=account, name="Sarah Chen", email="sarah@acme.example")
    db.session.commit()
    data = contact_form(f"contact-{contact.id}", title="COO", engagement="low", status="departed")
    response = client.post(f"/accounts/ACME/contacts/{contact.id}", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    contact = db.session.get(Contact, contact.id)
    assert (contact.title, contact.engagement, contact.status) == ("COO", "low", "departed")


def test_edit_contact_refusals_open_that_contacts_editor(client, lead):
    account = AccountFactory(external_id="ACME")
    contact = ContactFactory(account=account, name="Sarah Chen", email="sarah@acme.example")
    ContactFactory(account=account, name="Other", email="other@acme.example")
    db.session.commit()
    prefix = f"contact-{contact.id}"
    for changes, field, message in (
        ({"name": ""}, "name", "Give the contact&#39;s name."),
        ({"email": "nope"}, "email", "Enter an email address like name@example.com."),
        ({"email": "OTHER@acme.example"}, "email", "already has a contact with the email"),
        ({"role": "boss"}, "role", "Choose a role"),
        ({"name": "Sarah\nBcc: x@example.com"}, "name", "Write the name on one line"),
    ):
        response = client.post(
            f"/accounts/ACME/contacts/{contact.id}", data=contact_form(prefix, **changes)
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 422, changes
        assert f'id="{prefix}-{field}-error">' in html
        assert message in html
        editor = html[html.index(f'id="contact-{contact.id}"') :]
        assert '<details class="editor" open>' in editor[: editor.index("</details>")]
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).name == "Sarah Chen"


def test_editing_another_accounts_contact_is_404(client, lead):
    AccountFactory(external_id="ACME")
    stranger = ContactFactory()
    db.session.commit()
    response = client.post(
        f"/accounts/ACME/contacts/{stranger.id}", data=contact_form(f"contact-{stranger.id}")
    )
    assert response.status_code == 404


# --- editing the account --------------------------------------------------------------------


def test_edit_account_saves_profile_money_and_owner(client, lead):
    csm = UserFactory(name="Casey CSM")
    account = AccountFactory(external_id="ACME", name="Acme")
    db.session.commit()
    response = client.post(
        "/accounts/ACME/edit",
        data=account_form(
            account,
            name="Acme Corp",
            arr="48,000.50",
            currency="gbp",
            csm_id=str(csm.id),
            employees="300",
            seats_purchased="40",
            strategic_priorities="Expand to EMEA",
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    account = db.session.get(Account, account.id)
    assert (
        account.name,
        account.arr_minor,
        account.currency,
        account.csm_id,
        account.employees,
        account.seats_purchased,
        account.strategic_priorities,
    ) == ("Acme Corp", 4_800_050, "GBP", csm.id, 300, 40, "Expand to EMEA")


def test_edit_account_can_unassign_the_csm(client, lead):
    csm = UserFactory()
    account = AccountFactory(external_id="ACME", csm_id=csm.id)
    db.session.commit()
    assert (
        client.post("/accounts/ACME/edit", data=account_form(account, csm_id="")).status_code == 302
    )
    db.session.expire_all()
    assert db.session.get(Account, account.id).csm_id is None


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"name": ""}, "name", "Give the account a name."),
        ({"arr": "-5"}, "arr", "ARR must be a whole amount of zero or more."),
        ({"arr": "lots"}, "arr", "Enter an amount like 48000 or 48,000.50."),
        ({"arr": "NaN"}, "arr", "Enter an amount like 48000 or 48,000.50."),
        ({"currency": "EURO"}, "currency", "Use a three-letter ISO currency code"),
        ({"currency": "1$"}, "currency", "Use a three-letter ISO currency code"),
        (
            {"contract_start": "2026-06-01", "renewal_date": "2026-05-01"},
            "renewal_date",
            "The renewal date must be after the contract start (2026-06-01).",
        ),
        ({"segment": "Galactic"}, "segment", "Choose a segment: SMB, Mid-Market, Enterprise."),
        ({"engagement_model": "telepathic"}, "engagement_model", "Choose a engagement model"),
        ({"lifecycle_stage": "retired"}, "lifecycle_stage", "Choose a lifecycle stage"),
        ({"employees": "-3"}, "employees", "Employees must be a whole number of zero or more."),
        ({"employees": "many"}, "employees", "Not a valid integer value."),
        ({"seats_purchased": "-1"}, "seats_purchased", "Seats purchased must be a whole number"),
        ({"renewal_date": "soon"}, "renewal_date", "Not a valid date value."),
        ({"csm_id": "999999"}, "csm_id", "Choose one of the listed people"),
        ({"domain": "d" * 201}, "domain", "Use at most 200 characters."),
    ],
)
def test_edit_account_refusals(client, lead, changes, field, message):
    account = AccountFactory(external_id="ACME", name="Acme", industry="Logistics")
    db.session.commit()
    response = client.post(
        "/accounts/ACME/edit", data=account_form(account, industry="Typed industry", **changes)
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="account-{field}-error">{message}' in html
    assert 'id="edit-account" open' in html
    assert 'value="Typed industry"' in html
    db.session.expire_all()
    assert db.session.get(Account, account.id).industry == "Logistics"


def test_an_inactive_csm_cannot_be_chosen_but_an_existing_one_does_not_block_edits(client, lead):
    gone = UserFactory(name="Gone CSM", active=False)
    account = AccountFactory(external_id="ACME", csm_id=gone.id, industry="Old")
    db.session.commit()
    html = client.get("/accounts/ACME").get_data(as_text=True)
    assert "Gone CSM (inactive)" in html
    response = client.post("/accounts/ACME/edit", data=account_form(account, industry="New"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Account, account.id).industry == "New"
    other = AccountFactory()
    with pytest.raises(ValidationError) as refused:
        service.update_account(other, {"csm_id": gone.id}, user=lead, now=utcnow())
    assert "active CSM" in refused.value.fields["csm_id"]


def test_changing_the_stage_records_the_journey(client, lead):
    account, _ = service.upsert_account(
        {
            "external_id": "ACME",
            "name": "Acme",
            "lifecycle_stage": "onboarding",
            "stage_entered_on": date(2026, 1, 10),
        },
        now=utcnow(),
    )
    db.session.commit()
    response = client.post(
        "/accounts/ACME/edit", data=account_form(account, lifecycle_stage="adoption")
    )
    assert response.status_code == 302
    db.session.expire_all()
    account = db.session.get(Account, account.id)
    today = utcnow().date()
    assert (account.lifecycle_stage, account.stage_entered_on) == ("adoption", today)
    entries = db.session.execute(
        select(LifecycleStageEntry.stage, LifecycleStageEntry.entered_on)
        .where(LifecycleStageEntry.account_id == account.id)
        .order_by(LifecycleStageEntry.entered_on)
    ).all()
    assert entries == [("onboarding", date(2026, 1, 10)), ("adoption", today)]
    # saving again without a stage change adds nothing
    client.post("/accounts/ACME/edit", data=account_form(account, industry="Retail"))
    db.session.expire_all()
    assert len(service.stage_history(db.session.get(Account, account.id))) == 2


# --- the account service (also used by the API) ---------------------------------------------


def test_upsert_creates_then_updates_by_external_id(app, now):
    csm = UserFactory(email="casey@example.com")
    account, created = service.upsert_account(
        {
            "external_id": " SF-1 ",
            "name": "Acme",
            "csm_email": "CASEY@example.com",
            "currency": "usd",
            "arr_minor": 100,
        },
        now=now,
    )
    assert created and account.external_id == "SF-1" and account.csm_id == csm.id
    assert account.currency == "USD" and account.lifecycle_stage == "onboarding"
    assert [(e.stage, e.entered_on) for e in service.stage_history(account)] == [
        ("onboarding", now.date())
    ]
    again, created = service.upsert_account(
        {"external_id": "SF-1", "arr_minor": 200, "lifecycle_stage": "adoption"}, now=now
    )
    assert not created and again.id == account.id
    assert (again.name, again.arr_minor, again.lifecycle_stage) == ("Acme", 200, "adoption")


@pytest.mark.parametrize(
    "values, field",
    [
        ({"name": "Acme"}, "external_id"),
        ({"external_id": "X"}, "name"),
        ({"external_id": "X", "name": "A", "arr_minor": -1}, "arr_minor"),
        ({"external_id": "X", "name": "A", "arr_minor": 1.5}, "arr_minor"),
        ({"external_id": "X", "name": "A", "currency": "DOLLARS"}, "currency"),
        ({"external_id": "X", "name": "A", "segment": "Huge"}, "segment"),
        ({"external_id": "X", "name": "A", "csm_email": "nobody@example.com"}, "csm_id"),
        (
            {
                "external_id": "X",
                "name": "A",
                "contract_start": date(2026, 5, 1),
                "renewal_date": date(2026, 5, 1),
            },
            "renewal_date",
        ),
        (
            {"external_id": "X", "name": "A", "stage_entered_on": date(2099, 1, 1)},
            "stage_entered_on",
        ),
        ({"external_id": "X" * 101, "name": "A"}, "external_id"),
    ],
)
def test_upsert_refusals_name_the_field(app, now, values, field):
    with pytest.raises(ValidationError) as refused:
        service.upsert_account(values, now=now)
    assert field in refused.value.fields
    assert db.session.scalar(select(Account.id)) is None


def test_a_viewer_cannot_own_accounts(app, now):
    viewer = UserFactory(role="viewer")
    with pytest.raises(ValidationError) as refused:
        service.upsert_account({"external_id": "X", "name": "A", "csm_id": viewer.id}, now=now)
    assert "csm_id" in refused.value.fields


# --- plans from the account page ------------------------------------------------------------


@pytest.mark.parametrize("template", [t["key"] for t in BUILTIN_TEMPLATES])
def test_create_a_plan_from_each_built_in_template(client, lead, template):
    csm = UserFactory(name="Casey CSM")
    account = AccountFactory(external_id="ACME", name="Acme", csm_id=csm.id)
    db.session.commit()
    html = client.get("/accounts/ACME").get_data(as_text=True)
    assert re.search(f'<option (selected )?value="{template}"', html)
    assert f'<option selected value="{csm.id}">Casey CSM' in html  # the CSM owns by default
    response = client.post(
        "/accounts/ACME/plans",
        data=prefixed("plan", template=template, title="", plan_type="", owner_id=str(csm.id)),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    plan = db.session.scalar(select(Plan).where(Plan.account_id == account.id))
    assert response.headers["Location"].endswith(f"/plans/{plan.id}")
    spec = next(t for t in BUILTIN_TEMPLATES if t["key"] == template)
    assert (plan.template_key, plan.title, plan.plan_type, plan.owner_id) == (
        template,
        f"Acme — {spec['name']}",
        spec["plan_type"],
        csm.id,
    )
    assert len(plan.milestones) == len(spec["content"]["milestones"])


@pytest.mark.parametrize(
    "model, template",
    [
        ("high-touch", "enterprise-high-touch"),
        ("low-touch", "scaled-low-touch"),
        ("hybrid", "hybrid-mid-market"),
        ("joint", "joint"),
    ],
)
def test_the_template_that_fits_the_engagement_model_is_preselected(client, lead, model, template):
    AccountFactory(external_id="ACME", engagement_model=model)
    db.session.commit()
    html = client.get("/accounts/ACME").get_data(as_text=True)
    assert f'<option selected value="{template}">' in html


def test_create_a_blank_plan(client, lead):
    account = AccountFactory(external_id="ACME")
    db.session.commit()
    response = client.post(
        "/accounts/ACME/plans",
        data=prefixed(
            "plan",
            template="blank",
            title="Rescue plan",
            plan_type="high-touch",
            owner_id=str(lead.id),
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    plan = db.session.scalar(select(Plan).where(Plan.account_id == account.id))
    assert (plan.title, plan.plan_type, plan.template_key, plan.owner_id) == (
        "Rescue plan",
        "high-touch",
        None,
        lead.id,
    )
    assert plan.milestones == []


@pytest.mark.parametrize(
    "data, errors",
    [
        (
            {"template": "blank", "title": "", "plan_type": ""},
            {
                "title": "Give the plan a title (or choose a template).",
                "plan_type": "Choose a plan type for a blank plan.",
            },
        ),
        (
            {"template": "no-such-template"},
            {"template": "Choose one of the listed templates, or a blank plan."},
        ),
        (
            {"template": "blank", "title": "X", "plan_type": "sideways"},
            {"plan_type": "Choose one of: high-touch"},
        ),
        (
            {"template": "joint", "owner_id": "999999"},
            {"owner_id": "Choose one of the listed people"},
        ),
    ],
)
def test_plan_refusals(client, lead, data, errors):
    AccountFactory(external_id="ACME")
    db.session.commit()
    response = client.post(
        "/accounts/ACME/plans", data=prefixed("plan", **{"owner_id": str(lead.id), **data})
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="new-plan" open' in html
    for field, message in errors.items():
        assert f'id="plan-{field}-error">{message}' in html, field
    db.session.expire_all()
    assert db.session.scalar(select(Plan.id)) is None


def test_a_viewer_cannot_own_a_plan(client, lead):
    viewer = UserFactory(role="viewer")
    AccountFactory(external_id="ACME")
    db.session.commit()
    response = client.post(
        "/accounts/ACME/plans", data=prefixed("plan", template="joint", owner_id=str(viewer.id))
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="plan-owner_id-error">Choose one of the listed people' in html


# --- who may do what ------------------------------------------------------------------------


def post_everything(client, account: Account, contact: Contact, owner) -> list[int]:
    return [
        client.post(
            f"/accounts/{account.external_id}/edit", data=account_form(account, industry="Changed")
        ).status_code,
        client.post(f"/accounts/{account.external_id}/contacts", data=contact_form()).status_code,
        client.post(
            f"/accounts/{account.external_id}/contacts/{contact.id}",
            data=contact_form(f"contact-{contact.id}", email=f"edited-{contact.id}@x.example"),
        ).status_code,
        client.post(
            f"/accounts/{account.external_id}/plans",
            data=prefixed("plan", template="joint", owner_id=str(owner.id)),
        ).status_code,
    ]


def test_a_viewer_reads_but_sees_no_edit_controls_and_every_post_is_403(client, login):
    viewer = UserFactory(role="viewer")
    account = AccountFactory(external_id="ACME")
    contact = ContactFactory(account=account)
    db.session.commit()
    login(viewer)
    html = client.get("/accounts/ACME").get_data(as_text=True)
    assert account.name in html
    for control in (
        "Edit account",
        "Add contact",
        "New success plan",
        '<form method="post" action="/accounts',
    ):
        assert control not in html
    assert post_everything(client, account, contact, viewer) == [403, 403, 403, 403]
    db.session.expire_all()
    assert db.session.get(Account, account.id).industry == "Software"


def test_a_csm_edits_their_own_account_but_not_anothers(client, login):
    csm = UserFactory(role="csm")
    own = AccountFactory(external_id="OWN", csm_id=csm.id)
    other = AccountFactory(external_id="OTHER")
    own_contact = ContactFactory(account=own, email="a@own.example")
    other_contact = ContactFactory(account=other)
    db.session.commit()
    login(csm)
    assert "Edit account" in client.get("/accounts/OWN").get_data(as_text=True)
    assert "Edit account" not in client.get("/accounts/OTHER").get_data(as_text=True)
    assert post_everything(client, own, own_contact, csm) == [302, 302, 302, 302]
    assert post_everything(client, other, other_contact, csm) == [403, 403, 403, 403]


def test_a_lead_edits_every_account(client, lead):
    someone = UserFactory()
    account = AccountFactory(external_id="THEIRS", csm_id=someone.id)
    contact = ContactFactory(account=account, email="x@theirs.example")
    db.session.commit()
    assert "Edit account" in client.get("/accounts/THEIRS").get_data(as_text=True)
    assert post_everything(client, account, contact, someone) == [302, 302, 302, 302]


def test_account_page_shows_what_the_rules_did(client, lead, count_queries):
    from tests.factories import (
        PoolFactory,
        QueueItemFactory,
        RuleFactory,
        RuleFiringFactory,
        TouchpointFactory,
        TouchpointTemplateFactory,
    )

    account = AccountFactory(external_id="AUTO-1", name="Automation Co")
    client.get(f"/accounts/{account.external_id}")  # warm up
    db.session.expire_all()
    with count_queries() as empty:
        html = client.get(f"/accounts/{account.external_id}").get_data(as_text=True)
    assert "No rule has fired for Automation Co yet" in html
    rule = RuleFactory(name="Quiet for two weeks")
    firing = RuleFiringFactory(rule=rule, account=account, matched={"days_since_last_login": 21})
    QueueItemFactory(
        pool=PoolFactory(name="Rescue desk"),
        account=account,
        firing_id=firing.id,
        title="Quiet for two weeks",
        assignee=lead,
    )
    TouchpointFactory(
        account=account,
        template=TouchpointTemplateFactory(name="Check-in mail"),
        recipient_name="Dana Doe",
        status="sent",
        sent_at=utcnow(),
    )
    db.session.commit()
    db.session.expire_all()
    with count_queries() as full:
        html = client.get(f"/accounts/{account.external_id}").get_data(as_text=True)
    card = html[html.index('id="automation"') : html.index('id="contacts"')]
    assert "Quiet for two weeks" in card and "Days since last login <strong>21</strong>" in card
    assert "Rescue desk" in card and lead.name in card
    assert "Check-in mail" in card and "Dana Doe" in card and "Sent" in card
    assert full.count <= empty.count + 3  # the firing's rule, the item's pool, the template
