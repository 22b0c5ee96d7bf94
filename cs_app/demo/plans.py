"""The demo's success plans, built through the plan service with back-dated ``now`` values so
their history reads like a real year of CS work: created from a template at the contract
start, milestones done or slipping, measurements taken, risks raised, reviews logged.

The seed guide's two worked examples (TechCorp Inc., enterprise high-touch; GrowthStack
Marketing, mid-market hybrid) are played out step by step as the guide tells them. Every
generated account's plan is walked forward from its template as ``AccountSpec.health`` says
it went, with draws from a ``random.Random`` seeded on the account, so one account's plan
never shifts another's.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from cs_app.accounts.models import Account, Contact
from cs_app.auth.models import User
from cs_app.demo.context import DemoContext
from cs_app.demo.people import LEAD_EMAIL
from cs_app.demo.specs import GROWTHSTACK, TECHCORP, AccountSpec, add_years
from cs_app.plans import service
from cs_app.plans.models import Outcome, Plan
from cs_app.plans.progress import next_review_date

TEMPLATE_FOR_MODEL = {
    "high-touch": "enterprise-high-touch",
    "low-touch": "scaled-low-touch",
    "hybrid": "hybrid-mid-market",
    "joint": "joint",
}
CADENCE_DAYS = {"weekly": 7, "monthly": 30, "quarterly": 91}
# what the generated plans' fresh actions and reviews say; {champion} is that contact's name
PLACEHOLDER_ROLES = {
    "champion": "champion",
    "sponsor": "executive_sponsor",
    "admin": "technical_admin",
    "billing": "billing",
}
NEW_ACTIONS = (
    "Send the monthly adoption report to {champion}",
    "Schedule the next business review with {sponsor}",
    "Run admin training for the new hires with {admin}",
    "Review seat utilisation with {billing}",
    "Draft the renewal proposal",
    "Walk {sponsor} through the ROI summary",
    "Fix the CRM sync errors reported by {admin}",
    "Agree the expansion pilot scope with {champion}",
    "Collect NPS comments and share themes with {champion}",
    "Set up SSO for the second business unit with {admin}",
)
REVIEW_NOTES = (
    "Adoption trending up; agreed next steps on training.",
    "Walked through outcome progress; two milestones slipped a week.",
    "Champion raised integration questions; follow-up booked with the admin.",
    "Usage flat this month; agreed a re-engagement push with team leads.",
    "Executive sponsor joined; priorities confirmed for next quarter.",
    "Renewal timeline discussed; no blockers raised.",
)


def build_plans(ctx: DemoContext, account: Account, spec: AccountSpec) -> None:
    """The account's plans: a worked example as the seed guide tells it, or a generated one."""
    if spec.external_id == TECHCORP:
        _techcorp_plan(ctx, account, spec)
    elif spec.external_id == GROWTHSTACK:
        _growthstack_plan(ctx, account, spec)
    else:
        _generated_plans(ctx, account, spec, random.Random(f"cs-app-demo:{spec.external_id}"))


# --- the seed guide's worked examples -----------------------------------------------------


def _contact(account: Account, role: str) -> Contact:
    return next(c for c in account.contacts if c.role == role)


def _measure(
    ctx: DemoContext, plan: Plan, outcome: Outcome, user: User, series: list[tuple[date, float]]
) -> None:
    for day, value in series:
        service.add_measurement(plan, outcome, day, value, user=user, now=ctx.at(day))


def _set(
    ctx: DemoContext, plan: Plan, component: str, item: Any, values: dict, user: User, day: date
) -> None:
    service.update_item(
        plan, component, item, values, expected_version=None, user=user, now=ctx.at(day)
    )


def _review(
    ctx: DemoContext, plan: Plan, user: User, day: date, attendees: str, notes: str
) -> None:
    service.add_item(
        plan,
        "reviews",
        {"held_on": day, "attendees": attendees, "notes": notes},
        user=user,
        now=ctx.at(day),
    )


def _techcorp_plan(ctx: DemoContext, account: Account, spec: AccountSpec) -> None:
    maya = ctx.users["maya@demo.cs-app.example"]
    start = spec.contract_start
    day = lambda offset: start + timedelta(days=offset)  # noqa: E731
    sarah, marcus = _contact(account, "executive_sponsor"), _contact(account, "champion")
    jordan, emily = _contact(account, "technical_admin"), _contact(account, "end_user")
    plan = service.create_plan(
        account,
        {
            "title": "TechCorp Inc. — support platform consolidation",
            "status": "active",
            "summary": "Consolidate three legacy support tools into one platform and bring average "
            "resolution time from 18 to 8 hours within six months. Phased rollout: "
            "migration, soft launch with 25 % of tickets, full cutover, automation.",
        },
        user=maya,
        now=ctx.at(day(2)),
        template=service.get_template("enterprise-high-touch"),
    )
    outcomes = {o.title: o for o in plan.outcomes}
    resolution = outcomes["Reduce average ticket resolution time"]
    _set(
        ctx,
        plan,
        "outcomes",
        resolution,
        {"title": "Average resolution time", "metric": "Average resolution time (hours)"},
        maya,
        day(2),
    )
    new = {}
    for title, metric, unit, baseline, target, months in (
        ("Tool consolidation", "Support systems in use", "systems", 3, 1, 3),
        ("Agent satisfaction (internal)", "Agent satisfaction survey", "%", 62, 80, 6),
        ("Customer effort score", "Customer effort score (survey average)", "score", 4.2, 3.0, 9),
    ):
        new[title] = service.add_item(
            plan,
            "outcomes",
            {
                "title": title,
                "metric": metric,
                "unit": unit,
                "baseline": float(baseline),
                "target": float(target),
                "target_date": day(30 * months),
                "status": "on_track",
            },
            user=maya,
            now=ctx.at(day(2)),
        )
    _measure(ctx, plan, resolution, maya, [(day(31), 17.0), (day(62), 15.5), (day(93), 13.2)])
    _measure(ctx, plan, new["Tool consolidation"], maya, [(day(2), 3), (day(62), 2), (day(93), 2)])
    _measure(
        ctx,
        plan,
        new["Agent satisfaction (internal)"],
        maya,
        [(day(2), 62), (day(62), 66), (day(93), 71)],
    )
    _measure(
        ctx,
        plan,
        new["Customer effort score"],
        maya,
        [(day(2), 4.2), (day(62), 4.0), (day(93), 3.8)],
    )
    _measure(
        ctx,
        plan,
        outcomes["Increase user adoption"],
        maya,
        [(day(31), 46), (day(62), 55), (day(93), 63)],
    )
    _measure(
        ctx,
        plan,
        outcomes["Cut support ticket volume through self-service deflection"],
        maya,
        [(day(31), 980), (day(62), 930), (day(93), 860)],
    )
    _set(ctx, plan, "outcomes", new["Tool consolidation"], {"status": "at_risk"}, maya, day(93))

    for title, phase, offset, criteria, owner, status, done_on in (
        (
            "Data migration from legacy systems complete",
            "implementation",
            30,
            "All open and 12 months of closed tickets migrated; spot check of 200 tickets passes.",
            jordan,
            "done",
            33,
        ),
        (
            "Support team trained, soft launch with 25% ticket volume",
            "adoption",
            60,
            "All 180 agents trained; 25 % of incoming tickets routed to the new platform.",
            marcus,
            "done",
            58,
        ),
        (
            "Full cutover, legacy systems deprecated",
            "adoption",
            90,
            "100 % of tickets on the new platform; legacy ticketing and chat switched off.",
            jordan,
            "in_progress",
            None,
        ),
        (
            "Automation workflows deployed for the top 5 ticket categories",
            "value",
            120,
            "Routing and macros live for the five largest ticket categories.",
            emily,
            "planned",
            None,
        ),
        (
            "Resolution time target achieved, expansion discussion initiated",
            "expansion",
            180,
            "Average resolution time at or under 8 hours; expansion call held with the sponsor.",
            sarah,
            "planned",
            None,
        ),
    ):
        milestone = service.add_item(
            plan,
            "milestones",
            {
                "phase": phase,
                "title": title,
                "target_date": day(offset),
                "success_criteria": criteria,
                "status": "planned",
                "owner": f"contact:{owner.id}",
            },
            user=maya,
            now=ctx.at(day(3)),
        )
        if status != "planned":
            values = {"status": status}
            if done_on:
                values["completed_on"] = day(done_on)
            _set(ctx, plan, "milestones", milestone, values, maya, day(done_on or 70))
    for milestone in plan.milestones:
        if milestone.status == "planned" and milestone.title in (
            "Technical setup complete",
            "Admin training delivered",
            "First workflow deployed",
        ):
            _set(
                ctx,
                plan,
                "milestones",
                milestone,
                {"status": "done", "completed_on": milestone.target_date},
                maya,
                milestone.target_date,
            )
        elif milestone.title == "50% user activation":
            _set(ctx, plan, "milestones", milestone, {"status": "in_progress"}, maya, day(80))
    cutover = next(m for m in plan.milestones if m.title.startswith("Full cutover"))
    automation = next(m for m in plan.milestones if m.title.startswith("Automation workflows"))

    for action in list(plan.actions):
        _set(
            ctx,
            plan,
            "actions",
            action,
            {"status": "done", "completed_on": action.due_date},
            maya,
            action.due_date,
        )
    for title, owner, due_offset, status, milestone in (
        ("Finish migrating the last 2,000 archived chat transcripts", jordan, -5, "open", cutover),
        ("Schedule the legacy chat tool shutdown with IT", marcus, 7, "open", cutover),
        ("Prepare the month-3 executive business review deck", None, 10, "open", None),
        (
            "Confirm the top 5 ticket categories with the support leads",
            emily,
            20,
            "open",
            automation,
        ),
        ("Provision SSO for the contractor support team", jordan, 3, "blocked", None),
    ):
        service.add_item(
            plan,
            "actions",
            {
                "title": title,
                "due_date": ctx.today + timedelta(days=due_offset),
                "status": status,
                "owner": f"contact:{owner.id}" if owner else f"user:{maya.id}",
                "milestone_id": milestone.id if milestone else None,
            },
            user=maya,
            now=ctx.at(ctx.today - timedelta(days=12)),
        )

    risks = {r.title: r for r in plan.risks}
    _set(
        ctx,
        plan,
        "risks",
        risks["Single-threaded champion"],
        {"status": "mitigating", "owner": f"contact:{emily.id}"},
        maya,
        day(40),
    )
    _set(
        ctx,
        plan,
        "risks",
        risks["Integration complexity"],
        {
            "likelihood": "high",
            "owner": f"contact:{jordan.id}",
            "mitigation": "Daily cutover stand-up with the support systems admin; migration "
            "scripts re-run nightly.",
        },
        maya,
        day(85),
    )
    service.add_item(
        plan,
        "risks",
        {
            "title": "Cutover slips past the end of the legacy ticketing contract",
            "category": "integration_complexity",
            "likelihood": "high",
            "impact": "high",
            "mitigation": "Agree a one-month extension of the legacy licence as a fallback; "
            "escalate blockers to the VP of Customer Experience weekly.",
            "status": "open",
            "owner": f"contact:{sarah.id}",
        },
        user=maya,
        now=ctx.at(day(92)),
    )

    attendees = "Sarah Chen, Marcus Rivera, Jordan Kim, Maya Okafor"
    _review(
        ctx,
        plan,
        maya,
        day(31),
        attendees,
        "Migration complete a few days late; training plan agreed for month 2.",
    )
    _review(
        ctx,
        plan,
        maya,
        day(61),
        attendees,
        "Soft launch live with 25 % of tickets; resolution time down to 15.5 h.",
    )
    _review(
        ctx,
        plan,
        maya,
        day(92),
        attendees + ", Emily Watts",
        "Cutover delayed by archived chat transcripts; new risk logged. Resolution time "
        "13.2 h, on track for the 8 h target.",
    )
    ctx.count("plans")


def _growthstack_plan(ctx: DemoContext, account: Account, spec: AccountSpec) -> None:
    sofia = ctx.users["sofia@demo.cs-app.example"]
    start = spec.contract_start
    day = lambda offset: start + timedelta(days=offset)  # noqa: E731
    rachel, owen = _contact(account, "champion"), _contact(account, "executive_sponsor")
    plan = service.create_plan(
        account,
        {
            "title": "GrowthStack Marketing — hybrid success plan",
            "status": "active",
            "summary": "Automated onboarding plus CSM touchpoints at the 30-day check-in, the "
            "month-6 QBR and the month-9 renewal conversation. Primary goal: one "
            "source of truth for client health across all service teams.",
        },
        user=sofia,
        now=ctx.at(day(1)),
        template=service.get_template("hybrid-mid-market"),
    )
    forecast = plan.outcomes[0]
    _measure(
        ctx, plan, forecast, sofia, [(day(1), 65), (day(60), 69), (day(91), 74), (day(121), 77)]
    )
    teams = service.add_item(
        plan,
        "outcomes",
        {
            "title": "Single source of truth for client health",
            "metric": "Service teams updating client health weekly",
            "unit": "teams",
            "baseline": 0.0,
            "target": 3.0,
            "target_date": day(180),
            "status": "on_track",
        },
        user=sofia,
        now=ctx.at(day(1)),
    )
    _measure(ctx, plan, teams, sofia, [(day(30), 1), (day(91), 2), (day(121), 2)])

    for milestone in plan.milestones:
        if milestone.target_date <= day(30):
            _set(
                ctx,
                plan,
                "milestones",
                milestone,
                {
                    "status": "done",
                    "completed_on": milestone.target_date,
                    "owner": f"contact:{rachel.id}"
                    if milestone.phase == "onboarding"
                    else f"user:{sofia.id}",
                },
                sofia,
                milestone.target_date,
            )
        elif milestone.phase == "adoption":
            _set(
                ctx,
                plan,
                "milestones",
                milestone,
                {"status": "in_progress", "owner": f"contact:{rachel.id}"},
                sofia,
                day(60),
            )
    for action in list(plan.actions):
        _set(
            ctx,
            plan,
            "actions",
            action,
            {"status": "done", "completed_on": action.due_date},
            sofia,
            action.due_date,
        )
    for title, owner, due_offset in (
        ("Invite the three service-team leads to the month-6 QBR", rachel, 14),
        ("Build the pipeline-freshness report for the QBR", None, 21),
        ("Walk Owen Price through the renewal forecast dashboard", owen, -9),
    ):
        service.add_item(
            plan,
            "actions",
            {
                "title": title,
                "due_date": ctx.today + timedelta(days=due_offset),
                "status": "open",
                "owner": f"contact:{owner.id}" if owner else f"user:{sofia.id}",
            },
            user=sofia,
            now=ctx.at(ctx.today - timedelta(days=20)),
        )
    single = next(r for r in plan.risks if r.category == "single_threaded_champion")
    _set(
        ctx,
        plan,
        "risks",
        single,
        {
            "likelihood": "high",
            "mitigation": (
                "Only Rachel Nguyen is engaged; meet the account director and the managing partner "
                "before the QBR."
            ),
        },
        sofia,
        day(121),
    )
    _review(
        ctx,
        plan,
        sofia,
        day(30),
        "Rachel Nguyen, Sofia Lindqvist",
        "30-day check-in: setup complete; two of three teams live.",
    )
    _review(
        ctx,
        plan,
        sofia,
        day(121),
        "Rachel Nguyen, Lila Moreno, Sofia Lindqvist",
        "Forecast accuracy at 77 %; third team still on spreadsheets. Managing partner "
        "not reached since the kickoff.",
    )
    ctx.count("plans")


# --- plans for the generated accounts ----------------------------------------------------------


def _generated_plans(
    ctx: DemoContext, account: Account, spec: AccountSpec, rng: random.Random
) -> None:
    owner = ctx.users[spec.csm_email or LEAD_EMAIL]
    stage = spec.stage
    if spec.csm_email is None and stage in ("onboarding", "activation", "churned"):
        return  # pooled accounts early in their life (or gone) run on automation alone
    template = service.get_template(TEMPLATE_FOR_MODEL[spec.engagement_model])
    start = spec.contract_start
    if stage == "onboarding":
        created = ctx.today - timedelta(days=rng.randint(0, min(5, (ctx.today - start).days)))
        service.create_plan(
            account,
            {"status": "draft", "owner_id": owner.id},
            user=owner,
            now=ctx.at(created),
            template=template,
        )
        ctx.count("plans")
        return
    created = start + timedelta(days=rng.randint(0, 3))
    end = None
    final_status = "active"
    if stage == "expansion":
        end = min(start + timedelta(days=rng.randint(300, 340)), ctx.today - timedelta(days=20))
        final_status = "completed"
    elif stage == "churned":
        end, final_status = spec.renewal_date, "archived"
    elif start < add_years(ctx.today, -1):  # a multi-year customer: last year's plan is done
        end, final_status = add_years(start, 1) - timedelta(days=20), "completed"
    plan = service.create_plan(
        account,
        {"status": "active", "owner_id": owner.id},
        user=owner,
        now=ctx.at(created),
        template=template,
    )
    _play_plan(ctx, plan, spec, owner, rng, created, end or ctx.today)
    if final_status != "active":
        service.update_plan(
            plan, {"status": final_status}, expected_version=None, user=owner, now=ctx.at(end)
        )
    ctx.count("plans")
    if final_status == "completed":
        _follow_up_plan(ctx, account, spec, owner, rng, end + timedelta(days=rng.randint(1, 10)))


def _active_contacts(account: Account, spec: AccountSpec) -> list[Contact]:
    """Contacts still at the customer (departures are applied after the plans are built)."""
    return [c for c in account.contacts if c.name not in spec.departed_names]


def _people(account: Account, spec: AccountSpec) -> dict[str, Contact]:
    return {c.role: c for c in _active_contacts(account, spec)}


def _owner_ref(account: Account, spec: AccountSpec, owner: User, rng: random.Random) -> str:
    contacts = _active_contacts(account, spec)
    if contacts and rng.random() < 0.5:
        return f"contact:{rng.choice(contacts).id}"
    return f"user:{owner.id}"


def _play_plan(
    ctx: DemoContext,
    plan: Plan,
    spec: AccountSpec,
    owner: User,
    rng: random.Random,
    created: date,
    until: date,
) -> None:
    """Walk a template plan forward from ``created`` to ``until`` as ``spec.health`` says it
    went: milestones and actions done or slipping, measurements, risks and reviews."""
    account = plan.account
    health = spec.health
    done_share = {"good": 0.95, "watch": 0.7, "poor": 0.4}[health]
    events: list[tuple[date, Callable[[], None]]] = []

    def later(day: date, action: Callable[[], None]) -> None:
        events.append((min(day, ctx.today), action))

    past_milestones = [m for m in plan.milestones if m.target_date and m.target_date < until]
    for index, milestone in enumerate(past_milestones):
        owner_ref = _owner_ref(account, spec, owner, rng)
        last = index == len(past_milestones) - 1
        if rng.random() < done_share and not (health != "good" and last):
            finished = min(
                max(milestone.target_date + timedelta(days=rng.randint(-5, 6)), created), until
            )
            later(
                finished,
                _setter(
                    ctx,
                    plan,
                    "milestones",
                    milestone,
                    {"status": "done", "completed_on": finished, "owner": owner_ref},
                    owner,
                    finished,
                ),
            )
        else:
            missed = until < ctx.today or milestone.target_date < ctx.today - timedelta(days=90)
            status = "missed" if missed else "in_progress"
            slipped = max(milestone.target_date, created)
            later(
                slipped,
                _setter(
                    ctx,
                    plan,
                    "milestones",
                    milestone,
                    {"status": status, "owner": owner_ref},
                    owner,
                    slipped,
                ),
            )
    for action in list(plan.actions):
        if action.due_date < until and (rng.random() < done_share or until < ctx.today):
            finished = min(
                max(action.due_date + timedelta(days=rng.randint(-3, 4)), created), until
            )
            later(
                finished,
                _setter(
                    ctx,
                    plan,
                    "actions",
                    action,
                    {"status": "done", "completed_on": finished},
                    owner,
                    finished,
                ),
            )
    if until >= ctx.today:
        _fresh_actions(ctx, plan, spec, owner, rng, created, events)
    _plan_measurements(ctx, plan, spec, owner, rng, created, until, events)
    _plan_risks(ctx, plan, spec, owner, rng, created, until, events)
    _plan_reviews(ctx, plan, spec, owner, rng, created, until, events)
    for _, action in sorted(events, key=lambda event: event[0]):
        action()


def _setter(
    ctx: DemoContext, plan: Plan, component: str, item: Any, values: dict, user: User, day: date
) -> Callable[[], None]:
    return lambda: _set(ctx, plan, component, item, values, user, day)


def _fresh_actions(
    ctx: DemoContext,
    plan: Plan,
    spec: AccountSpec,
    owner: User,
    rng: random.Random,
    plan_created: date,
    events: list,
) -> None:
    """One to three current actions; a plan that is not going well has one past due."""
    people = _people(plan.account, spec)
    names = {key: people[role].name for key, role in PLACEHOLDER_ROLES.items() if role in people}
    candidates = [t for t in NEW_ACTIONS if all(key in names for key in re.findall(r"{(\w+)}", t))]
    count = rng.randint(1, 3)
    overdue_first = spec.health != "good"
    for index, template in enumerate(rng.sample(candidates, min(count, len(candidates)))):
        due = (
            ctx.today - timedelta(days=rng.randint(3, 20))
            if overdue_first and index == 0
            else ctx.today + timedelta(days=rng.randint(2, 35))
        )
        status = "blocked" if spec.health == "poor" and index == 1 else "open"
        values = {
            "title": template.format(**names),
            "due_date": due,
            "status": status,
            "owner": _owner_ref(plan.account, spec, owner, rng),
        }
        created = max(min(due, ctx.today) - timedelta(days=rng.randint(7, 20)), plan_created)
        events.append(
            (
                created,
                lambda values=values, created=created: service.add_item(
                    plan, "actions", values, user=owner, now=ctx.at(created)
                ),
            )
        )


def _plan_measurements(
    ctx: DemoContext,
    plan: Plan,
    spec: AccountSpec,
    owner: User,
    rng: random.Random,
    created: date,
    until: date,
    events: list,
) -> None:
    pace = {"good": 1.1, "watch": 0.75, "poor": 0.35}[spec.health]
    for outcome in list(plan.outcomes):
        if outcome.baseline is None or outcome.target is None:  # the joint template's KPI row
            values = {
                "title": "Time to onboard a new client",
                "metric": "Days from signature to first value (customer's KPI)",
                "unit": "days",
                "baseline": 30.0,
                "target": 14.0,
            }
            service.update_item(
                plan,
                "outcomes",
                outcome,
                values,
                expected_version=None,
                user=owner,
                now=ctx.at(created),
            )
        baseline, target = outcome.baseline, outcome.target
        horizon = max((outcome.target_date - created).days, 30) if outcome.target_date else 180
        days = list(range(30, (until - created).days + 1, 30))[-3:]
        value = baseline
        for offset in days:
            share = min(1.0, pace * offset / horizon + rng.uniform(-0.05, 0.05))
            value = round(baseline + (target - baseline) * max(0.0, share), 1)
            day = created + timedelta(days=offset)
            events.append(
                (
                    day,
                    lambda outcome=outcome, day=day, value=value: _measure(
                        ctx, plan, outcome, owner, [(day, value)]
                    ),
                )
            )
        reached = (value - baseline) / (target - baseline) if target != baseline else 0
        if reached >= 1:
            status = "achieved"
        elif outcome.target_date and outcome.target_date < until:
            status = "missed"
        elif spec.health == "poor" or (spec.health == "watch" and rng.random() < 0.5):
            status = "at_risk"
        else:
            status = "on_track"
        if status != "on_track":
            day = until if until < ctx.today else ctx.today - timedelta(days=1)
            events.append(
                (day, _setter(ctx, plan, "outcomes", outcome, {"status": status}, owner, day))
            )


def _plan_risks(
    ctx: DemoContext,
    plan: Plan,
    spec: AccountSpec,
    owner: User,
    rng: random.Random,
    created: date,
    until: date,
    events: list,
) -> None:
    sponsor = next((c for c in spec.contacts if c.role == "executive_sponsor"), None)
    middle = created + timedelta(days=(until - created).days // 2)
    if spec.health == "good":
        for risk in plan.risks:
            if rng.random() < 0.6:
                events.append(
                    (middle, _setter(ctx, plan, "risks", risk, {"status": "closed"}, owner, middle))
                )
    elif plan.risks:
        risk = rng.choice(plan.risks)
        events.append(
            (
                middle,
                _setter(
                    ctx,
                    plan,
                    "risks",
                    risk,
                    {"likelihood": "high", "status": "mitigating"},
                    owner,
                    middle,
                ),
            )
        )
    if spec.health == "poor":
        values = {
            "title": "Budget cuts announced for the next fiscal year",
            "category": "budget_cuts",
            "likelihood": "high",
            "impact": "high",
            "mitigation": "Build the ROI case with the sponsor before budget planning.",
            "status": "realized" if until < ctx.today else "open",
            "owner": f"user:{owner.id}",
        }
        events.append(
            (
                middle,
                lambda: service.add_item(plan, "risks", values, user=owner, now=ctx.at(middle)),
            )
        )
    if sponsor is not None and sponsor.status == "departed":
        day = ctx.today - timedelta(days=rng.randint(20, 50))
        day = max(created, min(day, until))
        values = {
            "title": f"Executive sponsor {sponsor.name} has left",
            "category": "executive_sponsor_departure",
            "likelihood": "high",
            "impact": "high",
            "status": "open",
            "owner": f"user:{owner.id}",
            "mitigation": "Find a new sponsor through the champion; offer an executive briefing.",
        }
        events.append(
            (day, lambda: service.add_item(plan, "risks", values, user=owner, now=ctx.at(day)))
        )


def _plan_reviews(
    ctx: DemoContext,
    plan: Plan,
    spec: AccountSpec,
    owner: User,
    rng: random.Random,
    created: date,
    until: date,
    events: list,
) -> None:
    cadence = CADENCE_DAYS[plan.review_cadence]
    stop = until
    if until >= ctx.today and spec.health != "good":  # reviews lapsed: the plan is overdue
        stop = ctx.today - timedelta(days=cadence + rng.randint(10, 40))
    people = [c.name for c in _active_contacts(plan.account, spec)][:3]
    held = []
    day = next_review_date(created, plan.review_cadence)
    while day <= stop:
        held.append(day)
        day = next_review_date(day, plan.review_cadence)
    for day in held[-3:]:
        attendees = ", ".join([*people, owner.name])
        notes = rng.choice(REVIEW_NOTES)
        events.append(
            (
                day,
                lambda day=day, attendees=attendees, notes=notes: _review(
                    ctx, plan, owner, day, attendees, notes
                ),
            )
        )


def _follow_up_plan(
    ctx: DemoContext,
    account: Account,
    spec: AccountSpec,
    owner: User,
    rng: random.Random,
    created: date,
) -> None:
    """The plan after a completed first-year plan: expansion into a second team."""
    plan_type = spec.engagement_model
    plan = service.create_plan(
        account,
        {
            "title": f"{account.name} — year 2: expansion to a second team",
            "plan_type": plan_type,
            "status": "active",
            "owner_id": owner.id,
            "review_cadence": "monthly" if plan_type in ("high-touch", "joint") else "quarterly",
            "summary": "Roll out to a second business unit and prove the same outcomes there.",
        },
        user=owner,
        now=ctx.at(created),
    )
    when = ctx.at(created)
    champion = _people(account, spec).get("champion")
    outcome = service.add_item(
        plan,
        "outcomes",
        {
            "title": "Second team live",
            "metric": "Weekly active users in the second team",
            "unit": "users",
            "baseline": 0.0,
            "target": float(rng.choice((10, 25, 40, 80))),
            "target_date": created + timedelta(days=180),
            "status": "on_track",
        },
        user=owner,
        now=when,
    )
    service.add_item(
        plan,
        "milestones",
        {
            "phase": "expansion",
            "title": "Expansion pilot agreed",
            "status": "done",
            "target_date": created + timedelta(days=30),
            "completed_on": created + timedelta(days=28),
            "owner": f"contact:{champion.id}" if champion else f"user:{owner.id}",
        },
        user=owner,
        now=when,
    )
    service.add_item(
        plan,
        "milestones",
        {
            "phase": "expansion",
            "title": "Second team trained",
            "status": "planned",
            "target_date": created + timedelta(days=90),
            "owner": f"user:{owner.id}",
        },
        user=owner,
        now=when,
    )
    service.add_item(
        plan,
        "actions",
        {
            "title": "Send the expansion quote with the seat-based price",
            "due_date": ctx.today + timedelta(days=rng.randint(3, 25)),
            "status": "open",
            "owner": f"user:{owner.id}",
        },
        user=owner,
        now=when,
    )
    for contact in _active_contacts(account, spec):
        if contact.role in ("champion", "executive_sponsor"):
            service.add_item(
                plan,
                "stakeholders",
                {"person": f"contact:{contact.id}", "role": contact.role},
                user=owner,
                now=when,
            )
    offsets = list(range(30, (ctx.today - created).days + 1, 30))[-4:]
    target = outcome.target
    series = [
        (created + timedelta(days=o), round(target * min(1.0, o / 180 * 1.1), 1)) for o in offsets
    ]
    _measure(ctx, plan, outcome, owner, series)
    ctx.count("plans")
