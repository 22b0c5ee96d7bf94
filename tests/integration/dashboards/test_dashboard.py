"""The portfolio dashboard: each widget's numbers on a small hand-made portfolio, the filters,
the CSV downloads, the empty states and a constant number of statements per page."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from cs_app.accounts.signals import compute_signals
from cs_app.dashboards import queries, routing_queries
from cs_app.dashboards.queries import DashboardFilters
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from tests.factories import (
    AccountFactory,
    ActionFactory,
    PlanFactory,
    PoolFactory,
    QueueItemFactory,
    RuleFactory,
    RuleFiringFactory,
    UserFactory,
)

USD = "USD"


def snapshot(account, day, band, score, coverage=1.0):
    db.session.add(
        HealthSnapshot(
            account_id=account.id,
            day=day,
            band=band,
            score=score,
            coverage=coverage,
            computed_band=band,
            computed_score=score,
            overridden=False,
            measures=[],
        )
    )


def build_portfolio(now):
    """Seven accounts (one churned) with snapshots today and 30 days ago, plans and actions.

    ========  =====  ==========  =========  ===========  ===========  ==============
    account   CSM    segment     ARR        renewal      30 days ago  today
    ========  =====  ==========  =========  ===========  ===========  ==============
    A1        Ana    Enterprise  $100,000   +10 d        healthy 85   healthy 80
    A2        Ana    Mid-Market  $50,000    +45 d        healthy 75   at risk 55
    A3        Ben    Mid-Market  €30,000    +80 d        at risk 50   critical 20
    A4        Ben    SMB         $10,000    +200 d       critical 25  critical 30
    A5        —      SMB         $5,000     −5 d         never scored
    A6        Ana    Enterprise  churned: left out of everything (critical, +5 d)
    A7        Ben    SMB         $2,000     +120 d       healthy 72   insufficient
    ========  =====  ==========  =========  ===========  ===========  ==============
    """
    today = now.date()
    month_ago = today - timedelta(days=30)
    ana = UserFactory(name="Ana Lopez")
    ben = UserFactory(name="Ben Carter")
    spec = {
        "A1": (ana, "Enterprise", "high-touch", 10_000_000, USD, 10),
        "A2": (ana, "Mid-Market", "hybrid", 5_000_000, USD, 45),
        "A3": (ben, "Mid-Market", "hybrid", 3_000_000, "EUR", 80),
        "A4": (ben, "SMB", "low-touch", 1_000_000, USD, 200),
        "A5": (None, "SMB", "low-touch", 500_000, USD, -5),
        "A6": (ana, "Enterprise", "high-touch", 9_900, USD, 5),
        "A7": (ben, "SMB", "low-touch", 200_000, USD, 120),
    }
    accounts = {
        key: AccountFactory(
            external_id=key,
            name=f"Account {key}",
            csm=csm,
            segment=segment,
            engagement_model=model,
            arr_minor=arr,
            currency=currency,
            renewal_date=today + timedelta(days=days),
            created_at=now - timedelta(days=365),
            lifecycle_stage="churned" if key == "A6" else "adoption",
        )
        for key, (csm, segment, model, arr, currency, days) in spec.items()
    }
    history = {
        "A1": [
            (month_ago, "healthy", 85),
            (today - timedelta(days=1), "critical", 30),
            (today, "healthy", 80),
        ],
        "A2": [(month_ago, "healthy", 75), (today, "at_risk", 55)],
        "A3": [(month_ago, "at_risk", 50), (today, "critical", 20)],
        "A4": [
            (today - timedelta(days=100), "healthy", 90),
            (month_ago, "critical", 25),
            (today, "critical", 30),
        ],
        "A6": [(month_ago, "healthy", 90), (today, "critical", 10)],
        "A7": [(month_ago, "healthy", 72), (today, "insufficient_data", None)],
    }
    for key, rows in history.items():
        for day, band, score in rows:
            snapshot(accounts[key], day, band, score)
    # A1: an active plan, review 10 days overdue, two overdue open actions (one blocked)
    plan_a1 = PlanFactory(
        account=accounts["A1"],
        owner=ana,
        status="active",
        next_review_on=today - timedelta(days=10),
        title="A1 plan",
    )
    for status in ("open", "blocked", "done"):
        ActionFactory(plan=plan_a1, status=status, due_date=today - timedelta(days=3))
    ActionFactory(plan=plan_a1, status="open", due_date=today + timedelta(days=3))
    # A2: a draft plan: neither coverage nor stale, its overdue action does not count
    plan_a2 = PlanFactory(
        account=accounts["A2"], owner=ana, status="draft", next_review_on=today - timedelta(days=20)
    )
    ActionFactory(plan=plan_a2, status="open", due_date=today - timedelta(days=3))
    # A3: active, review in 5 days
    PlanFactory(
        account=accounts["A3"], owner=ben, status="active", next_review_on=today + timedelta(days=5)
    )
    # A6 (churned): an active stale plan with an overdue action, left out of everything
    plan_a6 = PlanFactory(
        account=accounts["A6"],
        owner=ana,
        status="active",
        next_review_on=today - timedelta(days=40),
    )
    ActionFactory(plan=plan_a6, status="open", due_date=today - timedelta(days=9))
    db.session.flush()
    compute_signals(now=now)
    db.session.commit()
    return {"ana": ana, "ben": ben, "accounts": accounts, "plan_a1": plan_a1}


@pytest.fixture
def world(app, now):
    return build_portfolio(now)


def everything():
    return DashboardFilters()


# --- widget numbers ------------------------------------------------------------------------


def test_accounts_and_arr_by_band(world):
    summary = queries.band_summary(everything())
    counts = {row.band: row.accounts for row in summary.rows}
    assert counts == {
        "healthy": 1,
        "at_risk": 1,
        "critical": 2,
        "insufficient_data": 1,
        "not_scored": 1,
    }
    assert summary.accounts == 6 and summary.scored == 5
    assert summary.row("critical").arr == {"EUR": 3_000_000, "USD": 1_000_000}
    assert summary.row("not_scored").arr == {"USD": 500_000}
    assert summary.arr == [("EUR", 3_000_000), ("USD", 16_700_000)]
    assert summary.at_risk_accounts == 3
    assert summary.at_risk_arr == [("EUR", 3_000_000), ("USD", 6_000_000)]
    assert summary.at_risk_share("USD") == pytest.approx(6_000_000 / 16_700_000)
    assert summary.row("healthy").share == pytest.approx(1 / 6)


def test_renewals_in_30_60_90_days_with_their_band(world, now):
    result = queries.renewals(everything(), now.date())
    windows = {w.days: w for w in result.windows}
    assert [w.label for w in result.windows] == ["0–30 days", "31–60 days", "61–90 days"]
    assert windows[30].accounts == 1 and windows[30].by_band == {"healthy": 1}
    assert windows[60].by_band == {"at_risk": 1} and windows[60].arr == {"USD": 5_000_000}
    assert windows[90].by_band == {"critical": 1}
    assert windows[90].at_risk_arr == {"EUR": 3_000_000}
    assert result.total == 3 and result.at_risk_accounts == 2
    assert [
        (line.external_id, line.band, line.days_to_renewal, line.window, line.csm_name)
        for line in result.items
    ] == [
        ("A1", "healthy", 10, 30, "Ana Lopez"),
        ("A2", "at_risk", 45, 60, "Ana Lopez"),
        ("A3", "critical", 80, 90, "Ben Carter"),
    ]


def test_health_trend_counts_each_account_once_a_week_with_its_latest_snapshot(world, now):
    trend = queries.health_trend(everything(), now.date())
    assert len(trend.weeks) == 12
    assert trend.weeks[-1].start == now.date() - timedelta(days=now.date().weekday())
    assert all(week.start.weekday() == 0 for week in trend.weeks)
    # this week: A1's healthy snapshot of today replaces its critical one of yesterday
    assert trend.weeks[-1].counts == {
        "healthy": 1,
        "at_risk": 1,
        "critical": 2,
        "insufficient_data": 1,
    }
    month_ago = now.date() - timedelta(days=30)
    week = next(w for w in trend.weeks if w.start <= month_ago < w.start + timedelta(days=7))
    assert week.counts == {"healthy": 3, "at_risk": 1, "critical": 1}
    assert sum(w.total for w in trend.weeks) == 10  # A4's 100-day-old snapshot is outside
    assert trend.series("critical")[-1] == 2 and not trend.empty


def test_band_movements_list_who_got_worse_biggest_drop_first(world, now):
    moves = queries.band_movements(everything(), now.date())
    assert [(m.external_id, m.band_before, m.band_now, m.score_change) for m in moves.items] == [
        ("A3", "at_risk", "critical", -30),
        ("A2", "healthy", "at_risk", -20),
    ]
    assert moves.worse == 2 and moves.better == 0 and moves.compared == 5
    assert moves.count("healthy", "insufficient_data") == 1  # not "worse": just unknown
    assert moves.count("critical", "critical") == 1
    assert moves.items[0].csm_name == "Ben Carter" and moves.items[0].currency == "EUR"


def test_band_movements_show_the_top_twenty(app, now):
    today = now.date()
    for index in range(23):
        account = AccountFactory(arr_minor=100 * index)
        snapshot(account, today - timedelta(days=31), "healthy", 90)
        snapshot(account, today, "critical", 10 + index)
    db.session.flush()
    moves = queries.band_movements(everything(), today)
    assert moves.worse == 23 and len(moves.items) == 20 and moves.more == 3
    assert [m.score_change for m in moves.items[:2]] == [-80, -79]
    assert len(queries.movement_lines(everything(), today)) == 23


def test_csm_workload(world, now):
    workload = queries.csm_workload(everything(), now.date())
    rows = {row.name: row for row in workload.rows}
    assert list(rows) == ["Ana Lopez", "Ben Carter", "Unassigned (pooled)"]
    ana, ben, pooled = rows.values()
    assert (
        ana.accounts,
        ana.arr,
        ana.at_risk,
        ana.critical,
        ana.overdue_actions,
        ana.stale_plans,
    ) == (2, {"USD": 15_000_000}, 1, 0, 2, 1)
    assert (
        ben.accounts,
        ben.arr,
        ben.at_risk,
        ben.critical,
        ben.overdue_actions,
        ben.stale_plans,
    ) == (3, {"EUR": 3_000_000, "USD": 1_200_000}, 0, 2, 0, 0)
    assert (pooled.accounts, pooled.filter_value) == (1, "none")
    assert workload.currencies == ["EUR", "USD"] and workload.max_accounts == 3


def _routing_world(world, now):
    """Firings of a risk and an expansion rule this week and two weeks ago; queue items for
    Ana (one breached, one resolved late) and Ben (resolved in time) and one unassigned."""
    a = world["accounts"]
    risk, expansion = RuleFactory(kind="risk"), RuleFactory(kind="expansion")
    RuleFiringFactory(rule=risk, account=a["A2"], fired_at=now)
    RuleFiringFactory(
        rule=risk, account=a["A3"], fired_at=now - timedelta(days=14), status="closed"
    )
    RuleFiringFactory(rule=expansion, account=a["A1"], fired_at=now)
    RuleFiringFactory(rule=risk, account=a["A6"], fired_at=now)  # churned: out of scope
    pool = PoolFactory()
    QueueItemFactory(
        pool=pool,
        account=a["A2"],
        assignee=world["ana"],
        sla_due_at=now - timedelta(hours=2),
        breached_at=now - timedelta(hours=1),
    )
    QueueItemFactory(
        pool=pool,
        account=a["A1"],
        assignee=world["ana"],
        status="resolved",
        outcome="saved",
        sla_due_at=now - timedelta(days=2),
        resolved_at=now - timedelta(days=1),
    )
    QueueItemFactory(
        pool=pool,
        account=a["A3"],
        assignee=world["ben"],
        status="resolved",
        outcome="saved",
        sla_due_at=now,
        resolved_at=now - timedelta(hours=3),
    )
    QueueItemFactory(pool=pool, account=a["A4"], assignee=None, sla_due_at=now + timedelta(1))
    db.session.flush()


def test_rule_firings_per_week_by_kind(world, now):
    _routing_world(world, now)
    firings = routing_queries.firings_per_week(everything(), queries.trend_weeks(now.date()))
    assert firings.by_kind["risk"][-1] == 1 and firings.by_kind["risk"][-3] == 1
    assert firings.by_kind["expansion"][-1] == 1 and firings.total == 3


def test_routing_sla_attainment_and_the_queue_now(world, now):
    _routing_world(world, now)
    routing = routing_queries.routing_summary(everything(), queries.trend_weeks(now.date()))
    assert (routing.resolved, routing.attainment) == (2, 0.5)
    assert (routing.open_items, routing.unassigned, routing.breached) == (2, 1, 1)
    smb = routing_queries.routing_summary(
        DashboardFilters(segment="SMB"), queries.trend_weeks(now.date())
    )
    assert (smb.resolved, smb.open_items, smb.unassigned) == (0, 1, 1)


def test_csm_workload_counts_open_queue_items_and_breaches(world, now):
    _routing_world(world, now)
    rows = {row.name: row for row in queries.csm_workload(everything(), now.date()).rows}
    assert (rows["Ana Lopez"].open_items, rows["Ana Lopez"].sla_breaches) == (1, 1)
    assert (rows["Ben Carter"].open_items, rows["Ben Carter"].sla_breaches) == (0, 0)


def test_plan_coverage_and_stale_plans(world, now):
    coverage = queries.plan_coverage(everything(), now.date())
    assert [(r.segment, r.accounts, r.covered) for r in coverage.segments] == [
        ("SMB", 3, 0),
        ("Mid-Market", 2, 1),
        ("Enterprise", 1, 1),
    ]
    assert (coverage.accounts, coverage.covered, coverage.uncovered_total) == (6, 2, 4)
    assert coverage.share == pytest.approx(2 / 6)
    assert [(p.title, p.days_overdue, p.band, p.account_external_id) for p in coverage.stale] == [
        ("A1 plan", 10, "healthy", "A1")
    ]
    assert coverage.stale_total == 1
    assert [a.external_id for a in coverage.uncovered] == ["A2", "A4", "A5", "A7"]


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"segment": "SMB"}, {"A4", "A5", "A7"}),
        ({"engagement": "hybrid"}, {"A2", "A3"}),
        ({"csm": "none"}, {"A5"}),
        ({"segment": "Mid-Market", "engagement": "hybrid"}, {"A2", "A3"}),
    ],
)
def test_filters_narrow_every_widget(world, now, args, expected):
    filters = DashboardFilters.from_args(args)
    today = now.date()
    assert queries.band_summary(filters).accounts == len(expected)
    renewing = {line.external_id for line in queries.renewal_lines(filters, today)}
    assert renewing == expected & {"A1", "A2", "A3"}
    moved = {m.external_id for m in queries.movement_lines(filters, today)}
    assert moved == expected & {"A2", "A3"}
    assert sum(r.accounts for r in queries.csm_workload(filters, today).rows) == len(expected)
    assert queries.plan_coverage(filters, today).accounts == len(expected)
    trend_now = queries.health_trend(filters, today).weeks[-1].total
    assert trend_now == len(expected - {"A5"})


def test_the_csm_filter(world, now):
    filters = DashboardFilters.from_args({"csm": str(world["ana"].id)})
    assert {r.band: r.accounts for r in queries.band_summary(filters).rows if r.accounts} == {
        "healthy": 1,
        "at_risk": 1,
    }
    assert [r.name for r in queries.csm_workload(filters, now.date()).rows] == ["Ana Lopez"]


def test_unknown_filter_values_are_dropped():
    filters = DashboardFilters.from_args(
        {"segment": "Huge", "engagement": "telepathy", "csm": "'; drop table users"}
    )
    assert filters == DashboardFilters() and not filters.filtering
    assert DashboardFilters.from_args({"csm": "9" * 40}).csm == ""
    assert DashboardFilters.from_args({"csm": str(2**31)}).csm == ""
    assert DashboardFilters.from_args({"csm": str(2**31 - 1)}).csm == str(2**31 - 1)
    assert DashboardFilters.from_args({"csm": " 12 "}).args() == {"csm": "12"}


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def live_world(app):
    """The same portfolio dated today, for the pages (which use the real clock)."""
    return build_portfolio(utcnow())


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def kpi(html: str, label: str) -> str:
    match = re.search(
        rf'<div class="kpi-label">{re.escape(label)}</div>\s*'
        r'<div class="kpi-value">(.*?)</div>',
        html,
        re.S,
    )
    assert match, f"no figure {label}"
    return match.group(1).strip()


def test_a_viewer_reads_the_whole_dashboard(client, login, live_world):
    login(UserFactory(role="viewer"))
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert kpi(html, "Accounts") == "6"
    assert kpi(html, "ARR") == "€30K + $167K"
    assert kpi(html, "ARR at risk") == "€30K + $60K"
    assert kpi(html, "Renewals · 90 days") == "3"
    assert kpi(html, "Plan coverage") == "33&nbsp;%"
    assert "36&nbsp;% of USD ARR" in html and "100&nbsp;% of EUR ARR" in html
    bands = section(html, "bands")
    assert re.search(r"Not scored</span></td>\s*<td class=\"num\">1 <span class=\"share\">", bands)
    assert 'id="chart-bands"' in bands and 'id="chart-arr-usd"' in bands
    renewals = section(html, "renewals")
    assert (
        renewals.index("Account A1") < renewals.index("Account A2") < renewals.index("Account A3")
    )
    assert "Account A4" not in renewals and "Account A6" not in renewals
    movements = section(html, "movements")
    assert movements.index("Account A3") < movements.index("Account A2")
    assert "−30" in movements and "Account A1" not in movements
    workload = section(html, "workload")
    assert re.search(r"Ana Lopez</a></td>\s*<td class=\"num\">2</td>", workload)
    assert "Unassigned (pooled)" in workload
    assert "A1 plan" in section(html, "stale-plans")
    trend = section(html, "trend")
    assert 'id="chart-trend"' in trend and "Health trend · last 12 weeks" in trend
    assert "Account A6" not in html  # churned


def test_every_chart_links_its_csv_with_the_filters(client, login, live_world):
    login(UserFactory(role="lead"))
    html = client.get("/dashboard?segment=SMB&engagement=low-touch").get_data(as_text=True)
    for widget in (
        "bands",
        "renewals",
        "trend",
        "movements",
        "workload",
        "coverage",
        "stale-plans",
    ):
        assert re.search(
            rf'href="/dashboard/{widget}\.csv\?(segment=SMB&amp;'
            rf'engagement=low-touch|engagement=low-touch&amp;segment=SMB)"',
            html,
        )


def test_filters_narrow_the_page(client, login, live_world):
    login(UserFactory(role="csm"))
    html = client.get("/dashboard?segment=Mid-Market").get_data(as_text=True)
    assert kpi(html, "Accounts") == "2"
    assert "selected>Mid-Market</option>" in html
    assert "Account A1" not in section(html, "renewals")
    ana = live_world["ana"]
    html = client.get(f"/dashboard?csm={ana.id}").get_data(as_text=True)
    assert kpi(html, "Accounts") == "2"
    assert f'<option value="{ana.id}" selected>Ana Lopez</option>' in html
    assert "Ben Carter" not in section(html, "workload")


def test_filters_that_match_nothing_say_so(client, login, live_world):
    login(UserFactory(role="viewer"))
    html = client.get("/dashboard?csm=999999").get_data(as_text=True)
    assert "No accounts match these filters" in html and 'id="bands"' not in html
    assert 'href="/dashboard">Clear the filters</a>' in html


def test_bad_filter_values_are_ignored_not_an_error(client, login, live_world):
    login(UserFactory(role="viewer"))
    response = client.get("/dashboard?segment=Galactic&csm=abc&engagement=%3Cscript%3E")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert kpi(html, "Accounts") == "6" and "<script>" not in html
    too_big = client.get("/dashboard?csm=999999999999").get_data(as_text=True)
    assert kpi(too_big, "Accounts") == "6"
    assert client.get("/dashboard/bands.csv?csm=99999999999999").status_code == 200


def test_no_accounts_at_all(client, login, app):
    login(UserFactory(role="lead"))
    html = client.get("/dashboard").get_data(as_text=True)
    assert "No accounts yet" in html and "cs-app demo" in html
    assert "Health has not been scored yet" not in html


def test_nothing_scored_yet_says_how_to_score(client, login, app):
    AccountFactory(renewal_date=utcnow().date() + timedelta(days=20))
    db.session.commit()
    login(UserFactory(role="admin"))
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Health has not been scored yet" in html
    assert "cs-app jobs run recompute-health" in html and "daily at 02:00 UTC" in html
    assert 'href="/admin/jobs"' in html
    assert re.search(
        r"Not scored</span></td>\s*<td class=\"num\">1 <span class=\"share\">",
        section(html, "bands"),
    )
    assert "No health snapshots yet" in section(html, "trend")
    assert "nothing has been scored yet" in section(html, "movements")


def test_the_page_costs_the_same_statements_at_any_size(client, login, live_world, count_queries):
    login(UserFactory(role="lead"))
    db.session.expire_all()
    with count_queries() as small:
        small_html = client.get("/dashboard").get_data(as_text=True)
    today = utcnow().date()
    more_csms = [UserFactory(name=f"Extra CSM {n}") for n in range(4)]
    for index in range(30):
        account = AccountFactory(
            csm=more_csms[index % 4], segment="SMB", renewal_date=today + timedelta(days=index * 3)
        )
        snapshot(account, today - timedelta(days=35), "healthy", 90)
        snapshot(account, today - timedelta(days=14), "at_risk", 60)
        snapshot(account, today, "critical", 20 + index)
        plan = PlanFactory(
            account=account, owner=account.csm, next_review_on=today - timedelta(days=2)
        )
        ActionFactory(plan=plan, due_date=today - timedelta(days=1))
    db.session.flush()
    compute_signals(now=utcnow())
    db.session.commit()
    db.session.expire_all()
    with count_queries() as large:
        large_html = client.get("/dashboard").get_data(as_text=True)
    assert small.count == large.count, large.statements
    assert large.count <= 28  # the widgets, sign-in and the nav's unread-alert count
    assert kpi(small_html, "Accounts") == "6" and kpi(large_html, "Accounts") == "36"


# --- CSV -----------------------------------------------------------------------------------


def download(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="dashboard-')
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_of_bands(client, login, live_world):
    login(UserFactory(role="viewer"))
    response = client.get("/dashboard/bands.csv")
    today = utcnow().date().isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="dashboard-bands-{today}.csv"'
    )
    rows = download(client, "/dashboard/bands.csv")
    assert rows[0] == ["band", "label", "accounts", "share_pct", "arr_eur", "arr_usd"]
    assert rows[1:] == [
        ["healthy", "Healthy", "1", "16.7", "0.00", "100000.00"],
        ["at_risk", "At risk", "1", "16.7", "0.00", "50000.00"],
        ["critical", "Critical", "2", "33.3", "30000.00", "10000.00"],
        ["insufficient_data", "Insufficient data", "1", "16.7", "0.00", "2000.00"],
        ["not_scored", "Not scored", "1", "16.7", "0.00", "5000.00"],
    ]


def test_csv_of_renewals_keeps_the_filters(client, login, live_world):
    login(UserFactory(role="viewer"))
    rows = download(client, "/dashboard/renewals.csv?segment=Mid-Market")
    assert rows[0] == [
        "external_id",
        "account",
        "renewal_date",
        "days_to_renewal",
        "window_days",
        "arr",
        "currency",
        "band",
        "health_score",
        "csm",
    ]
    assert [(r[0], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows[1:]] == [
        ("A2", "45", "60", "50000.00", "USD", "at_risk", "55.0", "Ana Lopez"),
        ("A3", "80", "90", "30000.00", "EUR", "critical", "20.0", "Ben Carter"),
    ]


def test_csv_of_rule_firings_and_routing(client, login, live_world):
    _routing_world(live_world, utcnow())
    login(UserFactory(role="viewer"))
    firings = download(client, "/dashboard/firings.csv")
    assert firings[0] == [
        "week_start",
        "risk_firings",
        "expansion_firings",
        "lifecycle_firings",
        "renewal_firings",
        "total",
    ]
    assert len(firings) == 13 and firings[-1][1:] == ["1", "1", "0", "0", "2"]
    routing = download(client, "/dashboard/routing.csv")
    assert routing[0] == ["week_start", "resolved", "resolved_within_sla", "sla_attainment_pct"]
    assert sum(int(row[1]) for row in routing[1:]) == 2
    assert sum(int(row[2]) for row in routing[1:]) == 1


def test_csv_of_trend_movements_workload_coverage_and_stale_plans(client, login, live_world):
    login(UserFactory(role="csm"))
    trend = download(client, "/dashboard/trend.csv")
    assert trend[0] == [
        "week_start",
        "healthy",
        "at_risk",
        "critical",
        "insufficient_data",
        "total",
    ]
    assert len(trend) == 13 and trend[-1][1:] == ["1", "1", "2", "1", "5"]
    movements = download(client, "/dashboard/movements.csv")
    assert [(r[0], r[3], r[5], r[7]) for r in movements[1:]] == [
        ("A3", "at_risk", "critical", "-30.0"),
        ("A2", "healthy", "at_risk", "-20.0"),
    ]
    workload = download(client, "/dashboard/workload.csv")
    assert workload[0] == [
        "csm",
        "accounts",
        "arr_eur",
        "arr_usd",
        "at_risk",
        "critical",
        "overdue_actions",
        "plans_review_overdue",
        "open_queue_items",
        "sla_breaches",
    ]
    assert workload[1] == ["Ana Lopez", "2", "0.00", "150000.00", "1", "0", "2", "1", "0", "0"]
    assert workload[3][0] == "Unassigned (pooled)"
    coverage = download(client, "/dashboard/coverage.csv")
    assert coverage[1:] == [
        ["SMB", "3", "0", "3", "0.0"],
        ["Mid-Market", "2", "1", "1", "50.0"],
        ["Enterprise", "1", "1", "0", "100.0"],
        ["All", "6", "2", "4", "33.3"],
    ]
    stale = download(client, "/dashboard/stale-plans.csv")
    assert [(r[1], r[2], r[6], r[7]) for r in stale[1:]] == [("A1 plan", "A1", "10", "healthy")]


def test_csv_cells_never_run_as_spreadsheet_formulas(client, login, live_world):
    AccountFactory(
        name='=HYPERLINK("http://evil")',
        segment="SMB",
        renewal_date=utcnow().date() + timedelta(days=3),
    )
    db.session.commit()
    login(UserFactory(role="viewer"))
    rows = download(client, "/dashboard/renewals.csv")
    assert '\'=HYPERLINK("http://evil")' in [row[1] for row in rows]


def test_csv_of_an_unknown_widget_is_not_found(client, login, app):
    login(UserFactory(role="viewer"))
    assert client.get("/dashboard/secrets.csv").status_code == 404


def test_csv_needs_a_signed_in_user(client, app):
    response = client.get("/dashboard/bands.csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_account_missed_by_the_last_run_counts_with_its_earlier_snapshot(app, now):
    """Most accounts are read from the week's last scored day; the others still count once,
    with their own latest snapshot of the week."""
    today = now.date()  # a Saturday: the two days before are in the same week
    created = now - timedelta(days=90)
    every_day = AccountFactory(name="Scored daily", created_at=created)
    snapshot(every_day, today - timedelta(days=2), "healthy", 80)
    snapshot(every_day, today, "critical", 30)
    missed = AccountFactory(name="Missed today", created_at=created)
    snapshot(missed, today - timedelta(days=2), "at_risk", 50)
    snapshot(missed, today - timedelta(days=1), "healthy", 75)
    snapshot(missed, today - timedelta(days=31), "healthy", 90)
    snapshot(every_day, today - timedelta(days=30), "healthy", 85)
    AccountFactory(name="Never scored", created_at=created)
    db.session.flush()
    trend = queries.health_trend(everything(), today)
    assert trend.weeks[-1].counts == {"critical": 1, "healthy": 1}
    previous = next(
        w
        for w in trend.weeks
        if w.start <= today - timedelta(days=30) < w.start + timedelta(days=7)
    )
    assert previous.counts == {"healthy": 2}
    moves = queries.band_movements(everything(), today)
    assert moves.count("healthy", "healthy") == 1 and moves.count("healthy", "critical") == 1
    assert [m.name for m in moves.items] == ["Scored daily"]
