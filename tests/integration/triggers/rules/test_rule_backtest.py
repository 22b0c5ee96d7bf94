"""Rule backtests: replaying a rule over the snapshot history, the once-only policy in the
replay, signals with and without history, pool load, outcomes, and no side effects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cs_app.accounts.models import LifecycleStageEntry
from cs_app.accounts.signals import compute_signals
from cs_app.accounts.usage_models import AccountSignals, MetricValue, UsageEvent
from cs_app.api.rules_backtest import RuleBacktestOut
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.health.models import HealthSnapshot
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.rules.backtest import backtest_rule
from cs_app.triggers.rules.models import RuleFiring
from tests.factories import (
    AccountFactory,
    PoolFactory,
    PoolMemberFactory,
    RuleFactory,
    UserFactory,
)

CRITICAL = {"all": [{"signal": "health_band", "op": "=", "value": "critical"}]}


def band_of(score: float) -> str:
    return "healthy" if score >= 70 else "at_risk" if score >= 40 else "critical"


def history(account, now, scores: dict[int, float], measures=None):
    """Snapshots ``days ago → score`` for the account."""
    for days_ago, score in scores.items():
        band = band_of(score)
        db.session.add(
            HealthSnapshot(
                account_id=account.id,
                day=now.date() - timedelta(days=days_ago),
                score=score,
                band=band,
                coverage=1.0,
                computed_score=score,
                computed_band=band,
                measures=measures(days_ago) if measures else [],
                computed_at=now,
            )
        )
    db.session.flush()


def spans(now, *runs):
    """{days ago: score} from (first day ago, last day ago, score) runs."""
    scores = {}
    for first, last, score in runs:
        for days_ago in range(first, last - 1, -1):
            scores[days_ago] = score
    return scores


@pytest.fixture
def swinging(app, now):
    """Critical 29–20 days ago, healthy 19–10, critical again 9–0."""
    account = AccountFactory(name="Swinging Co")
    history(account, now, spans(now, (29, 20, 25.0), (19, 10, 80.0), (9, 0, 30.0)))
    return account


def day(now, days_ago: int) -> date:
    return now.date() - timedelta(days=days_ago)


def test_a_rule_fires_at_the_start_of_each_run_of_matching_days(app, now, swinging):
    result = backtest_rule(RuleFactory(condition=CRITICAL), days=30, now=now)
    assert result.firings_by_day == {day(now, 29): 1, day(now, 9): 1}
    assert result.suppressed == 0
    [fired] = result.accounts
    assert (fired.name, fired.fired_on) == ("Swinging Co", [day(now, 29), day(now, 9)])
    assert result.replayed == 30 and result.accounts_replayed == 1
    assert result.signals_with_history == ["health_band"]
    assert result.signals_at_current_value == []


@pytest.mark.parametrize(
    ("policy", "cooldown", "fired", "suppressed"),
    [
        ("while_open", 0, 2, 0),
        ("cooldown", 15, 2, 0),
        ("cooldown", 30, 1, 1),
        ("once_ever", 0, 1, 1),
        ("once_per_renewal_cycle", 0, 1, 1),
    ],
)
def test_the_once_only_policy_holds_in_the_replay(
    app, now, swinging, policy, cooldown, fired, suppressed
):
    rule = RuleFactory(condition=CRITICAL, once_policy=policy, cooldown_days=cooldown)
    result = backtest_rule(rule, days=30, now=now)
    assert (result.firings, result.suppressed) == (fired, suppressed)


def test_the_window_limits_the_replay(app, now, swinging):
    result = backtest_rule(RuleFactory(condition=CRITICAL), days=5, now=now)
    assert result.firings_by_day == {day(now, 4): 1}
    assert result.start == day(now, 4) and result.end == now.date()


def test_a_signal_without_history_takes_its_current_value_and_is_named(app, now, swinging):
    compute_signals(now=now, account_ids=[swinging.id])
    db.session.get(AccountSignals, swinging.id).logins_7d = 1
    db.session.flush()
    rule = RuleFactory(
        condition={
            "all": [
                {"signal": "health_band", "op": "=", "value": "critical"},
                {"signal": "logins_7d", "op": "<", "value": 3},
            ]
        }
    )
    result = backtest_rule(rule, days=30, now=now)
    assert result.signals_with_history == ["health_band"]
    assert result.signals_at_current_value == ["logins_7d"]
    assert result.firings == 2


def test_dated_signals_are_counted_from_each_replayed_day(app, now):
    account = AccountFactory(renewal_date=now.date() + timedelta(days=25))
    history(account, now, dict.fromkeys(range(10), 75.0))
    rule = RuleFactory(condition={"all": [{"signal": "days_to_renewal", "op": "<=", "value": 30}]})
    result = backtest_rule(rule, days=10, now=now)
    # 25 days to renewal today: it was 30 five days ago, 31 six days ago
    assert result.firings_by_day == {day(now, 5): 1}
    assert result.signals_with_history == ["days_to_renewal"]


def test_health_change_compares_with_the_snapshot_30_days_before(app, now):
    account = AccountFactory()
    history(account, now, {40: 80.0, 35: 80.0, 5: 60.0, 4: 60.0, 0: 78.0})
    rule = RuleFactory(
        condition={"all": [{"signal": "health_change_30d", "op": "<=", "value": -15}]}
    )
    result = backtest_rule(rule, days=10, now=now)
    assert result.firings_by_day == {day(now, 5): 1}  # 60 − 80; four days ago had no day −30


def test_the_stage_is_the_one_entered_by_that_day(app, now):
    account = AccountFactory(lifecycle_stage="renewal")
    db.session.add_all(
        [
            LifecycleStageEntry(account_id=account.id, stage="adoption", entered_on=day(now, 100)),
            LifecycleStageEntry(account_id=account.id, stage="renewal", entered_on=day(now, 3)),
        ]
    )
    history(account, now, dict.fromkeys(range(10), 75.0))
    rule = RuleFactory(
        condition={"all": [{"signal": "lifecycle_stage", "op": "=", "value": "adoption"}]}
    )
    result = backtest_rule(rule, days=10, now=now)
    assert result.firings_by_day == {day(now, 9): 1}
    assert result.accounts[0].fired_on == [day(now, 9)]


def test_metrics_are_read_as_they_stood_that_day(app, now):
    account = AccountFactory()
    history(account, now, dict.fromkeys(range(10), 75.0))
    db.session.add_all(
        [
            MetricValue(
                account_id=account.id,
                metric_key="quota_used_pct",
                measured_on=day(now, 20),
                value=50.0,
            ),
            MetricValue(
                account_id=account.id,
                metric_key="quota_used_pct",
                measured_on=day(now, 6),
                value=92.0,
            ),
        ]
    )
    db.session.flush()
    for key in ("quota_used_pct", "metric.quota_used_pct"):
        rule = RuleFactory(condition={"all": [{"signal": key, "op": ">=", "value": 80}]})
        result = backtest_rule(rule, days=10, now=now)
        assert result.firings_by_day == {day(now, 6): 1}, key
        assert result.signals_with_history == [key]


def test_a_signal_a_scorecard_measured_is_read_from_the_snapshot(app, now):
    account = AccountFactory()

    def measures(days_ago):
        return [
            {
                "key": "logins",
                "signal": "logins_30d",
                "value": 2 if days_ago < 4 else 20,
                "score": 10.0,
                "weight": 100,
                "stale": 0,
            },
            {
                "key": "champion",
                "signal": "champion_departed",
                "value": 1 if days_ago < 2 else 0,
                "score": 0.0,
                "weight": 0,
                "stale": 0,
            },
        ]

    history(account, now, dict.fromkeys(range(10), 75.0), measures)
    rule = RuleFactory(condition={"all": [{"signal": "logins_30d", "op": "<=", "value": 3}]})
    result = backtest_rule(rule, days=10, now=now)
    assert result.firings_by_day == {day(now, 3): 1}
    assert result.signals_with_history == ["logins_30d"]
    departed = RuleFactory(
        condition={"all": [{"signal": "champion_departed", "op": "=", "value": True}]}
    )
    assert backtest_rule(departed, days=10, now=now).firings_by_day == {day(now, 1): 1}


def test_outcomes_after_the_firing_against_the_base_rate(app, now, swinging):
    steady = AccountFactory()
    history(steady, now, dict.fromkeys(range(30), 85.0))
    db.session.add(
        LifecycleStageEntry(account_id=swinging.id, stage="churned", entered_on=day(now, 2))
    )
    db.session.flush()
    result = backtest_rule(RuleFactory(condition=CRITICAL), days=30, now=now)
    [fired] = result.accounts
    assert (fired.outcome, fired.outcome_on) == ("churned", day(now, 2))
    assert (fired.band_then, fired.band_now, fired.band_move) == (
        "critical",
        "critical",
        "unchanged",
    )
    assert result.outcome_counts() == {"churned": 1, "expanded": 0}
    assert result.base_rates == {"churned": 0.5, "expanded": 0.0}


def test_a_churn_before_the_first_firing_is_not_an_outcome(app, now, swinging):
    db.session.add(
        LifecycleStageEntry(account_id=swinging.id, stage="churned", entered_on=day(now, 40))
    )
    db.session.flush()
    rule = RuleFactory(condition=CRITICAL, include_churned=True)  # a win-back rule
    [fired] = backtest_rule(rule, days=30, now=now).accounts
    assert fired.outcome is None


def test_churned_account_days_are_skipped_and_counted_unless_the_rule_targets_them(
    app, now, swinging
):
    db.session.add(
        LifecycleStageEntry(account_id=swinging.id, stage="churned", entered_on=day(now, 40))
    )
    db.session.flush()
    targeting = backtest_rule(
        RuleFactory(condition=CRITICAL, include_churned=True), days=30, now=now
    )
    result = backtest_rule(RuleFactory(condition=CRITICAL), days=30, now=now)
    assert result.accounts == [] and result.firings == 0
    assert result.skipped_churned > 0 and targeting.skipped_churned == 0
    assert result.as_dict()["skipped_churned"] == result.skipped_churned


def test_routing_load_is_simulated_over_the_pool_members(app, now):
    pool = PoolFactory(key="rescue", strategy="least_loaded")
    for position, (name, capacity, away) in enumerate(
        [("Ana", 1, False), ("Ben", 1, False), ("Cleo", 5, True)]
    ):
        PoolMemberFactory(
            pool=pool, capacity=capacity, position=position, away=away, user=UserFactory(name=name)
        )
    # three accounts turn critical on the same day: two are taken, one waits; the first
    # recovers three days later and a fourth, critical after that, takes the freed place
    for runs in [
        ((9, 7, 20.0), (6, 0, 80.0)),
        ((9, 0, 20.0),),
        ((9, 0, 20.0),),
        ((10, 5, 80.0), (4, 0, 20.0)),
    ]:
        history(AccountFactory(), now, spans(now, *runs))
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[{"type": "route_to_pool", "pool": "rescue", "priority": "high", "sla_hours": 24}],
    )
    result = backtest_rule(rule, days=10, now=now)
    assert {m.name: (m.assigned, m.peak_open) for m in result.members} == {
        "Ana": (2, 1),
        "Ben": (1, 1),
        "Cleo": (0, 0),
    }
    assert result.unassigned == 1


def test_the_simulated_routing_gives_the_owner_their_accounts_first(app, now):
    pool = PoolFactory(key="rescue", strategy="least_loaded")
    ana, ben = (
        PoolMemberFactory(pool=pool, capacity=5, position=p, user=UserFactory(name=n)).user
        for p, n in enumerate(("Ana", "Ben"))
    )
    for _ in range(3):  # least loaded alone would share them out, Ana first
        history(AccountFactory(csm=ben), now, spans(now, (9, 0, 20.0)))
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[{"type": "route_to_pool", "pool": "rescue", "priority": "high", "sla_hours": 24}],
    )
    result = backtest_rule(rule, days=10, now=now)
    assert {m.name: m.assigned for m in result.members} == {"Ana": 0, "Ben": 3}


def test_a_missing_pool_is_reported_not_simulated(app, now, swinging):
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[{"type": "route_to_pool", "pool": "gone", "priority": "high", "sla_hours": 24}],
    )
    result = backtest_rule(rule, days=30, now=now)
    assert (result.pool_key, result.pool_found, result.members) == ("gone", False, [])


def event(account, event_id, at, kind="support_ticket", **properties):
    db.session.add(
        UsageEvent(
            event_id=event_id,
            account_id=account.id,
            event_type=kind,
            occurred_at=at,
            properties=properties,
            received_at=at,
        )
    )


def test_an_event_rule_replays_the_stored_events(app, now, swinging):
    compute_signals(now=now, account_ids=[swinging.id])
    at = datetime.combine(day(now, 15), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    event(swinging, "e-1", at, severity="high")
    event(swinging, "e-2", at + timedelta(days=10), severity="normal")
    event(swinging, "e-3", at + timedelta(days=11), severity="urgent")
    event(swinging, "e-4", at + timedelta(days=12), severity="urgent")
    event(swinging, "e-old", at - timedelta(days=60), severity="urgent")
    db.session.flush()
    rule = RuleFactory(
        mode="event",
        event_type="support_ticket",
        event_properties={"severity": ["high", "urgent"]},
        condition={"all": [{"signal": "health_band", "op": "=", "value": "critical"}]},
        once_policy="cooldown",
        cooldown_days=7,
    )
    result = backtest_rule(rule, days=30, now=now)
    # e-1 fell on a healthy day; e-3 fires; e-4 is within the cooldown
    assert result.firings_by_day == {day(now, 4): 1}
    assert (result.replayed, result.suppressed) == (3, 1)


def test_a_routed_event_firing_stays_open_for_its_items_sla(app, now, swinging):
    compute_signals(now=now, account_ids=[swinging.id])
    PoolMemberFactory(pool=PoolFactory(key="escalations"))
    at = datetime.combine(day(now, 8), datetime.min.time(), tzinfo=UTC)
    for index, hours in enumerate((0, 10, 30)):
        event(swinging, f"s-{index}", at + timedelta(hours=hours), severity="high")
    db.session.flush()
    rule = RuleFactory(
        mode="event",
        event_type="support_ticket",
        once_policy="while_open",
        condition={"all": [{"signal": "segment", "op": "not_null", "value": None}]},
        actions=[
            {"type": "route_to_pool", "pool": "escalations", "priority": "high", "sla_hours": 24}
        ],
    )
    result = backtest_rule(rule, days=30, now=now)
    # the second ticket came while the first was being worked; the third after its SLA
    assert (result.firings, result.suppressed) == (2, 1)


def test_a_first_event_only_rule_replays_only_first_events(app, now, swinging):
    compute_signals(now=now, account_ids=[swinging.id])
    at = datetime.combine(day(now, 3), datetime.min.time(), tzinfo=UTC)
    event(swinging, "f-0", at - timedelta(days=200), kind="feature_used", feature="api")
    event(swinging, "f-1", at, kind="feature_used", feature="reports")
    other = AccountFactory()
    compute_signals(now=now, account_ids=[other.id])
    event(other, "f-2", at, kind="feature_used", feature="reports")
    db.session.flush()
    rule = RuleFactory(
        mode="event",
        event_type="feature_used",
        first_event_only=True,
        condition={"all": [{"signal": "segment", "op": "not_null", "value": None}]},
        once_policy="once_ever",
    )
    result = backtest_rule(rule, days=30, now=now)
    assert [a.account_id for a in result.accounts] == [other.id]


def test_a_backtest_writes_nothing(app, now, swinging, count_queries):
    rule = RuleFactory(
        condition=CRITICAL,
        actions=[{"type": "route_to_pool", "pool": "rescue", "priority": "high", "sla_hours": 24}],
    )
    PoolMemberFactory(pool=PoolFactory(key="rescue"))
    db.session.flush()
    with count_queries() as counter:
        backtest_rule(rule, days=30, now=now)
    assert not [
        s
        for s in counter.statements
        if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert db.session.scalar(select(func.count()).select_from(RuleFiring)) == 0
    assert db.session.scalar(select(func.count()).select_from(QueueItem)) == 0


def test_the_window_is_between_one_day_and_a_year(app, now):
    rule = RuleFactory(condition=CRITICAL)
    for days in (0, 366):
        with pytest.raises(ValueError, match="between 1 and 365"):
            backtest_rule(rule, days=days, now=now)


# --- over the API ---------------------------------------------------------------------------


def backtest_url(rule_id: int) -> str:
    return f"/api/v1/rules/{rule_id}/backtest"


def test_the_api_answers_the_backtest(app, client, api_token):
    today = utcnow()
    account = AccountFactory(external_id="SWING")
    history(account, today, spans(today, (29, 20, 25.0), (19, 10, 80.0), (9, 0, 30.0)))
    pool = PoolFactory(key="rescue")
    PoolMemberFactory(pool=pool, user=UserFactory(email="ana@example.com", name="Ana"))
    rule = RuleFactory(
        condition=CRITICAL,
        once_policy="once_ever",
        actions=[{"type": "route_to_pool", "pool": "rescue", "priority": "high", "sla_hours": 24}],
    )
    headers = api_token(UserFactory(role="viewer"))
    response = client.post(backtest_url(rule.id), headers=headers, json={"days": 30})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    RuleBacktestOut.model_validate(body)
    assert (body["firings"], body["suppressed"], body["days"]) == (1, 1, 30)
    assert body["firings_by_day"] == [
        {"day": (today.date() - timedelta(days=29)).isoformat(), "firings": 1}
    ]
    assert body["accounts"][0]["external_id"] == "SWING"
    assert body["pool"]["members"] == [
        {
            "user_email": "ana@example.com",
            "name": "Ana",
            "capacity": 10,
            "away": False,
            "assigned": 1,
            "peak_open": 1,
        }
    ]
    default = client.post(backtest_url(rule.id), headers=headers, json={}).get_json()
    assert default["days"] == 90


def test_the_api_refuses_a_bad_window_an_unknown_rule_and_no_token(app, client, api_token):
    rule = RuleFactory(condition=CRITICAL)
    headers = api_token(UserFactory(role="viewer"))
    refused = client.post(backtest_url(rule.id), headers=headers, json={"days": 400})
    assert refused.status_code == 422
    assert "days" in refused.get_json()["error"]["fields"]
    missing = client.post(backtest_url(rule.id + 1000), headers=headers, json={})
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    assert client.post(backtest_url(rule.id), json={}).status_code == 401


# --- the page -------------------------------------------------------------------------------


def test_the_page_shows_the_replay_to_everyone_signed_in(app, client, login):
    today = utcnow()
    account = AccountFactory(name="Swinging Co")
    history(account, today, spans(today, (29, 20, 25.0), (19, 10, 80.0), (9, 0, 30.0)))
    compute_signals(now=today, account_ids=[account.id])
    db.session.get(AccountSignals, account.id).logins_7d = 1
    rule = RuleFactory(
        name="Critical and quiet",
        condition={
            "all": [
                {"signal": "health_band", "op": "=", "value": "critical"},
                {"signal": "logins_7d", "op": "<=", "value": 3},
            ]
        },
    )
    login(UserFactory(role="viewer"))
    page = client.get(f"/rules/{rule.id}/backtest")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Backtest: Critical and quiet" in html
    assert 'id="stat-firings">2<' in html and 'id="stat-suppressed">0<' in html
    assert "No history for:</strong> Logins (7 days)" in html
    assert 'id="rule-backtest-chart"' in html and "Swinging Co" in html
    assert 'value="90"' in html


def test_the_page_refuses_a_bad_number_of_days_beside_the_field(app, client, login):
    rule = RuleFactory(condition=CRITICAL)
    login(UserFactory(role="viewer"))
    html = client.get(f"/rules/{rule.id}/backtest?days=400").get_data(as_text=True)
    assert "Enter a number of days from 1 to 365." in html
    assert 'value="400"' in html
    assert 'id="rule-backtest"' not in html
    html = client.get(f"/rules/{rule.id}/backtest?days=many").get_data(as_text=True)
    assert "Enter a number of days from 1 to 365." in html


def test_the_page_says_what_to_do_without_history(app, client, login):
    rule = RuleFactory(condition=CRITICAL)
    login(UserFactory(role="viewer"))
    html = client.get(f"/rules/{rule.id}/backtest?days=30").get_data(as_text=True)
    assert 'id="no-history"' in html and "recompute-health" in html


def test_the_page_of_an_unknown_rule_is_not_found(app, client, login):
    login(UserFactory(role="viewer"))
    assert client.get("/rules/999999/backtest").status_code == 404
