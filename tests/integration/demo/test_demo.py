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
from cs_app.accounts.usage_models import AccountSignals, MetricValue, UsageEvent
from cs_app.audit.models import AuditEvent
from cs_app.auth.models import User
from cs_app.auth.service import attempt_sign_in
from cs_app.demo import DEMO_PASSWORD, DEMO_USERS, LEAD_EMAIL, load_demo
from cs_app.extensions import db
from cs_app.health.backtest import backtest
from cs_app.health.models import HealthOverride, HealthSnapshot, Scorecard
from cs_app.health.service import account_health, active_override
from cs_app.jobs.models import PendingRecompute
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
from cs_app.triggers.pools.models import QueueItem
from cs_app.triggers.rules.builtin import BUILTIN_RULES
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.touchpoints.models import Touchpoint

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
        "accounts": rows(
            Account,
            lambda a: (
                a.external_id,
                a.name,
                a.domain,
                a.industry,
                a.employees,
                a.segment,
                a.engagement_model,
                a.arr_minor,
                a.currency,
                a.contract_start,
                a.renewal_date,
                emails.get(a.csm_id),
                a.lifecycle_stage,
                a.stage_entered_on,
                a.product_plan,
                a.seats_purchased,
                a.primary_use_case,
                a.trial_ends_on,
            ),
        ),
        "stages": rows(LifecycleStageEntry, lambda e: (ext[e.account_id], e.stage, e.entered_on)),
        "contacts": rows(
            Contact,
            lambda c: (
                ext[c.account_id],
                c.name,
                c.title,
                c.email,
                c.role,
                c.influence,
                c.engagement,
                c.last_contact_on,
                c.status,
            ),
        ),
        "plans": rows(
            Plan,
            lambda p: (
                plan_keys[p.id],
                p.plan_type,
                p.status,
                emails[p.owner_id],
                p.review_cadence,
                p.last_reviewed_on,
                p.next_review_on,
                p.template_key,
                p.version,
                p.created_at,
                p.updated_at,
            ),
        ),
        "outcomes": rows(
            Outcome,
            lambda o: (
                outcomes[o.id],
                o.metric,
                o.unit,
                o.baseline,
                o.target,
                o.current_value,
                o.target_date,
                o.status,
            ),
        ),
        "measurements": rows(
            OutcomeMeasurement, lambda m: (outcomes[m.outcome_id], m.measured_on, m.value)
        ),
        "milestones": rows(
            Milestone,
            lambda m: (
                plan_keys[m.plan_id],
                m.phase,
                m.title,
                m.target_date,
                m.status,
                m.completed_on,
                owner(m),
            ),
        ),
        "risks": rows(
            Risk,
            lambda r: (
                plan_keys[r.plan_id],
                r.title,
                r.category,
                r.likelihood,
                r.impact,
                r.status,
                owner(r),
            ),
        ),
        "actions": rows(
            ActionItem,
            lambda a: (
                plan_keys[a.plan_id],
                a.title,
                a.due_date,
                a.status,
                a.completed_on,
                owner(a),
            ),
        ),
        "stakeholders": rows(
            Stakeholder,
            lambda s: (
                plan_keys[s.plan_id],
                s.role,
                contacts.get(s.contact_id),
                emails.get(s.user_id),
            ),
        ),
        "reviews": rows(Review, lambda r: (plan_keys[r.plan_id], r.held_on, r.attendees, r.notes)),
        "history": rows(
            PlanChange,
            lambda c: (
                plan_keys[c.plan_id],
                c.changed_at,
                c.component,
                c.action,
                c.field,
                c.old_value,
                c.new_value,
                emails.get(c.user_id),
            ),
        ),
        "events": rows(
            UsageEvent,
            lambda e: (
                e.event_id,
                ext[e.account_id],
                e.event_type,
                e.occurred_at,
                e.user_ref,
                e.properties,
                e.received_at,
            ),
        ),
        "metrics": rows(
            MetricValue, lambda m: (ext[m.account_id], m.metric_key, m.measured_on, m.value)
        ),
        "health": rows(
            HealthSnapshot,
            lambda h: (
                ext[h.account_id],
                h.day,
                h.scorecard_version_id,
                h.score,
                h.band,
                h.coverage,
                h.computed_score,
                h.computed_band,
                h.overridden,
                h.measures,
                h.computed_at,
            ),
        ),
        "overrides": rows(
            HealthOverride,
            lambda o: (
                ext[o.account_id],
                o.band,
                o.score,
                o.reason,
                o.expires_at,
                o.created_at,
                emails.get(o.created_by_id),
                o.cleared_at,
            ),
        ),
        "signals": rows(
            AccountSignals,
            lambda s: (
                ext[s.account_id],
                s.computed_at,
                s.days_since_last_login,
                s.logins_30d,
                s.features_used_30d,
                s.health_score,
                s.health_band,
                s.health_change_30d,
            ),
        ),
        "audit": rows(
            AuditEvent,
            lambda e: (
                e.at,
                emails.get(e.user_id),
                e.entity_type,
                e.entity_id,
                e.action,
                e.before,
                e.after,
            ),
        ),
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
            yield {
                "first": first,
                "first_created": first_created,
                "second": snapshot(),
                "created": created,
                "messages": messages,
            }
        finally:
            db.session.remove()
            transaction.rollback()
            connection.close()
            engines[None] = engine


def test_two_loads_from_scratch_write_exactly_the_same_rows(demo):
    assert demo["first"] == demo["second"]
    assert demo["first_created"] == demo["created"]
    assert demo["created"]["accounts"] >= 42 and demo["created"]["plans"] > 0
    assert any("accounts 46/46" in line for line in demo["messages"])


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
    assert (techcorp.name, techcorp.industry, techcorp.employees) == (
        "TechCorp Inc.",
        "B2B SaaS",
        500,
    )
    assert (techcorp.arr_minor, techcorp.currency) == (8_500_000, "USD")
    assert (techcorp.segment, techcorp.engagement_model) == ("Enterprise", "high-touch")
    sponsor = next(c for c in techcorp.contacts if c.role == "executive_sponsor")
    assert sponsor.title == "VP of Customer Experience"

    plan = only_plan(techcorp)
    assert (plan.template_key, plan.status, plan.plan_type) == (
        "enterprise-high-touch",
        "active",
        "high-touch",
    )
    outcomes = {o.title: o for o in plan.outcomes}
    start = techcorp.contract_start
    for title, baseline, target, months in (
        ("Average resolution time", 18, 8, 6),
        ("Tool consolidation", 3, 1, 3),
        ("Agent satisfaction (internal)", 62, 80, 6),
        ("Customer effort score", 4.2, 3.0, 9),
    ):
        outcome = outcomes[title]
        assert (outcome.baseline, outcome.target) == (baseline, target)
        assert outcome.target_date == start + timedelta(days=30 * months)
    resolution = outcomes["Average resolution time"]
    assert [m.value for m in resolution.measurements] == [18.0, 17.0, 15.5, 13.2]
    assert resolution.current_value == 13.2

    milestones = [m.title for m in plan.milestones]
    for month_title in (
        "Data migration from legacy systems complete",
        "Support team trained, soft launch with 25% ticket volume",
        "Full cutover, legacy systems deprecated",
        "Automation workflows deployed for the top 5 ticket categories",
        "Resolution time target achieved, expansion discussion initiated",
    ):
        assert month_title in milestones
    assert len(plan.reviews) == 3
    assert plan.next_review_on > now.date()
    flags = {f.key for f in plan_insights(plan, today=now.date(), dark_after_days=30).flags}
    assert {"overdue_actions", "overdue_milestones", "severe_risks", "gone_dark"} <= flags


def test_growthstack_is_the_seed_guides_hybrid_example(demo):
    now = NOW
    growthstack = account("CRM-10002")
    assert (growthstack.name, growthstack.industry, growthstack.employees) == (
        "GrowthStack Marketing",
        "Marketing Services",
        45,
    )
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
    flags = Counter(
        flag.key for p in plans for flag in plan_insights(p, today=today, dark_after_days=30).flags
    )
    for key in (
        "review_overdue",
        "overdue_actions",
        "overdue_milestones",
        "severe_risks",
        "single_threaded",
        "gone_dark",
        "departed",
    ):
        assert flags[key] > 0, key


def test_demo_users_sign_in_with_the_demo_password(demo):
    now = NOW
    roles = Counter(role for _, role, _ in DEMO_USERS)
    assert roles["admin"] == 1 and roles["lead"] == 1 and roles["viewer"] == 1
    assert 3 <= roles["csm"] <= 4
    assert len(DEMO_PASSWORD) >= 8
    for email, role, name in DEMO_USERS:
        user = attempt_sign_in(email, DEMO_PASSWORD, client="127.0.0.1", now=now).user
        assert (user.role, user.name) == (role, name)
    wrong = attempt_sign_in(DEMO_USERS[0][0], "wrong-password", client="127.0.0.1", now=now)
    assert wrong.user is None


def test_demo_email_addresses_pass_the_forms_email_check(demo):
    """The user and contact forms validate addresses with email-validator, which refuses
    reserved names such as ``.test``; editing a demo user must not fail on its own email."""
    emails = [email for email, _, _ in DEMO_USERS]
    emails += [c.email for c in db.session.scalars(select(Contact))]
    for email in emails:
        validate_email(email, check_deliverability=False)


# --- usage data and health history ------------------------------------------------------------


def todays_snapshots() -> dict[str, HealthSnapshot]:
    rows = db.session.execute(
        select(Account.external_id, HealthSnapshot)
        .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
        .where(HealthSnapshot.day == NOW.date())
    ).all()
    return dict(rows)


def snapshot_on_or_before(acct: Account, day) -> HealthSnapshot | None:
    return db.session.scalar(
        select(HealthSnapshot)
        .where(HealthSnapshot.account_id == acct.id, HealthSnapshot.day <= day)
        .order_by(HealthSnapshot.day.desc())
        .limit(1)
    )


def test_every_account_is_scored_today_with_90_days_of_history(demo):
    accounts = list(db.session.scalars(select(Account)))
    today = todays_snapshots()
    assert set(today) == {a.external_id for a in accounts}
    bands = Counter(s.band for s in today.values())
    assert bands["healthy"] >= 10 and bands["at_risk"] >= 3 and bands["critical"] >= 3, bands
    first_day = db.session.scalar(select(func.min(HealthSnapshot.day)))
    assert (NOW.date() - first_day).days >= 60
    days = set(db.session.scalars(select(HealthSnapshot.day).distinct()))
    for back in range(0, 36):  # daily for the last 35 days: what-changed finds 7 and 30 days
        assert NOW.date() - timedelta(days=back) in days, back
    techcorp = account("CRM-10001")
    history = list(
        db.session.scalars(
            select(HealthSnapshot.day).where(HealthSnapshot.account_id == techcorp.id)
        )
    )
    assert len(history) >= 50
    # the replay never scored an account before it was signed
    assert min(history) >= techcorp.contract_start


def test_some_accounts_slid_and_changed_band_in_the_last_30_days(demo):
    month_ago = NOW.date() - timedelta(days=30)
    moved = Counter()
    dropped = []
    for acct in db.session.scalars(select(Account)):
        now_snapshot = snapshot_on_or_before(acct, NOW.date())
        before = snapshot_on_or_before(acct, month_ago)
        if before is None:
            continue
        if before.band != now_snapshot.band:
            moved[(before.band, now_snapshot.band)] += 1
        if account_health(acct, now=NOW).dropped:
            dropped.append(acct.external_id)
    assert moved[("healthy", "at_risk")] >= 2 and moved[("healthy", "critical")] >= 1, moved
    assert sum(moved.values()) >= 6
    assert len(dropped) >= 3 and "CRM-10001" in dropped

    # TechCorp's cutover trouble explains itself: support sentiment turned, measure by measure
    health = account_health(account("CRM-10001"), now=NOW)
    assert health.snapshot.band == "at_risk" and health.score_change_30d <= -15
    sentiment = next(m for m in health.measures if m.key == "support_sentiment")
    assert (sentiment.value, sentiment.change_30d) == ("negative", -100.0)
    assert all(m.change_7d is not None for m in health.measures)
    signals = db.session.get(AccountSignals, account("CRM-10001").id)
    assert signals.health_change_30d == pytest.approx(health.score_change_30d)


def test_the_usage_data_tells_each_accounts_story(demo):
    events = db.session.scalar(select(func.count(UsageEvent.id)))
    assert 1_000 <= events <= 10_000
    kinds = Counter(db.session.scalars(select(UsageEvent.event_type)))
    for kind in (
        "login",
        "feature_used",
        "support_ticket",
        "nps_response",
        "seat_added",
        "feature_gate_hit",
        "upgrade_viewed",
    ):
        assert kinds[kind] > 0, kind
    assert (
        db.session.scalar(
            select(func.count()).where(
                ~UsageEvent.event_id.like("demo-CRM-%")
                & ~UsageEvent.event_id.like("demo-journey-%")
            )
        )
        == 0
    )
    assert db.session.scalar(select(func.max(UsageEvent.occurred_at))) <= NOW

    signals = {
        a.external_id: (a, db.session.get(AccountSignals, a.id))
        for a in db.session.scalars(select(Account))
    }
    gone_dark = [
        e
        for e, (a, s) in signals.items()
        if a.lifecycle_stage != "churned" and (s.days_since_last_login or 0) >= 30
    ]
    assert gone_dark
    assert any(s.nps_category == "detractor" for _, s in signals.values())
    assert any(s.support_sentiment == "negative" for _, s in signals.values())
    assert any(s.seats_added_30d and s.feature_gate_hits_7d for _, s in signals.values())
    assert any(s.upgrade_intent_open for _, s in signals.values())
    quotas = sorted(s.quota_used_pct for _, s in signals.values() if s.quota_used_pct)
    assert len(quotas) == 2 and 75 <= quotas[0] <= 85 and quotas[1] >= 99
    trials = sorted(s.trial_days_left for a, s in signals.values() if a.trial_ends_on)
    assert trials == [0, 1, 3]  # the three trial-ending rules each have their account
    assert all(a.segment == "SMB" for a, _ in signals.values() if a.trial_ends_on)
    assert all(
        s.seats_used is not None
        for a, s in signals.values()
        if a.lifecycle_stage not in ("churned", "onboarding")
    )

    mid_market = {a.id for a, _ in signals.values() if a.segment == "Mid-Market"}
    fresh = set(
        db.session.scalars(
            select(MetricValue.account_id)
            .distinct()
            .where(MetricValue.metric_key == "pipeline_freshness_days")
        )
    )
    assert fresh and fresh <= mid_market and len(fresh) >= len(mid_market) - 1
    # the Mid-Market scorecard's pipeline measure has data today for live accounts
    growthstack = todays_snapshots()["CRM-10002"]
    pipeline = next(m for m in growthstack.measures if m["key"] == "pipeline_freshness")
    assert pipeline["score"] is not None and not pipeline["stale"]


def test_past_snapshots_only_saw_what_had_happened_by_then(demo):
    """The history is replayed day by day, so no snapshot reads a later login or contact
    (which would show as a negative 'days since')."""
    for (measures,) in db.session.execute(select(HealthSnapshot.measures)):
        for measure in measures:
            value = measure["value"]
            if measure["signal"].startswith("days_since") and value is not None:
                assert value >= 0, measure
    assert db.session.scalar(select(func.count()).select_from(PendingRecompute)) == 0


def test_churned_and_expanded_accounts_have_history_before_the_outcome(demo):
    today = NOW.date()
    outcomes = {stage: [] for stage in ("churned", "expansion")}
    for entry in db.session.scalars(
        select(LifecycleStageEntry).where(LifecycleStageEntry.stage.in_(list(outcomes)))
    ):
        outcomes[entry.stage].append(entry)
    assert len(outcomes["churned"]) >= 2 and len(outcomes["expansion"]) >= 2
    for stage, worry in (("churned", {"at_risk", "critical"}), ("expansion", {"healthy"})):
        for entry in outcomes[stage]:
            assert 10 <= (today - entry.entered_on).days <= 60, entry.entered_on
            before = db.session.scalar(
                select(HealthSnapshot)
                .where(
                    HealthSnapshot.account_id == entry.account_id,
                    HealthSnapshot.day <= entry.entered_on - timedelta(days=30),
                )
                .order_by(HealthSnapshot.day.desc())
                .limit(1)
            )
            assert before is not None and before.band in worry, (stage, before and before.band)
    card = db.session.scalar(select(Scorecard).where(Scorecard.key == "health-indicators"))
    result = backtest(card.current_version, now=NOW)
    assert result.groups["churned"].accounts >= 2 and result.churn_caught == 1.0
    assert result.groups["expanded"].accounts >= 2 and result.expansion_healthy == 1.0
    assert result.false_alarms is not None and result.false_alarms < 0.5


def test_the_lead_has_one_active_override_with_a_reason(demo):
    overrides = list(db.session.scalars(select(HealthOverride)))
    assert len(overrides) == 1
    override = overrides[0]
    acct = db.session.get(Account, override.account_id)
    assert override.created_by.email == LEAD_EMAIL and len(override.reason) > 20
    assert override.created_at < NOW < override.expires_at
    assert active_override(acct, NOW) == override
    today = todays_snapshots()[acct.external_id]
    assert today.overridden and today.band == override.band != today.computed_band
    assert (
        db.session.scalar(
            select(func.count()).where(
                AuditEvent.entity_id == acct.external_id, AuditEvent.action == "override_set"
            )
        )
        == 1
    )


def test_loading_again_replays_no_history_and_adds_no_override(demo):
    counts = {
        model: db.session.scalar(select(func.count()).select_from(model))
        for model in (
            UsageEvent,
            MetricValue,
            HealthSnapshot,
            HealthOverride,
            LifecycleStageEntry,
            AuditEvent,
        )
    }
    again = db.session.begin_nested()
    assert load_demo(NOW + timedelta(hours=2), echo=quiet) == {}
    for model, count in counts.items():
        assert db.session.scalar(select(func.count()).select_from(model)) == count, model
    again.rollback()


def test_every_shipped_rule_has_fired_on_a_demo_account(demo):
    """Each default rule — journey triggers, human touchpoints, upgrade triggers — fired on an
    account built for it, and the demo's pools hold the routed accounts."""
    fired = dict(
        db.session.execute(
            select(Rule.key, func.count(RuleFiring.id))
            .join(RuleFiring, RuleFiring.rule_id == Rule.id)
            .where(Rule.key.is_not(None))
            .group_by(Rule.key)
        ).all()
    )
    assert set(fired) == {rule["key"] for rule in BUILTIN_RULES}
    first_feature = db.session.scalar(
        select(Account.external_id)
        .join(RuleFiring, RuleFiring.account_id == Account.id)
        .join(Rule, Rule.id == RuleFiring.rule_id)
        .where(Rule.key == "journey-first-feature")
    )
    assert first_feature == "CRM-20001"
    assert db.session.scalar(select(func.count(QueueItem.id))) > 0
    assert db.session.scalar(select(func.count(Touchpoint.id))) > 0
