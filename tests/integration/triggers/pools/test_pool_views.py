"""The pool, queue and alert pages: lists, the pool editor (refusals beside the fields with
what was typed kept, rows added and removed without JavaScript), claim / reassign / resolve
from the pages, alerts and the top bar's count, and "My queue" on the home page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import delete, select

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.pools.models import CsmPool, PoolMember, QueueItem
from tests.factories import (
    AccountFactory,
    AlertFactory,
    PoolFactory,
    PoolMemberFactory,
    QueueItemFactory,
    RuleFiringFactory,
    UserFactory,
)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def section(html: str, element_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{element_id}".*?</section>', html, re.S)
    assert match, f"no section #{element_id}"
    return match.group(0)


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', html)
    assert match, f"no error for {field_id}"
    return unescape(match.group(1))


@pytest.fixture
def team(app):
    lead = UserFactory(role="lead", name="Lena Lead")
    pool = PoolFactory(lead=lead, name="Rescue desk", key="rescue")
    ana = PoolMemberFactory(
        pool=pool, position=0, capacity=3, segments=["SMB"], user=UserFactory(name="Ana Member")
    ).user
    bo = PoolMemberFactory(
        pool=pool, position=1, capacity=1, user=UserFactory(name="Bo Member")
    ).user
    db.session.commit()
    return {
        "pool": pool,
        "lead": lead,
        "ana": ana,
        "bo": bo,
        "cy": UserFactory(name="Cy Outsider"),
        "viewer": UserFactory(role="viewer"),
    }


def item_for(team, **values) -> QueueItem:
    account = AccountFactory(name=values.pop("account_name", "Acme Corp"))
    values.setdefault("sla_due_at", utcnow() + timedelta(hours=6))
    item = QueueItemFactory(
        pool=team["pool"],
        account=account,
        title="Login drop",
        reason={"days_since_last_login": 21, "seat_utilization_pct": 42.5},
        **values,
    )
    db.session.commit()
    return item


# --- the pools list -------------------------------------------------------------------------


def test_the_pools_list_shows_members_loads_and_counts(client, login, team, count_queries):
    item_for(team, assignee=team["ana"])
    item_for(team, assignee=None, sla_due_at=utcnow() - timedelta(hours=1))
    team["bo"].away = True
    db.session.commit()
    login(team["viewer"])
    db.session.expire_all()
    with count_queries() as counter:
        html = client.get("/pools").get_data(as_text=True)
    assert counter.count <= 8, counter.statements
    row = re.search(
        r"<tr>\s*<td>\s*<a class=\"pool-name\"[^>]*>Rescue desk.*?</tr>", html, re.S
    ).group(0)
    text = text_of(row)
    assert "Ana Member 1/3" in text and "Bo Member 0/1 Away" in text
    assert "Owner first, then least loaded" in text and "Lead: Lena Lead" in text
    counts = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
    assert [text_of(c) for c in counts] == ["2", "1", "1"]  # open, unassigned, breached
    assert "+ New pool" not in html  # viewers read


def test_the_empty_list_says_what_to_do(client, login, app):
    db.session.execute(delete(CsmPool))
    lead = UserFactory(role="lead")
    db.session.commit()
    login(lead)
    text = text_of(client.get("/pools").get_data(as_text=True))
    assert "No pools yet — create one so rules can route accounts" in text
    assert "Create the first pool" in text


# --- the pool editor ------------------------------------------------------------------------


def member_form(rows: list[dict], **fields) -> dict:
    data = {
        "name": "Renewal desk",
        "strategy": "round_robin",
        "lead": "",
        "default_sla_hours": "24",
        "action": "save",
        **fields,
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"m-{index}-{name}"] = value
    return data


def test_a_lead_creates_a_pool_from_the_form(client, login, team):
    login(team["lead"])
    html = client.get("/pools/new").get_data(as_text=True)
    assert html.count('name="m-0-user"') == 1 and 'name="m-2-user"' in html  # blank rows
    response = client.post(
        "/pools/new",
        data=member_form(
            [
                {"user": str(team["ana"].id), "capacity": "4", "segments": ["SMB", "Enterprise"]},
                {"user": str(team["bo"].id), "capacity": "2", "away": "1"},
                {"user": "", "capacity": "20"},  # a blank row is skipped
            ],
            lead=str(team["lead"].id),
            key="renewals",
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    pool = db.session.scalar(select(CsmPool).where(CsmPool.key == "renewals"))
    assert response.headers["Location"].endswith(f"/pools/{pool.id}")
    assert [(m.user_id, m.capacity, m.segments, m.away) for m in pool.members] == [
        (team["ana"].id, 4, ["SMB", "Enterprise"], False),
        (team["bo"].id, 2, [], True),
    ]
    assert pool.lead_id == team["lead"].id and pool.strategy == "round_robin"


def test_refusals_sit_beside_their_fields_and_keep_what_was_typed(client, login, team):
    login(team["lead"])
    response = client.post(
        "/pools/new",
        data=member_form(
            [
                {"user": str(team["ana"].id), "capacity": "0", "segments": ["SMB"]},
                {"user": str(team["ana"].id), "capacity": "3", "away": "1"},
            ],
            name="",
            default_sla_hours="soon",
            description="Kept description",
        ),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "name") == "Give the pool a name."
    assert "from 1 to 8760" in field_error(html, "default_sla_hours")
    assert "from 1 to 500" in field_error(html, "m-0-capacity")
    assert field_error(html, "m-1-user") == "Ana Member is listed twice."
    assert 'value="soon"' in html and "Kept description" in html
    assert re.search(r'name="m-0-capacity" value="0"', html)
    assert re.search(r'name="m-0-segments" value="SMB"\s+checked', html)
    assert re.search(r'name="m-1-away" value="1"\s+checked', html)
    assert "fix the marked fields" in html
    assert db.session.scalar(select(CsmPool).where(CsmPool.name == "")) is None


def test_more_rows_keeps_what_was_typed_and_saves_nothing(client, login, team):
    login(team["lead"])
    before = db.session.scalars(select(CsmPool.id)).all()
    response = client.post(
        "/pools/new",
        data=member_form([{"user": str(team["ana"].id), "capacity": "7"}], action="add_rows"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="m-6-user"' in html and re.search(r'name="m-0-capacity" value="7"', html)
    assert db.session.scalars(select(CsmPool.id)).all() == before


def test_editing_removes_a_ticked_member_and_keeps_the_key(client, login, team):
    login(team["lead"])
    pool = team["pool"]
    html = client.get(f"/pools/{pool.id}/edit").get_data(as_text=True)
    assert "<code>rescue</code>" in html and 'name="key"' not in html
    assert re.search(rf'<option value="{team["bo"].id}" selected>', html)
    response = client.post(
        f"/pools/{pool.id}/edit",
        data=member_form(
            [
                {"user": str(team["ana"].id), "capacity": "3", "segments": ["SMB"]},
                {"user": str(team["bo"].id), "capacity": "1", "remove": "1"},
            ],
            name="Rescue desk",
            key="hacked",
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(CsmPool.key).where(CsmPool.id == pool.id)) == "rescue"
    assert db.session.scalars(
        select(PoolMember.user_id).where(PoolMember.pool_id == pool.id)
    ).all() == [team["ana"].id]


def test_only_leads_and_admins_edit_pools(client, login, team):
    login(team["ana"])
    assert client.get("/pools/new").status_code == 403
    assert client.post(f"/pools/{team['pool'].id}/edit", data=member_form([])).status_code == 403
    assert client.get("/pools/999999/edit").status_code == 403  # role first, then the pool


# --- a pool's queue -------------------------------------------------------------------------


def test_the_pool_page_shows_items_with_reasons_and_breaches(client, login, team):
    late = item_for(
        team,
        assignee=team["ana"],
        account_name="Late Co",
        sla_due_at=utcnow() - timedelta(hours=3),
        priority="high",
    )
    item_for(team, assignee=None, account_name="Waiting Co")
    login(team["bo"])
    html = client.get(f"/pools/{team['pool'].id}").get_data(as_text=True)
    rows = re.findall(r'<tr class="[^"]*" id="item-(\d+)">(.*?)</tr>', html, re.S)
    assert [int(i) for i, _ in rows][0] == late.id  # SLA first
    late_row = text_of(rows[0][1])
    assert "Late Co" in late_row and "Login drop" in late_row
    assert "Days since last login 21" in late_row and "Seat utilisation" in late_row
    assert "42.5 %" in late_row
    assert "Breached" in late_row and "3 h overdue" in late_row and "High" in late_row
    waiting_row = text_of(rows[1][1])
    assert "Unassigned" in waiting_row and "Claim" in waiting_row
    assert "Claim" not in late_row.replace("Claimed", "")  # Ana's item: Bo cannot claim
    assert "Ana Member 1/3" in text_of(html)


def test_the_pool_page_filters_and_sorts(client, login, team):
    item_for(team, assignee=team["ana"], account_name="Open Co")
    item_for(team, assignee=team["bo"], account_name="Claimed Co", status="claimed")
    item_for(team, assignee=team["bo"], account_name="Done Co", status="resolved", outcome="saved")
    login(team["viewer"])
    pool_id = team["pool"].id
    claimed = text_of(client.get(f"/pools/{pool_id}?status=claimed").get_data(as_text=True))
    assert "Claimed Co" in claimed and "Open Co" not in claimed
    resolved = text_of(
        client.get(f"/pools/{pool_id}?status=resolved&sort=priority").get_data(as_text=True)
    )
    assert "Done Co" in resolved and "Saved" in resolved
    assert "Open and claimed 2" in resolved and "Resolved 1" in resolved
    unassigned = text_of(client.get(f"/pools/{pool_id}?status=unassigned").get_data(as_text=True))
    assert "No item waits for an assignee" in unassigned
    assert "Claim" not in text_of(client.get(f"/pools/{pool_id}").get_data(as_text=True)).replace(
        "Claimed", ""
    )  # viewers read only


def test_an_empty_pool_says_how_items_arrive(client, login, team):
    login(team["ana"])
    text = text_of(client.get(f"/pools/{team['pool'].id}").get_data(as_text=True))
    assert "Nothing has been routed here yet" in text and "rescue" in text


def test_claim_from_the_pool_page_returns_there(client, login, team):
    item = item_for(team, assignee=None)
    login(team["bo"])
    back = f"/pools/{team['pool'].id}?status=unassigned"
    response = client.post(f"/queue/{item.id}/claim", data={"version": item.version, "next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    db.session.expire_all()
    item = db.session.get(QueueItem, item.id)
    assert (item.status, item.assignee_id) == ("claimed", team["bo"].id)


def test_claiming_someone_elses_item_explains_itself(client, login, team):
    item = item_for(team, assignee=team["ana"])
    login(team["lead"])
    response = client.post(f"/queue/{item.id}/claim", data={}, follow_redirects=True)
    assert "assigned to Ana Member; reassign it" in text_of(response.get_data(as_text=True))


def test_an_outsider_and_a_viewer_get_403(client, login, team):
    item = item_for(team, assignee=None)
    for user in (team["cy"], team["viewer"]):
        login(user)
        for action in ("claim", "reassign", "resolve"):
            assert (
                client.post(f"/queue/{item.id}/{action}", data={"outcome": "saved"}).status_code
                == 403
            )
        client.post("/logout")
    db.session.expire_all()
    assert db.session.get(QueueItem, item.id).status == "open"


# --- the item page --------------------------------------------------------------------------


def test_the_item_page_shows_the_item_and_what_i_may_do(client, login, team):
    item = item_for(team, assignee=team["ana"])
    login(team["ana"])
    html = client.get(f"/queue/{item.id}").get_data(as_text=True)
    text = text_of(html)
    assert "Acme Corp" in text and "Why it was routed" in text
    assert "Days since last login 21" in text
    assert "Claim this item" in html and 'id="resolve"' in html and 'id="reassign"' in html
    reassign = section(html, "reassign")
    assert "Bo Member — 0/1 open" in text_of(reassign)
    assert "Ana Member — 0/3 open (assigned now)" not in text_of(reassign)  # Ana holds 1
    assert "Ana Member — 1/3 open (assigned now)" in text_of(reassign)
    assert "Assign anyway" not in reassign  # the assignee cannot force
    client.post("/logout")
    login(team["cy"])
    html = client.get(f"/queue/{item.id}").get_data(as_text=True)
    assert "Claim this item" not in html and 'id="resolve"' not in html
    assert "its assignee or the pool's lead can act on it" in text_of(html)


def test_resolving_without_an_outcome_is_refused_beside_the_field(client, login, team):
    item = item_for(team, assignee=team["ana"])
    login(team["ana"])
    response = client.post(
        f"/queue/{item.id}/resolve",
        data={"outcome": "", "notes": "Spoke to the champion", "version": item.version},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "outcome") == (
        "Choose an outcome: saved, churned, expanded or no action."
    )
    assert "Spoke to the champion</textarea>" in html


def test_resolving_with_a_stale_version_keeps_the_notes(client, login, team):
    item = item_for(team, assignee=team["ana"])
    login(team["ana"])
    response = client.post(
        f"/queue/{item.id}/resolve",
        data={"outcome": "saved", "notes": "My notes", "version": item.version - 1},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone changed this item since you opened it" in html
    assert "My notes</textarea>" in html
    assert re.search(rf'name="version"[^>]*value="{item.version}"', html) or re.search(
        rf'value="{item.version}"[^>]*name="version"', html
    )


def test_resolving_closes_the_item_and_its_firing(client, login, team):
    firing = RuleFiringFactory()
    item = item_for(team, assignee=team["ana"], firing_id=firing.id)
    login(team["ana"])
    response = client.post(
        f"/queue/{item.id}/resolve",
        data={"outcome": "expanded", "notes": "Upsold seats", "version": item.version},
    )
    assert response.status_code == 302
    page = text_of(client.get(f"/queue/{item.id}").get_data(as_text=True))
    assert "Expanded" in page and "Upsold seats" in page and "resolved it: Expanded" in page
    db.session.expire_all()
    assert db.session.get(type(firing), firing.id).status == "closed"
    second = client.post(
        f"/queue/{item.id}/resolve", data={"outcome": "saved", "version": item.version + 1}
    )
    assert second.status_code in (403, 409)


def test_reassigning_to_a_full_member_is_refused_beside_the_select(client, login, team):
    item_for(team, assignee=team["bo"])  # Bo is full (1 of 1)
    item = item_for(team, assignee=team["ana"])
    login(team["ana"])
    response = client.post(
        f"/queue/{item.id}/reassign", data={"assignee": str(team["bo"].id), "version": item.version}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "assignee").startswith("Bo Member is full (1 of 1 open items)")
    assert re.search(
        rf'<option selected value="{team["bo"].id}"|<option value="'
        rf'{team["bo"].id}" selected',
        html,
    )
    client.post("/logout")
    login(team["lead"])
    response = client.post(
        f"/queue/{item.id}/reassign",
        data={"assignee": str(team["bo"].id), "force": "y", "version": item.version},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(QueueItem, item.id).assignee_id == team["bo"].id


# --- my queue -------------------------------------------------------------------------------


def test_my_queue_lists_my_items_breached_first_and_the_claimable_tab(client, login, team):
    item_for(
        team,
        assignee=team["ana"],
        account_name="Later Co",
        sla_due_at=utcnow() + timedelta(hours=2),
    )
    item_for(
        team, assignee=team["ana"], account_name="Late Co", sla_due_at=utcnow() - timedelta(hours=2)
    )
    item_for(team, assignee=team["bo"], account_name="Bo Co")
    item_for(team, assignee=None, account_name="Free Co")
    login(team["ana"])
    html = client.get("/queue").get_data(as_text=True)
    text = text_of(html)
    assert text.index("Late Co") < text.index("Later Co") and "Bo Co" not in text
    assert "2 items assigned to you, 1 past its SLA" in text
    assert "Assigned to me 2" in text and "Unassigned in my pools 1" in text
    claimable = text_of(client.get("/queue?tab=claimable").get_data(as_text=True))
    assert "Free Co" in claimable and "Late Co" not in claimable


def test_an_empty_queue_says_what_to_do(client, login, team):
    login(team["cy"])
    text = text_of(client.get("/queue").get_data(as_text=True))
    assert "Nothing is assigned to you" in text and "ask your CS lead to add you" in text


# --- home -----------------------------------------------------------------------------------


def test_home_shows_my_queue_and_unread_alerts(client, login, team):
    item_for(
        team, assignee=team["ana"], account_name="Late Co", sla_due_at=utcnow() - timedelta(hours=2)
    )
    item_for(team, assignee=team["ana"], account_name="Fine Co")
    AlertFactory(user=team["ana"], title="Rescue desk: SLA breached")
    db.session.commit()
    login(team["ana"])
    html = client.get("/").get_data(as_text=True)
    queue = text_of(section(html, "my-queue"))
    assert queue.index("Late Co") < queue.index("Fine Co")
    assert "2 open or claimed items · 1 past SLA" in queue and "Breached" in queue
    assert "Rescue desk: SLA breached" in text_of(section(html, "alerts"))
    assert re.search(r'class="alert-count"[^>]*>1<', html)


def test_home_queue_costs_the_same_statements_at_any_size(client, login, team, count_queries):
    login(team["ana"])
    item_for(team, assignee=team["ana"])
    db.session.expire_all()
    with count_queries() as small:
        client.get("/")
    for _ in range(15):
        item_for(team, assignee=team["ana"])
        AlertFactory(user=team["ana"])
    db.session.commit()
    db.session.expire_all()
    with count_queries() as large:
        html = client.get("/").get_data(as_text=True)
    assert small.count == large.count, large.statements
    assert "and 6 more" in section(html, "my-queue")
    assert not [
        s
        for s in large.statements
        if "FROM alerts" in s and "count(" in s.lower() and "OVER" not in s.upper()
    ]  # the badge reuses the section's count


def test_a_lead_who_can_no_longer_lead_is_shown_and_refused_by_name(client, login, team):
    team["lead"].active = False
    admin = UserFactory(role="admin")
    db.session.commit()
    login(admin)
    pool_id = team["pool"].id
    html = client.get(f"/pools/{pool_id}/edit").get_data(as_text=True)
    assert re.search(
        rf'<option selected value="{team["lead"].id}">Lena Lead \(can no longer '
        rf'lead\)|<option value="{team["lead"].id}" selected>Lena Lead',
        html,
    )
    response = client.post(
        f"/pools/{pool_id}/edit",
        data=member_form([], name="Rescue desk", lead=str(team["lead"].id)),
    )
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "lead") == "Lena Lead is deactivated."


# --- reasons, snooze and reopen on the pages -----------------------------------------------


def test_the_item_page_lists_every_rule_behind_the_item(client, login, team):
    from cs_app.triggers.pools.models import QueueItemReason

    item = item_for(team, assignee=team["ana"])
    for title, matched in (("Login drop", item.reason), ("Ticket spike", {"open_tickets": 9})):
        db.session.add(
            QueueItemReason(
                queue_item_id=item.id,
                title=title,
                matched=matched,
                priority="high",
                added_at=item.created_at,
            )
        )
    db.session.commit()
    login(team["ana"])
    text = text_of(client.get(f"/queue/{item.id}").get_data(as_text=True))
    assert "2 rules fired for this account" in text
    assert "Login drop" in text and "Ticket spike" in text and "Days since last login 21" in text
    queue = text_of(client.get(f"/pools/{team['pool'].id}").get_data(as_text=True))
    assert "and Ticket spike" in queue


def test_a_resolved_item_shows_its_snooze_and_reopens(client, login, team):
    rule = RuleFiringFactory().rule
    item = item_for(team, assignee=team["ana"], rule=rule)
    login(team["ana"])
    client.post(f"/queue/{item.id}/resolve", data={"outcome": "saved", "version": item.version})
    html = client.get(f"/queue/{item.id}").get_data(as_text=True)
    assert "Its rules stay quiet for this account until" in text_of(html)
    assert 'id="reopen"' in html
    db.session.expire_all()
    version = db.session.get(QueueItem, item.id).version
    response = client.post(f"/queue/{item.id}/reopen", data={"version": version})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(QueueItem, item.id).status == "open"
    again = client.post(f"/queue/{item.id}/reopen", data={"version": version + 1})
    assert again.status_code == 409
    assert "only a resolved item can be reopened" in again.get_data(as_text=True)


def test_an_outsider_may_not_reopen(client, login, team):
    item = item_for(team, assignee=team["ana"], status="resolved", outcome="saved")
    login(team["cy"])
    assert 'id="reopen"' not in client.get(f"/queue/{item.id}").get_data(as_text=True)
    assert (
        client.post(f"/queue/{item.id}/reopen", data={"version": item.version}).status_code == 403
    )
