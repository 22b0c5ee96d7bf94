"""Trigger rules in the browser: the list (counts, filters, sort, empty states), the rule page
(condition and actions in words, firings, audit trail), the builder (refusals beside the
condition with everything typed kept, preview of the matching accounts, stale edits) and who
may do what."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from cs_app.accounts.usage_models import AccountSignals
from cs_app.audit.models import AuditEvent
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.rules.models import Rule
from tests.factories import AccountFactory, RuleFactory, RuleFiringFactory, UserFactory

CONDITION = {
    "all": [
        {"signal": "days_since_last_login", "op": ">", "value": 14},
        {"signal": "days_to_renewal", "op": "<=", "value": 90},
    ]
}
ACTIONS = [
    {"type": "route_to_pool", "pool": "csm-pool", "priority": "high", "sla_hours": 24},
    {
        "type": "schedule_touchpoint",
        "channel": "call_task",
        "template": "rescue-outreach",
        "recipient": "pool_assignee",
        "delay_days": 1,
    },
]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def form(**changes) -> dict[str, str]:
    data = {
        "name": "Quiet before renewal",
        "description": "",
        "kind": "risk",
        "enabled": "y",
        "mode": "scheduled",
        "event_type": "",
        "event_properties": "",
        "once_policy": "while_open",
        "cooldown_days": "",
        "condition": json.dumps(CONDITION),
        "actions": json.dumps(ACTIONS),
        "action": "save",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def rule_count() -> int:
    return db.session.scalar(select(func.count(Rule.id)))


@pytest.fixture
def lead(app, login):
    user = UserFactory(role="lead", name="Lena Lead")
    db.session.commit()
    login(user)
    return user


@pytest.fixture
def matching_accounts(app):
    """Two accounts quiet before renewal (one with a CSM), one active."""
    now = utcnow()
    csm = UserFactory(name="Casey CSM")
    accounts = {
        "Globex": (
            AccountFactory(name="Globex", arr_minor=9_000_000, csm=csm, segment="Enterprise"),
            {"days_since_last_login": 21, "days_to_renewal": 45},
        ),
        "Initech": (
            AccountFactory(name="Initech", arr_minor=500_000, segment="SMB"),
            {"days_since_last_login": 30, "days_to_renewal": 12},
        ),
        "Hooli": (
            AccountFactory(name="Hooli"),
            {"days_since_last_login": 1, "days_to_renewal": 12},
        ),
    }
    for account, values in accounts.values():
        db.session.add(AccountSignals(account_id=account.id, computed_at=now, **values))
    db.session.commit()
    return {name: account for name, (account, _) in accounts.items()}


# --- the list -------------------------------------------------------------------------------


def test_list_shows_rules_with_their_firings(client, lead):
    rule = RuleFactory(name="Aa quiet accounts", kind="renewal")
    for days in (1, 2, 40):
        RuleFiringFactory(
            rule=rule,
            fired_at=utcnow() - timedelta(days=days),
            status="open" if days == 1 else "closed",
        )
    db.session.commit()
    html = client.get("/rules?q=aa+quiet").get_data(as_text=True)
    row = text_of(re.search(rf'<tr[^>]*id="rule-{rule.id}".*?</tr>', html, re.S).group(0))
    assert "Aa quiet accounts" in row and "Renewal" in row and "Scheduled" in row
    assert "Once while its firing is open" in row and "Enabled" in row
    assert re.search(r"\b2 1\b", row)  # 2 firings in 30 days, 1 open
    assert 'href="/rules/new"' in html
    assert "Rules</a>" in html  # the main navigation links here


def test_list_reads_in_a_fixed_number_of_queries(client, lead, count_queries):
    def load() -> int:
        with count_queries() as counter:
            assert client.get("/rules").status_code == 200
        return counter.count

    for n in range(3):
        RuleFiringFactory(rule=RuleFactory(name=f"Extra {n}"))
    db.session.commit()
    few = load()
    for n in range(10):
        RuleFiringFactory(rule=RuleFactory(name=f"More {n}"))
    db.session.commit()
    assert load() == few


def test_list_filters_sorts_and_says_when_nothing_matches(client, lead):
    RuleFactory(name="Zz one", kind="expansion", enabled=False)
    RuleFactory(name="Zz two", kind="expansion")
    db.session.commit()
    html = client.get("/rules?q=zz&kind=expansion&enabled=no").get_data(as_text=True)
    assert "Zz one" in html and "Zz two" not in html
    html = client.get("/rules?q=zz&sort=name&dir=desc").get_data(as_text=True)
    assert html.index("Zz two") < html.index("Zz one")
    html = client.get("/rules?q=nothing-like-this").get_data(as_text=True)
    assert "No rule matches these filters" in html and "Clear filters" in html


def test_empty_list_says_what_to_do(client, lead):
    db.session.execute(Rule.__table__.delete())
    db.session.commit()
    assert "Create the first rule" in client.get("/rules").get_data(as_text=True)


def test_empty_list_tells_a_viewer_who_writes_rules(client, login):
    viewer = UserFactory(role="viewer")
    db.session.execute(Rule.__table__.delete())
    db.session.commit()
    login(viewer)
    html = client.get("/rules").get_data(as_text=True)
    assert "Ask one of them" in html and "/rules/new" not in html


# --- the rule page --------------------------------------------------------------------------


def test_rule_page_reads_the_rule_in_words_with_firings_and_audit(client, lead):
    response = client.post("/rules/new", data=form())
    assert response.status_code == 302
    rule = db.session.scalar(select(Rule).where(Rule.name == "Quiet before renewal"))
    account = AccountFactory(name="Acme Corp")
    RuleFiringFactory(
        rule=rule, account=account, matched={"days_since_last_login": 20, "days_to_renewal": 45}
    )
    db.session.commit()
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    page = text_of(html)
    assert "Days since last login > 14 AND Days to renewal ≤ 90" in page
    assert "Route to the “CSM Pool” pool, high priority, SLA 24 hours" in page
    assert "Call task “Rescue outreach” to the pool assignee, 1 day after it fires" in page
    assert "Once while its firing is open per account" in page
    assert "Acme Corp" in page and "Days since last login 20" in page and "Open" in page
    assert "Lena Lead" in text_of(re.search(r'id="audit".*?</section>', html, re.S).group(0))


def test_firings_are_paged(client, lead):
    rule = RuleFactory()
    for days in range(30):
        RuleFiringFactory(rule=rule, fired_at=utcnow() - timedelta(days=days))
    db.session.commit()
    html = client.get(f"/rules/{rule.id}").get_data(as_text=True)
    assert "Page 1 of 2" in html and "30 in all" in html
    assert "Page 2 of 2" in client.get(f"/rules/{rule.id}?page=2").get_data(as_text=True)


@pytest.mark.parametrize("page", ["99999999999999999999999", "0", "-2", "two"])
def test_a_firings_page_that_is_no_page_shows_the_first(client, lead, page):
    rule = RuleFactory()
    RuleFiringFactory(rule=rule, fired_at=utcnow())
    db.session.commit()

    response = client.get(f"/rules/{rule.id}?page={page}")

    assert response.status_code == 200
    assert "1 in all" in response.get_data(as_text=True)


def test_an_unknown_rule_is_404(client, lead):
    assert client.get("/rules/999999").status_code == 404
    assert client.get("/rules/999999/edit").status_code == 404


# --- the builder ----------------------------------------------------------------------------


def test_new_rule_form_offers_the_catalog(client, lead):
    html = client.get("/rules/new").get_data(as_text=True)
    catalog = json.loads(
        unescape(
            re.search(
                r'<script type="application/json" id="rule-catalog">(.*?)</script>', html, re.S
            ).group(1)
        )
    )
    assert {"csm-pool", "renewal-specialists"} <= {p["key"] for p in catalog["pools"]}
    assert "welcome-email" in {t["key"] for t in catalog["templates"]}
    assert "days_since_last_login" in {s["key"] for s in catalog["signals"]}
    assert re.search(r'<textarea[^>]*class="json-input" id="condition" name="condition"', html)
    assert "rule_builder.js" in html and "rules.css" in html


def test_creating_a_rule_without_javascript(client, lead):
    before = rule_count()
    response = client.post(
        "/rules/new",
        data=form(
            mode="event",
            event_type="support_ticket",
            event_properties="severity=high,urgent",
            first_event_only="y",
            once_policy="cooldown",
            cooldown_days="30",
            enabled=None,
        ),
    )
    assert response.status_code == 302
    assert rule_count() == before + 1
    rule = db.session.scalar(select(Rule).order_by(Rule.id.desc()))
    assert (rule.mode, rule.event_type, rule.event_properties, rule.first_event_only) == (
        "event",
        "support_ticket",
        {"severity": ["high", "urgent"]},
        True,
    )
    assert (rule.once_policy, rule.cooldown_days, rule.enabled) == ("cooldown", 30, False)
    assert rule.condition == CONDITION and rule.actions[1]["delay_days"] == 1


def test_a_bad_condition_is_named_beside_it_with_everything_kept(client, lead):
    bad = {
        "all": [
            {"signal": "days_since_last_login", "op": ">", "value": 14},
            {"signal": "foo", "op": "=", "value": 1},
        ]
    }
    before = rule_count()
    response = client.post(
        "/rules/new",
        data=form(name="Typed name", condition=json.dumps(bad), description="Typed why"),
    )
    assert response.status_code == 422
    assert rule_count() == before
    html = response.get_data(as_text=True)
    section = re.search(r'id="condition-section".*?</section>', html, re.S).group(0)
    assert "condition.all[1]: unknown signal &#39;foo&#39;" in section
    assert 'value="Typed name"' in html and "Typed why" in html
    assert (
        json.loads(
            unescape(re.search(r'id="condition"[^>]*>(.*?)</textarea>', html, re.S).group(1))
        )
        == bad
    )
    paths = json.loads(re.search(r'id="rule-error-paths">(.*?)</script>', html, re.S).group(1))
    assert paths == {"condition.all[1]": "unknown signal 'foo'"}


def test_bad_actions_and_fields_are_named_beside_them(client, lead):
    response = client.post(
        "/rules/new",
        data=form(
            name="",
            actions=json.dumps([{"type": "route_to_pool", "pool": "nobody"}]),
            once_policy="cooldown",
            cooldown_days="soon",
        ),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    actions = re.search(r'id="actions-section".*?</section>', html, re.S).group(0)
    assert "actions[0].pool: unknown pool &#39;nobody&#39;" in actions
    assert "Give the rule a name." in html
    assert "Enter the cooldown in whole days" in html and 'value="soon"' in html


def test_invalid_json_is_refused_and_kept(client, lead):
    response = client.post("/rules/new", data=form(condition='{"all": [', actions="[]"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "condition: not valid JSON" in html and "{&#34;all&#34;: [</textarea>" in html


def test_preview_shows_which_accounts_match_and_why(client, lead, matching_accounts):
    before = rule_count()
    response = client.post("/rules/new", data=form(name="Kept name", action="preview"))
    assert response.status_code == 200
    assert rule_count() == before  # nothing saved
    html = response.get_data(as_text=True)
    preview = re.search(
        r'<section class="card preview-card" id="preview".*?</section>', html, re.S
    ).group(0)
    words = text_of(preview)
    assert "Preview: 2 accounts match now" in words
    assert "Checked against 3 accounts with signals" in words
    assert "1 Days since last login > 14" in words and "2 Days to renewal ≤ 90" in words
    rows = re.findall(r"<tr>.*?</tr>", preview.split("<tbody>")[1], re.S)
    assert [text_of(r).split()[0] for r in rows] == ["Globex", "Initech"]  # by ARR
    globex = text_of(rows[0])
    assert "Enterprise" in globex and "Casey CSM" in globex and "21" in globex and "45" in globex
    assert globex.count("✓") == 2 and "Pooled" in text_of(rows[1])
    assert "Hooli" not in preview
    assert 'value="Kept name"' in html
    assert 'formaction="/rules/new#preview"' in html


def test_preview_marks_false_and_unknown_clauses(client, lead, matching_accounts):
    condition = {
        "any": [
            {"signal": "days_to_renewal", "op": "<", "value": 20},
            {"signal": "nps_category", "op": "=", "value": "detractor"},
        ]
    }
    html = client.post(
        "/rules/new", data=form(condition=json.dumps(condition), action="preview")
    ).get_data(as_text=True)
    assert "Preview: 2 accounts match now" in text_of(html)
    assert "mark-unknown" in html and "unknown (no value)" in html
    assert "Hooli" in html and "Globex" not in re.search(r"<tbody>.*?</tbody>", html, re.S)[0]


def test_preview_of_a_bad_condition_names_the_clause(client, lead, matching_accounts):
    bad = {"not": {"signal": "logins_7d", "op": ">", "value": "many"}}
    response = client.post("/rules/new", data=form(condition=json.dumps(bad), action="preview"))
    assert response.status_code == 422
    assert "condition.not: logins_7d is a number; &#39;many&#39; is not" in response.get_data(
        as_text=True
    )


def test_preview_without_matches_says_so(client, lead, matching_accounts):
    condition = {"all": [{"signal": "days_to_renewal", "op": ">", "value": 500}]}
    html = client.post(
        "/rules/new", data=form(condition=json.dumps(condition), action="preview")
    ).get_data(as_text=True)
    assert "Preview: 0 accounts match now" in text_of(html)
    assert "No account matches now" in html


def test_editing_a_rule(client, lead):
    rule = RuleFactory(name="Before")
    db.session.commit()
    html = client.get(f"/rules/{rule.id}/edit").get_data(as_text=True)
    assert (
        'value="Before"' in html and f'name="version" type="hidden" value="{rule.version}"' in html
    )
    response = client.post(
        f"/rules/{rule.id}/edit", data=form(name="After", version=str(rule.version))
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).name == "After"
    assert db.session.get(Rule, rule.id).version == 2


def test_a_stale_edit_is_409_and_keeps_what_was_typed(client, lead, now):
    rule = RuleFactory(name="Original")
    db.session.commit()
    from cs_app.triggers.rules import service

    service.update_rule(rule, {**service.definition(rule), "name": "Theirs"}, user=lead, now=now)
    db.session.commit()
    response = client.post(f"/rules/{rule.id}/edit", data=form(name="Mine", version="1"))
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'value="Mine"' in html
    conflict = text_of(re.search(r'id="conflict".*?</div>', html, re.S).group(0))
    assert "Someone saved this rule since you opened it" in conflict
    assert "Name Theirs Mine" in conflict
    assert 'name="version" type="hidden" value="2"' in html
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).name == "Theirs"
    # saving again means "keep mine"
    assert (
        client.post(f"/rules/{rule.id}/edit", data=form(name="Mine", version="2")).status_code
        == 302
    )


def test_enable_disable_and_delete(client, lead):
    rule = RuleFactory(name="Toggle me")
    db.session.commit()
    response = client.post(f"/rules/{rule.id}/disable", data={"next": "/rules?kind=risk"})
    assert response.headers["Location"] == "/rules?kind=risk"
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).enabled is False
    response = client.post(f"/rules/{rule.id}/enable", data={"next": "https://evil.example/"})
    assert response.headers["Location"] == f"/rules/{rule.id}"
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).enabled is True
    assert client.post(f"/rules/{rule.id}/delete").headers["Location"] == "/rules"
    assert db.session.get(Rule, rule.id) is None
    actions = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.entity_type == "rule", AuditEvent.entity_id == str(rule.id)
        )
    ).all()
    assert sorted(actions) == ["deleted", "disabled", "enabled"]


@pytest.mark.parametrize(
    "next_url", ["//evil.example/rules", "/rules\\..\\evil", "https://evil.example/rules", "/"]
)
def test_enabling_goes_back_only_to_a_rules_page_of_this_site(client, lead, next_url):
    rule = RuleFactory(enabled=False)
    db.session.commit()

    response = client.post(f"/rules/{rule.id}/enable", data={"next": next_url})

    assert response.headers["Location"] == f"/rules/{rule.id}"


@pytest.mark.parametrize("role", ["viewer", "csm"])
def test_only_leads_and_admins_write(app, client, login, role):
    rule = RuleFactory(name="Guarded")
    user = UserFactory(role=role)
    db.session.commit()
    login(user)
    assert client.get("/rules").status_code == 200
    assert client.get(f"/rules/{rule.id}").status_code == 200
    assert "Edit rule" not in client.get(f"/rules/{rule.id}").get_data(as_text=True)
    for method, url in (
        ("GET", "/rules/new"),
        ("POST", "/rules/new"),
        ("GET", f"/rules/{rule.id}/edit"),
        ("POST", f"/rules/{rule.id}/edit"),
        ("POST", f"/rules/{rule.id}/enable"),
        ("POST", f"/rules/{rule.id}/disable"),
        ("POST", f"/rules/{rule.id}/delete"),
    ):
        assert client.open(url, method=method, data=form()).status_code == 403, url
    db.session.expire_all()
    assert db.session.get(Rule, rule.id).name == "Guarded"


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/rules")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_form_sets_snooze_days_and_the_churned_flag_and_the_page_shows_them(client, lead):
    html = client.get("/rules/new").get_data(as_text=True)
    assert 'name="snooze_days"' in html and 'value="14"' in html
    assert 'name="include_churned"' in html
    response = client.post("/rules/new", data=form(snooze_days="30", include_churned="y"))
    assert response.status_code == 302
    rule = db.session.scalar(select(Rule).order_by(Rule.id.desc()))
    assert (rule.snooze_days, rule.include_churned) == (30, True)
    page = text_of(client.get(f"/rules/{rule.id}").get_data(as_text=True))
    assert "Quiet for 30 days for an account after its queue item is resolved" in page
    assert "Fires for churned accounts too" in page
    client.post("/rules/new", data=form(name="Defaults"))
    rule = db.session.scalar(select(Rule).order_by(Rule.id.desc()))
    assert (rule.snooze_days, rule.include_churned) == (14, False)
    page = text_of(client.get(f"/rules/{rule.id}").get_data(as_text=True))
    assert "Quiet for 14 days" in page and "Skips churned accounts" in page


def test_a_bad_snooze_is_refused_beside_the_field_and_kept(client, lead):
    before = rule_count()
    response = client.post("/rules/new", data=form(snooze_days="a fortnight"))
    assert response.status_code == 422 and rule_count() == before
    html = response.get_data(as_text=True)
    assert "Enter the snooze in whole days, 0 to 365 (0: no snooze)." in html
    assert 'value="a fortnight"' in html
