"""The demo portfolio: users, 44 accounts with contacts, and success plans in every state.

``load_demo(now)`` is deterministic (every random choice comes from a seeded ``random.Random``
and every date is relative to ``now``) and idempotent (users are keyed on email, accounts on
``external_id``; what exists already is left alone). Plans are built through the plan service
with back-dated ``now`` values, so their history reads like a real year of CS work: created
from a template at the contract start, milestones done, measurements taken, reviews logged.

The two worked examples of the seed guide come first: TechCorp Inc. (enterprise high-touch)
and GrowthStack Marketing (mid-market hybrid). Like every service, this only flushes; the
caller commits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from cs_app.accounts import service as accounts_service
from cs_app.accounts.models import Account, Contact
from cs_app.auth.models import User
from cs_app.auth.service import create_user, find_user
from cs_app.extensions import db
from cs_app.plans import service
from cs_app.plans.models import Outcome, Plan
from cs_app.plans.progress import next_review_date

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    ("admin@demo.cs-app.example", "admin", "Alex Morgan"),
    ("lead@demo.cs-app.example", "lead", "Priya Raman"),
    ("maya@demo.cs-app.example", "csm", "Maya Okafor"),
    ("daniel@demo.cs-app.example", "csm", "Daniel Brooks"),
    ("sofia@demo.cs-app.example", "csm", "Sofia Lindqvist"),
    ("tom@demo.cs-app.example", "csm", "Tom Becker"),
    ("viewer@demo.cs-app.example", "viewer", "Victor Hale"),
]
LEAD_EMAIL = "lead@demo.cs-app.example"
AWAY_EMAIL = "tom@demo.cs-app.example"  # out of office: shows the away flag in pools
CSMS_BY_SEGMENT = {
    "Enterprise": ("maya@demo.cs-app.example", "daniel@demo.cs-app.example"),
    "Mid-Market": ("daniel@demo.cs-app.example", "sofia@demo.cs-app.example",
                   "tom@demo.cs-app.example"),
    "SMB": ("sofia@demo.cs-app.example", "tom@demo.cs-app.example"),
}
GENERATED_ACCOUNTS = 42
PORTFOLIO_SEED = 20261121
TEMPLATE_FOR_MODEL = {
    "high-touch": "enterprise-high-touch",
    "low-touch": "scaled-low-touch",
    "hybrid": "hybrid-mid-market",
    "joint": "joint",
}
CADENCE_DAYS = {"weekly": 7, "monthly": 30, "quarterly": 91}

# --- word lists for the generated part of the portfolio -------------------------------------

NAME_PREFIXES = (
    "Northwind", "Bluepeak", "Brightline", "Cedarworks", "Harborview", "Ironwood", "Lumen",
    "Maplegate", "Nimbus", "Orbitron", "Pioneer", "Quartzite", "Redwood", "Silverline", "Tidewater",
    "Vertex", "Willowbrook", "Atlasphere", "Beacon", "Cobalt", "Deltaform", "Evergreen", "Falconer",
    "Granite", "Horizon", "Juniper", "Keystone", "Lakeshore", "Meridian", "Oakridge", "Pinnacle",
    "Riverbend", "Stonebridge", "Trident", "Upland", "Vantage", "Westfield", "Zephyr", "Ambergate",
    "Copperfield", "Driftwood", "Foxglove", "Highgate", "Kestrel", "Larkspur", "Moonstone",
)
NAME_KINDS = (
    ("Analytics", "Data & Analytics"), ("Logistics", "Logistics"), ("Health", "Healthcare"),
    ("Foods", "Food & Beverage"), ("Robotics", "Manufacturing"), ("Capital", "Financial Services"),
    ("Energy", "Energy"), ("Bio", "Biotech"), ("Media", "Media"), ("Outfitters", "Retail"),
    ("Insurance", "Insurance"), ("Learning", "Education"), ("Software", "Software"),
    ("Travel", "Travel & Hospitality"), ("Legal", "Legal Services"), ("Builders", "Construction"),
    ("Security", "Cybersecurity"), ("Telecom", "Telecommunications"), ("Realty", "Real Estate"),
    ("Clinics", "Healthcare"), ("Payments", "Financial Services"), ("Studios", "Media"),
)
NAME_SUFFIXES = ("", " Inc.", " Group", " Co.", " Ltd", " LLC", " Partners", " Corp.")
FIRST_NAMES = (
    "Aisha", "Ben", "Carla", "Dev", "Elena", "Felix", "Grace", "Hiro", "Ines", "Jamal", "Kara",
    "Liam", "Mina", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Wes", "Ximena", "Yusuf", "Zoe", "Anika", "Bruno", "Chloe", "Dmitri", "Erin", "Farah",
    "Gavin", "Hana", "Ivan", "Julia", "Kenji", "Leah", "Mateo", "Nadia", "Oscar", "Petra",
)
LAST_NAMES = (
    "Adams", "Bauer", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Osei", "Patel", "Quintero", "Rossi",
    "Schmidt", "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zimmerman", "Ahmed",
    "Brennan", "Costa", "Duarte", "Engel", "Fontaine", "Gupta", "Hughes", "Iqbal", "Keller",
)
TITLES = {
    "executive_sponsor": {
        "SMB": ("Founder & CEO", "Managing Director", "Owner", "COO"),
        "Mid-Market": ("VP of Operations", "Chief Operating Officer", "VP of Sales",
                       "Head of Customer Experience"),
        "Enterprise": ("SVP Customer Operations", "Chief Customer Officer", "VP of Support",
                       "Chief Information Officer", "VP of Revenue Operations"),
    },
    "champion": ("Operations Manager", "Head of Customer Support", "Sales Operations Lead",
                 "Program Manager", "RevOps Manager", "Support Operations Manager"),
    "technical_admin": ("IT Manager", "Systems Administrator", "CRM Administrator",
                        "Platform Engineer", "Integration Engineer"),
    "end_user": ("Support Team Lead", "Account Manager", "Customer Success Associate",
                 "Business Analyst", "Service Desk Lead"),
    "billing": ("Finance Manager", "Procurement Specialist", "Accounts Payable Lead"),
}
INFLUENCE_FOR_ROLE = {"executive_sponsor": "decision_maker", "champion": "champion",
                      "technical_admin": "influencer", "end_user": "user", "billing": "influencer"}
ROLE_ORDER = ("champion", "executive_sponsor", "technical_admin", "end_user", "billing")
USE_CASES = (
    "Unify customer support across email, chat and phone in one queue.",
    "Give account managers one view of client health before every call.",
    "Automate onboarding of new customers and track time to first value.",
    "Replace spreadsheets for renewal forecasting with live pipeline data.",
    "Self-service knowledge base to deflect repetitive tickets.",
    "Track field-service jobs and customer sign-off on a mobile app.",
)
PURCHASE_TRIGGERS = (
    "Lost two large customers last year without warning.",
    "New VP wants one system of record before the next funding round.",
    "Legacy tool reached end of life; the vendor ended support.",
    "Headcount doubled and the spreadsheets stopped scaling.",
    "Board asked for a reliable renewal forecast.",
    "Compliance audit found customer data spread over five tools.",
)
PREVIOUS_SOLUTIONS = (
    "Spreadsheets and a shared inbox.",
    "An in-house tool built by a contractor, no longer maintained.",
    "A competitor's product: too rigid for their workflows.",
    "Three point tools that did not share data.",
    "Nothing formal; each team kept its own notes.",
)
PRIORITIES = (
    "Grow net revenue retention above 105 %.",
    "Cut cost to serve by 20 % this fiscal year.",
    "Expand into two new regions without adding support headcount.",
    "Raise NPS from the low 20s to above 40.",
    "Consolidate tooling under one contract.",
)
PLACEHOLDER_ROLES = {"champion": "champion", "sponsor": "executive_sponsor",
                     "admin": "technical_admin", "billing": "billing"}
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


# --- what to build -----------------------------------------------------------------------------


@dataclass
class ContactSpec:
    name: str
    title: str
    role: str
    engagement: str
    last_contact_days_ago: int | None
    status: str = "active"

    @property
    def influence(self) -> str:
        return INFLUENCE_FOR_ROLE[self.role]


@dataclass
class AccountSpec:
    external_id: str
    name: str
    domain: str
    industry: str
    employees: int
    segment: str
    engagement_model: str
    arr_dollars: int
    contract_start: date
    renewal_date: date
    csm_email: str | None
    stages: list[tuple[str, date]]
    product_plan: str
    seats: int
    health: str  # good / watch / poor: how well the plans have gone
    context: dict[str, str] = field(default_factory=dict)
    contacts: list[ContactSpec] = field(default_factory=list)

    @property
    def stage(self) -> str:
        return self.stages[-1][0]

    @property
    def departed_names(self) -> set[str]:
        return {c.name for c in self.contacts if c.status == "departed"}


@dataclass
class DemoContext:
    """What every builder needs: the day the demo is anchored on and the demo users."""

    now: datetime
    users: dict[str, User]
    echo: Callable[[str], Any]
    created: dict[str, int] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.date()

    def at(self, day: date) -> datetime:
        """A working-hours timestamp on ``day``, never later than ``now``."""
        return min(datetime.combine(day, time(10, 0), tzinfo=UTC), self.now)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


def load_demo(now: datetime, echo: Callable[[str], Any] = print) -> dict[str, int]:
    """Load the demo portfolio as of ``now``; returns how many users, accounts and plans were
    created (all zero when the portfolio is already there)."""
    ctx = DemoContext(now=now, users={}, echo=echo)
    _ensure_users(ctx)
    specs = [_techcorp_spec(ctx.today), _growthstack_spec(ctx.today),
             *_generated_specs(ctx.today)]
    existing = set(db.session.scalars(
        select(Account.external_id).where(Account.external_id.in_([s.external_id
                                                                    for s in specs]))
    ))
    builders = {"CRM-10001": _techcorp_plan, "CRM-10002": _growthstack_plan}
    for index, spec in enumerate(specs, start=1):
        if spec.external_id in existing:
            continue
        account = _create_account(ctx, spec)
        builder = builders.get(spec.external_id, _generated_plans)
        builder(ctx, account, spec, random.Random(f"cs-app-demo:{spec.external_id}"))
        for contact in account.contacts:  # they left after the plans were made
            if contact.name in spec.departed_names:
                accounts_service.update_contact(contact, {"status": "departed"}, user=None,
                                                now=ctx.now)
        if index % 10 == 0 or index == len(specs):
            echo(f"  accounts {index}/{len(specs)}")
    db.session.flush()
    echo("Demo portfolio: " + ", ".join(f"{n} {what}" for what, n in sorted(ctx.created.items()))
         if ctx.created else "Demo portfolio already loaded; nothing added.")
    return ctx.created


# --- users ---------------------------------------------------------------------------------------


def _ensure_users(ctx: DemoContext) -> None:
    for email, role, name in DEMO_USERS:
        user = find_user(email)
        if user is None:
            user = create_user(email, role=role, name=name, password=DEMO_PASSWORD, now=ctx.now)
            user.away = email == AWAY_EMAIL
            ctx.count("users")
        ctx.users[email] = user
    db.session.flush()


# --- accounts and contacts --------------------------------------------------------------------


def _create_account(ctx: DemoContext, spec: AccountSpec) -> Account:
    """The account as it was signed, then moved through its lifecycle stages on their dates,
    with its contacts (all still active: departures come after the plans are built)."""
    csm = ctx.users[spec.csm_email] if spec.csm_email else None
    first_stage, signed_on = spec.stages[0]
    account, _ = accounts_service.upsert_account({
        "external_id": spec.external_id, "name": spec.name, "domain": spec.domain,
        "industry": spec.industry, "employees": spec.employees, "segment": spec.segment,
        "engagement_model": spec.engagement_model, "arr_minor": spec.arr_dollars * 100,
        "currency": "USD", "contract_start": spec.contract_start,
        "renewal_date": spec.renewal_date, "csm_id": csm.id if csm else None,
        "lifecycle_stage": first_stage, "stage_entered_on": signed_on,
        "product_plan": spec.product_plan, "seats_purchased": spec.seats, **spec.context,
    }, user=csm, now=ctx.at(signed_on))
    for stage, entered_on in spec.stages[1:]:
        accounts_service.set_lifecycle_stage(account, stage, user=csm, now=ctx.at(entered_on),
                                             entered_on=entered_on)
    for person in spec.contacts:
        local = re.sub(r"[^a-z.]", "", person.name.lower().replace(" ", "."))
        last = (ctx.today - timedelta(days=person.last_contact_days_ago)
                if person.last_contact_days_ago is not None else None)
        accounts_service.add_contact(account, {
            "name": person.name, "title": person.title, "email": f"{local}@{spec.domain}",
            "role": person.role, "influence": person.influence,
            "engagement": person.engagement, "last_contact_on": last, "status": "active",
        }, user=csm, now=ctx.now)
    ctx.count("accounts")
    ctx.count("contacts", len(spec.contacts))
    return account


def _stage_path(stage: str, start: date, renewal: date, today: date,
                rng: random.Random) -> list[tuple[str, date]]:
    """The lifecycle stages an account has passed through, with plausible entry dates."""
    path = [("onboarding", start)]
    if stage == "onboarding":
        return path
    path.append(("activation", start + timedelta(days=30)))
    if stage == "activation":
        return path
    path.append(("adoption", start + timedelta(days=60)))
    if stage == "churned":
        path.append(("renewal", renewal - timedelta(days=90)))
        path.append(("churned", renewal))
        return path
    if stage == "adoption":
        return path
    path.append(("optimization", start + timedelta(days=180)))
    if stage == "renewal":
        path.append(("renewal", renewal - timedelta(days=90)))
    elif stage == "expansion":
        path.append(("expansion", today - timedelta(days=rng.randint(15, 90))))
    return path


def _anniversary_after(start: date, today: date) -> date:
    years = 1
    while _add_years(start, years) <= today:
        years += 1
    return _add_years(start, years)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _generated_specs(today: date) -> list[AccountSpec]:
    """Forty-two accounts across every segment, engagement model and lifecycle stage."""
    rng = random.Random(PORTFOLIO_SEED)
    segments = ["SMB"] * 16 + ["Mid-Market"] * 15 + ["Enterprise"] * 11
    models = {
        "SMB": ["low-touch"] * 12 + ["hybrid"] * 4,
        "Mid-Market": ["hybrid"] * 9 + ["low-touch"] * 4 + ["joint", "high-touch"],
        "Enterprise": ["high-touch"] * 7 + ["joint"] * 3 + ["hybrid"],
    }
    stages = (["onboarding"] * 5 + ["activation"] * 5 + ["adoption"] * 9 + ["optimization"] * 7
              + ["renewal"] * 7 + ["expansion"] * 5 + ["churned"] * 4)
    rng.shuffle(stages)
    for options in models.values():
        rng.shuffle(options)
    renewal_days = [9, 18, 27, 38, 47, 58, 66, 79, 88]
    rng.shuffle(renewal_days)
    names: set[str] = set()
    specs = []
    for index, segment in enumerate(segments):
        stage = stages[index]
        model = models[segment].pop()
        while True:
            prefix = rng.choice(NAME_PREFIXES)
            kind, industry = rng.choice(NAME_KINDS)
            name = f"{prefix} {kind}{rng.choice(NAME_SUFFIXES)}"
            if f"{prefix} {kind}" not in names:
                names.add(f"{prefix} {kind}")
                break
        if segment == "SMB":
            employees, arr = rng.randint(8, 150), rng.randint(12, 50) * 500
            product, seats = rng.choice(("Starter", "Team")), rng.randint(3, 25)
        elif segment == "Mid-Market":
            employees, arr = rng.randint(100, 1000), rng.randint(20, 90) * 1000
            product, seats = "Business", rng.randint(20, 150)
        else:
            employees, arr = rng.randint(1000, 25000), rng.randint(12, 90) * 5000
            product, seats = "Enterprise", rng.randint(150, 2000)
        if stage == "onboarding":
            start = today - timedelta(days=rng.randint(3, 28))
        elif stage == "activation":
            start = today - timedelta(days=rng.randint(32, 58))
        elif stage == "adoption":
            start = today - timedelta(days=rng.randint(65, 170))
        elif stage == "optimization":
            start = today - timedelta(days=rng.randint(185, 280))
        elif stage == "renewal":
            days = renewal_days.pop() if renewal_days else rng.randint(10, 89)
            years = rng.choice((1, 1, 2))
            start = _add_years(today + timedelta(days=days), -years)
        elif stage == "expansion":
            start = today - timedelta(days=rng.randint(300, 620))
        else:  # churned: the contract ended without a renewal
            start = _add_years(today - timedelta(days=rng.randint(10, 75)), -1)
        renewal = (_add_years(start, 1) if stage == "churned"
                   else _anniversary_after(start, today))
        pooled = model == "low-touch" and (segment == "SMB" or rng.random() < 0.5)
        csm_email = None if pooled else rng.choice(CSMS_BY_SEGMENT[segment])
        health = ("poor" if stage == "churned"
                  else rng.choices(("good", "watch", "poor"), (55, 30, 15))[0])
        domain = f"{_slug(prefix + kind)}.example"
        spec = AccountSpec(
            external_id=f"CRM-{10003 + index}", name=name, domain=domain, industry=industry,
            employees=employees, segment=segment, engagement_model=model, arr_dollars=arr,
            contract_start=start, renewal_date=renewal, csm_email=csm_email,
            stages=_stage_path(stage, start, renewal, today, rng), product_plan=product,
            seats=seats, health=health,
            context={
                "primary_use_case": rng.choice(USE_CASES),
                "purchase_trigger": rng.choice(PURCHASE_TRIGGERS),
                "previous_solutions": rng.choice(PREVIOUS_SOLUTIONS),
                "strategic_priorities": rng.choice(PRIORITIES),
            },
        )
        spec.contacts = _generated_contacts(spec, rng)
        specs.append(spec)
    return specs


def _generated_contacts(spec: AccountSpec, rng: random.Random) -> list[ContactSpec]:
    low, high = {"SMB": (1, 3), "Mid-Market": (2, 4), "Enterprise": (3, 5)}[spec.segment]
    count = rng.randint(low, high)
    people = []
    used: set[str] = set()
    for role in ROLE_ORDER[:count]:
        while True:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            if name not in used:
                used.add(name)
                break
        titles = TITLES[role]
        title = rng.choice(titles[spec.segment] if isinstance(titles, dict) else titles)
        if role == "champion":
            engagement = "high" if spec.health != "poor" else rng.choice(("medium", "low"))
        elif spec.health == "good":
            engagement = rng.choice(("high", "medium", "medium", "low"))
        else:
            engagement = rng.choice(("medium", "low", "low"))
        days_ago = rng.randint(1, 25) if engagement != "low" else rng.randint(35, 150)
        status = "active"
        key_person = role in ("champion", "executive_sponsor")
        leaves = 0.4 if spec.health == "poor" and key_person else 0.05
        if rng.random() < leaves:
            status, engagement, days_ago = "departed", "low", rng.randint(60, 200)
        people.append(ContactSpec(name, title, role, engagement, days_ago, status))
    return people


# --- the seed guide's worked examples -----------------------------------------------------


def _techcorp_spec(today: date) -> AccountSpec:
    start = today - timedelta(days=105)
    return AccountSpec(
        external_id="CRM-10001", name="TechCorp Inc.", domain="techcorp.example",
        industry="B2B SaaS", employees=500, segment="Enterprise", engagement_model="high-touch",
        arr_dollars=85_000, contract_start=start, renewal_date=_add_years(start, 1),
        csm_email="maya@demo.cs-app.example",
        stages=[("onboarding", start), ("activation", start + timedelta(days=35)),
                ("adoption", start + timedelta(days=75))],
        product_plan="Enterprise", seats=180, health="watch",
        context={
            "primary_use_case": "Consolidate three legacy support tools into one customer "
                                "support platform and cut average resolution time.",
            "purchase_trigger": "Resolution times of 18 hours were driving escalations from "
                                "key customers, and the legacy tool contracts came up for "
                                "renewal.",
            "previous_solutions": "Three separate tools for ticketing, live chat and the "
                                  "knowledge base; agents re-keyed context between them.",
            "strategic_priorities": "Customer-experience programme led by the VP of Customer "
                                    "Experience; lower cost to serve as the company grows.",
        },
        contacts=[
            ContactSpec("Sarah Chen", "VP of Customer Experience", "executive_sponsor", "high", 9),
            ContactSpec("Marcus Rivera", "Support Operations Manager", "champion", "high", 2),
            ContactSpec("Jordan Kim", "Support Systems Administrator", "technical_admin",
                        "medium", 6),
            ContactSpec("Emily Watts", "Tier 2 Support Team Lead", "end_user", "medium", 20),
            ContactSpec("Greg Novak", "Procurement Manager", "billing", "low", 95),
        ],
    )


def _growthstack_spec(today: date) -> AccountSpec:
    start = today - timedelta(days=150)
    return AccountSpec(
        external_id="CRM-10002", name="GrowthStack Marketing", domain="growthstack.example",
        industry="Marketing Services", employees=45, segment="Mid-Market",
        engagement_model="hybrid", arr_dollars=24_000, contract_start=start,
        renewal_date=_add_years(start, 1), csm_email="sofia@demo.cs-app.example",
        stages=[("onboarding", start), ("activation", start + timedelta(days=28)),
                ("adoption", start + timedelta(days=56))],
        product_plan="Business", seats=40, health="watch",
        context={
            "primary_use_case": "Single source of truth for client health across all three "
                                "service teams.",
            "purchase_trigger": "Frequently surprised by client churn; renewal forecasts were "
                                "only 65 % accurate.",
            "previous_solutions": "Each service team kept its own client spreadsheet.",
            "strategic_priorities": "Reliable 90-day renewal forecasting; grow retainer "
                                    "revenue with existing clients.",
        },
        contacts=[
            ContactSpec("Rachel Nguyen", "Director of Operations", "champion", "high", 4),
            ContactSpec("Owen Price", "Managing Partner", "executive_sponsor", "low", 64),
            ContactSpec("Lila Moreno", "Account Director", "end_user", "low", 41),
        ],
    )


def _contact(account: Account, role: str) -> Contact:
    return next(c for c in account.contacts if c.role == role)


def _measure(ctx: DemoContext, plan: Plan, outcome: Outcome, user: User,
             series: list[tuple[date, float]]) -> None:
    for day, value in series:
        service.add_measurement(plan, outcome, day, value, user=user, now=ctx.at(day))


def _set(ctx: DemoContext, plan: Plan, component: str, item: Any, values: dict, user: User,
         day: date) -> None:
    service.update_item(plan, component, item, values, expected_version=None, user=user,
                        now=ctx.at(day))


def _review(ctx: DemoContext, plan: Plan, user: User, day: date, attendees: str,
            notes: str) -> None:
    service.add_item(plan, "reviews", {"held_on": day, "attendees": attendees, "notes": notes},
                     user=user, now=ctx.at(day))


def _techcorp_plan(ctx: DemoContext, account: Account, spec: AccountSpec,
                   rng: random.Random) -> None:
    maya = ctx.users["maya@demo.cs-app.example"]
    start = spec.contract_start
    day = lambda offset: start + timedelta(days=offset)  # noqa: E731
    sarah, marcus = _contact(account, "executive_sponsor"), _contact(account, "champion")
    jordan, emily = _contact(account, "technical_admin"), _contact(account, "end_user")
    plan = service.create_plan(account, {
        "title": "TechCorp Inc. — support platform consolidation",
        "status": "active",
        "summary": "Consolidate three legacy support tools into one platform and bring average "
                   "resolution time from 18 to 8 hours within six months. Phased rollout: "
                   "migration, soft launch with 25 % of tickets, full cutover, automation.",
    }, user=maya, now=ctx.at(day(2)), template=service.get_template("enterprise-high-touch"))
    outcomes = {o.title: o for o in plan.outcomes}
    resolution = outcomes["Reduce average ticket resolution time"]
    _set(ctx, plan, "outcomes", resolution, {"title": "Average resolution time",
                                             "metric": "Average resolution time (hours)"},
         maya, day(2))
    new = {}
    for title, metric, unit, baseline, target, months in (
        ("Tool consolidation", "Support systems in use", "systems", 3, 1, 3),
        ("Agent satisfaction (internal)", "Agent satisfaction survey", "%", 62, 80, 6),
        ("Customer effort score", "Customer effort score (survey average)", "score", 4.2, 3.0, 9),
    ):
        new[title] = service.add_item(plan, "outcomes", {
            "title": title, "metric": metric, "unit": unit, "baseline": float(baseline),
            "target": float(target), "target_date": day(30 * months), "status": "on_track",
        }, user=maya, now=ctx.at(day(2)))
    _measure(ctx, plan, resolution, maya, [(day(31), 17.0), (day(62), 15.5), (day(93), 13.2)])
    _measure(ctx, plan, new["Tool consolidation"], maya,
             [(day(2), 3), (day(62), 2), (day(93), 2)])
    _measure(ctx, plan, new["Agent satisfaction (internal)"], maya,
             [(day(2), 62), (day(62), 66), (day(93), 71)])
    _measure(ctx, plan, new["Customer effort score"], maya,
             [(day(2), 4.2), (day(62), 4.0), (day(93), 3.8)])
    _measure(ctx, plan, outcomes["Increase user adoption"], maya,
             [(day(31), 46), (day(62), 55), (day(93), 63)])
    _measure(ctx, plan, outcomes["Cut support ticket volume through self-service deflection"],
             maya, [(day(31), 980), (day(62), 930), (day(93), 860)])
    _set(ctx, plan, "outcomes", new["Tool consolidation"], {"status": "at_risk"}, maya, day(93))

    for title, phase, offset, criteria, owner, status, done_on in (
        ("Data migration from legacy systems complete", "implementation", 30,
         "All open and 12 months of closed tickets migrated; spot check of 200 tickets passes.",
         jordan, "done", 33),
        ("Support team trained, soft launch with 25% ticket volume", "adoption", 60,
         "All 180 agents trained; 25 % of incoming tickets routed to the new platform.",
         marcus, "done", 58),
        ("Full cutover, legacy systems deprecated", "adoption", 90,
         "100 % of tickets on the new platform; legacy ticketing and chat switched off.",
         jordan, "in_progress", None),
        ("Automation workflows deployed for the top 5 ticket categories", "value", 120,
         "Routing and macros live for the five largest ticket categories.", emily, "planned",
         None),
        ("Resolution time target achieved, expansion discussion initiated", "expansion", 180,
         "Average resolution time at or under 8 hours; expansion call held with the sponsor.",
         sarah, "planned", None),
    ):
        milestone = service.add_item(plan, "milestones", {
            "phase": phase, "title": title, "target_date": day(offset),
            "success_criteria": criteria, "status": "planned", "owner": f"contact:{owner.id}",
        }, user=maya, now=ctx.at(day(3)))
        if status != "planned":
            values = {"status": status}
            if done_on:
                values["completed_on"] = day(done_on)
            _set(ctx, plan, "milestones", milestone, values, maya, day(done_on or 70))
    for milestone in plan.milestones:
        if milestone.status == "planned" and milestone.title in (
            "Technical setup complete", "Admin training delivered", "First workflow deployed"
        ):
            _set(ctx, plan, "milestones", milestone,
                 {"status": "done", "completed_on": milestone.target_date}, maya,
                 milestone.target_date)
        elif milestone.title == "50% user activation":
            _set(ctx, plan, "milestones", milestone, {"status": "in_progress"}, maya, day(80))
    cutover = next(m for m in plan.milestones if m.title.startswith("Full cutover"))
    automation = next(m for m in plan.milestones if m.title.startswith("Automation workflows"))

    for action in list(plan.actions):
        _set(ctx, plan, "actions", action, {"status": "done", "completed_on": action.due_date},
             maya, action.due_date)
    for title, owner, due_offset, status, milestone in (
        ("Finish migrating the last 2,000 archived chat transcripts", jordan, -5, "open",
         cutover),
        ("Schedule the legacy chat tool shutdown with IT", marcus, 7, "open", cutover),
        ("Prepare the month-3 executive business review deck", None, 10, "open", None),
        ("Confirm the top 5 ticket categories with the support leads", emily, 20, "open",
         automation),
        ("Provision SSO for the contractor support team", jordan, 3, "blocked", None),
    ):
        service.add_item(plan, "actions", {
            "title": title, "due_date": ctx.today + timedelta(days=due_offset), "status": status,
            "owner": f"contact:{owner.id}" if owner else f"user:{maya.id}",
            "milestone_id": milestone.id if milestone else None,
        }, user=maya, now=ctx.at(ctx.today - timedelta(days=12)))

    risks = {r.title: r for r in plan.risks}
    _set(ctx, plan, "risks", risks["Single-threaded champion"],
         {"status": "mitigating", "owner": f"contact:{emily.id}"}, maya, day(40))
    _set(ctx, plan, "risks", risks["Integration complexity"],
         {"likelihood": "high", "owner": f"contact:{jordan.id}",
          "mitigation": "Daily cutover stand-up with the support systems admin; migration "
                        "scripts re-run nightly."}, maya, day(85))
    service.add_item(plan, "risks", {
        "title": "Cutover slips past the end of the legacy ticketing contract",
        "category": "integration_complexity", "likelihood": "high", "impact": "high",
        "mitigation": "Agree a one-month extension of the legacy licence as a fallback; "
                      "escalate blockers to the VP of Customer Experience weekly.",
        "status": "open", "owner": f"contact:{sarah.id}",
    }, user=maya, now=ctx.at(day(92)))

    attendees = "Sarah Chen, Marcus Rivera, Jordan Kim, Maya Okafor"
    _review(ctx, plan, maya, day(31), attendees,
            "Migration complete a few days late; training plan agreed for month 2.")
    _review(ctx, plan, maya, day(61), attendees,
            "Soft launch live with 25 % of tickets; resolution time down to 15.5 h.")
    _review(ctx, plan, maya, day(92), attendees + ", Emily Watts",
            "Cutover delayed by archived chat transcripts; new risk logged. Resolution time "
            "13.2 h, on track for the 8 h target.")
    ctx.count("plans")


def _growthstack_plan(ctx: DemoContext, account: Account, spec: AccountSpec,
                      rng: random.Random) -> None:
    sofia = ctx.users["sofia@demo.cs-app.example"]
    start = spec.contract_start
    day = lambda offset: start + timedelta(days=offset)  # noqa: E731
    rachel, owen = _contact(account, "champion"), _contact(account, "executive_sponsor")
    plan = service.create_plan(account, {
        "title": "GrowthStack Marketing — hybrid success plan",
        "status": "active",
        "summary": "Automated onboarding plus CSM touchpoints at the 30-day check-in, the "
                   "month-6 QBR and the month-9 renewal conversation. Primary goal: one "
                   "source of truth for client health across all service teams.",
    }, user=sofia, now=ctx.at(day(1)), template=service.get_template("hybrid-mid-market"))
    forecast = plan.outcomes[0]
    _measure(ctx, plan, forecast, sofia,
             [(day(1), 65), (day(60), 69), (day(91), 74), (day(121), 77)])
    teams = service.add_item(plan, "outcomes", {
        "title": "Single source of truth for client health",
        "metric": "Service teams updating client health weekly", "unit": "teams",
        "baseline": 0.0, "target": 3.0, "target_date": day(180), "status": "on_track",
    }, user=sofia, now=ctx.at(day(1)))
    _measure(ctx, plan, teams, sofia, [(day(30), 1), (day(91), 2), (day(121), 2)])

    for milestone in plan.milestones:
        if milestone.target_date <= day(30):
            _set(ctx, plan, "milestones", milestone,
                 {"status": "done", "completed_on": milestone.target_date,
                  "owner": f"contact:{rachel.id}" if milestone.phase == "onboarding"
                  else f"user:{sofia.id}"}, sofia, milestone.target_date)
        elif milestone.phase == "adoption":
            _set(ctx, plan, "milestones", milestone,
                 {"status": "in_progress", "owner": f"contact:{rachel.id}"}, sofia, day(60))
    for action in list(plan.actions):
        _set(ctx, plan, "actions", action, {"status": "done", "completed_on": action.due_date},
             sofia, action.due_date)
    for title, owner, due_offset in (
        ("Invite the three service-team leads to the month-6 QBR", rachel, 14),
        ("Build the pipeline-freshness report for the QBR", None, 21),
        ("Walk Owen Price through the renewal forecast dashboard", owen, -9),
    ):
        service.add_item(plan, "actions", {
            "title": title, "due_date": ctx.today + timedelta(days=due_offset), "status": "open",
            "owner": f"contact:{owner.id}" if owner else f"user:{sofia.id}",
        }, user=sofia, now=ctx.at(ctx.today - timedelta(days=20)))
    single = next(r for r in plan.risks if r.category == "single_threaded_champion")
    _set(ctx, plan, "risks", single, {"likelihood": "high", "mitigation": (
        "Only Rachel Nguyen is engaged; meet the account director and the managing partner "
        "before the QBR.")}, sofia, day(121))
    _review(ctx, plan, sofia, day(30), "Rachel Nguyen, Sofia Lindqvist",
            "30-day check-in: setup complete; two of three teams live.")
    _review(ctx, plan, sofia, day(121), "Rachel Nguyen, Lila Moreno, Sofia Lindqvist",
            "Forecast accuracy at 77 %; third team still on spreadsheets. Managing partner "
            "not reached since the kickoff.")
    ctx.count("plans")


# --- plans for the generated accounts ----------------------------------------------------------


def _generated_plans(ctx: DemoContext, account: Account, spec: AccountSpec,
                     rng: random.Random) -> None:
    owner = ctx.users[spec.csm_email or LEAD_EMAIL]
    stage = spec.stage
    if spec.csm_email is None and stage in ("onboarding", "activation", "churned"):
        return  # pooled accounts early in their life (or gone) run on automation alone
    template = service.get_template(TEMPLATE_FOR_MODEL[spec.engagement_model])
    start = spec.contract_start
    if stage == "onboarding":
        created = ctx.today - timedelta(days=rng.randint(0, min(5, (ctx.today - start).days)))
        service.create_plan(account, {"status": "draft", "owner_id": owner.id}, user=owner,
                            now=ctx.at(created), template=template)
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
    elif start < _add_years(ctx.today, -1):  # a multi-year customer: last year's plan is done
        end, final_status = _add_years(start, 1) - timedelta(days=20), "completed"
    plan = service.create_plan(account, {"status": "active", "owner_id": owner.id}, user=owner,
                               now=ctx.at(created), template=template)
    _play_plan(ctx, plan, spec, owner, rng, created, end or ctx.today)
    if final_status != "active":
        service.update_plan(plan, {"status": final_status}, expected_version=None, user=owner,
                            now=ctx.at(end))
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


def _play_plan(ctx: DemoContext, plan: Plan, spec: AccountSpec, owner: User,
               rng: random.Random, created: date, until: date) -> None:
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
            finished = min(max(milestone.target_date + timedelta(days=rng.randint(-5, 6)),
                               created), until)
            later(finished, _setter(ctx, plan, "milestones", milestone,
                                    {"status": "done", "completed_on": finished,
                                     "owner": owner_ref}, owner, finished))
        else:
            missed = until < ctx.today or milestone.target_date < ctx.today - timedelta(days=90)
            status = "missed" if missed else "in_progress"
            slipped = max(milestone.target_date, created)
            later(slipped, _setter(ctx, plan, "milestones", milestone,
                                   {"status": status, "owner": owner_ref}, owner, slipped))
    for action in list(plan.actions):
        if action.due_date < until and (rng.random() < done_share or until < ctx.today):
            finished = min(max(action.due_date + timedelta(days=rng.randint(-3, 4)), created),
                           until)
            later(finished, _setter(ctx, plan, "actions", action,
                                    {"status": "done", "completed_on": finished}, owner,
                                    finished))
    if until >= ctx.today:
        _fresh_actions(ctx, plan, spec, owner, rng, created, events)
    _plan_measurements(ctx, plan, spec, owner, rng, created, until, events)
    _plan_risks(ctx, plan, spec, owner, rng, created, until, events)
    _plan_reviews(ctx, plan, spec, owner, rng, created, until, events)
    for _, action in sorted(events, key=lambda event: event[0]):
        action()


def _setter(ctx: DemoContext, plan: Plan, component: str, item: Any, values: dict,
            user: User, day: date) -> Callable[[], None]:
    return lambda: _set(ctx, plan, component, item, values, user, day)


def _fresh_actions(ctx: DemoContext, plan: Plan, spec: AccountSpec, owner: User,
                   rng: random.Random, plan_created: date, events: list) -> None:
    """One to three current actions; a plan that is not going well has one past due."""
    people = _people(plan.account, spec)
    names = {key: people[role].name for key, role in PLACEHOLDER_ROLES.items() if role in people}
    candidates = [t for t in NEW_ACTIONS
                  if all(key in names for key in re.findall(r"{(\w+)}", t))]
    count = rng.randint(1, 3)
    overdue_first = spec.health != "good"
    for index, template in enumerate(rng.sample(candidates, min(count, len(candidates)))):
        due = (ctx.today - timedelta(days=rng.randint(3, 20)) if overdue_first and index == 0
               else ctx.today + timedelta(days=rng.randint(2, 35)))
        status = "blocked" if spec.health == "poor" and index == 1 else "open"
        values = {"title": template.format(**names), "due_date": due, "status": status,
                  "owner": _owner_ref(plan.account, spec, owner, rng)}
        created = max(min(due, ctx.today) - timedelta(days=rng.randint(7, 20)), plan_created)
        events.append((created, lambda values=values, created=created: service.add_item(
            plan, "actions", values, user=owner, now=ctx.at(created))))


def _plan_measurements(ctx: DemoContext, plan: Plan, spec: AccountSpec, owner: User,
                       rng: random.Random, created: date, until: date, events: list) -> None:
    pace = {"good": 1.1, "watch": 0.75, "poor": 0.35}[spec.health]
    for outcome in list(plan.outcomes):
        if outcome.baseline is None or outcome.target is None:  # the joint template's KPI row
            values = {"title": "Time to onboard a new client", "metric": "Days from signature "
                      "to first value (customer's KPI)", "unit": "days", "baseline": 30.0,
                      "target": 14.0}
            service.update_item(plan, "outcomes", outcome, values, expected_version=None,
                                user=owner, now=ctx.at(created))
        baseline, target = outcome.baseline, outcome.target
        horizon = max((outcome.target_date - created).days, 30) if outcome.target_date else 180
        days = list(range(30, (until - created).days + 1, 30))[-3:]
        value = baseline
        for offset in days:
            share = min(1.0, pace * offset / horizon + rng.uniform(-0.05, 0.05))
            value = round(baseline + (target - baseline) * max(0.0, share), 1)
            day = created + timedelta(days=offset)
            events.append((day, lambda outcome=outcome, day=day, value=value: _measure(
                ctx, plan, outcome, owner, [(day, value)])))
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
            events.append((day, _setter(ctx, plan, "outcomes", outcome, {"status": status},
                                        owner, day)))


def _plan_risks(ctx: DemoContext, plan: Plan, spec: AccountSpec, owner: User,
                rng: random.Random, created: date, until: date, events: list) -> None:
    sponsor = next((c for c in spec.contacts if c.role == "executive_sponsor"), None)
    middle = created + timedelta(days=(until - created).days // 2)
    if spec.health == "good":
        for risk in plan.risks:
            if rng.random() < 0.6:
                events.append((middle, _setter(ctx, plan, "risks", risk, {"status": "closed"},
                                               owner, middle)))
    elif plan.risks:
        risk = rng.choice(plan.risks)
        events.append((middle, _setter(ctx, plan, "risks", risk,
                                       {"likelihood": "high", "status": "mitigating"},
                                       owner, middle)))
    if spec.health == "poor":
        values = {"title": "Budget cuts announced for the next fiscal year",
                  "category": "budget_cuts", "likelihood": "high", "impact": "high",
                  "mitigation": "Build the ROI case with the sponsor before budget planning.",
                  "status": "realized" if until < ctx.today else "open",
                  "owner": f"user:{owner.id}"}
        events.append((middle, lambda: service.add_item(plan, "risks", values, user=owner,
                                                        now=ctx.at(middle))))
    if sponsor is not None and sponsor.status == "departed":
        day = ctx.today - timedelta(days=rng.randint(20, 50))
        day = max(created, min(day, until))
        values = {"title": f"Executive sponsor {sponsor.name} has left",
                  "category": "executive_sponsor_departure", "likelihood": "high",
                  "impact": "high", "status": "open", "owner": f"user:{owner.id}",
                  "mitigation": "Find a new sponsor through the champion; offer an executive "
                                "briefing."}
        events.append((day, lambda: service.add_item(plan, "risks", values, user=owner,
                                                     now=ctx.at(day))))


def _plan_reviews(ctx: DemoContext, plan: Plan, spec: AccountSpec, owner: User,
                  rng: random.Random, created: date, until: date, events: list) -> None:
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
        events.append((day, lambda day=day, attendees=attendees, notes=notes: _review(
            ctx, plan, owner, day, attendees, notes)))


def _follow_up_plan(ctx: DemoContext, account: Account, spec: AccountSpec, owner: User,
                    rng: random.Random, created: date) -> None:
    """The plan after a completed first-year plan: expansion into a second team."""
    plan_type = spec.engagement_model
    plan = service.create_plan(account, {
        "title": f"{account.name} — year 2: expansion to a second team",
        "plan_type": plan_type, "status": "active", "owner_id": owner.id,
        "review_cadence": "monthly" if plan_type in ("high-touch", "joint") else "quarterly",
        "summary": "Roll out to a second business unit and prove the same outcomes there.",
    }, user=owner, now=ctx.at(created))
    when = ctx.at(created)
    champion = _people(account, spec).get("champion")
    outcome = service.add_item(plan, "outcomes", {
        "title": "Second team live", "metric": "Weekly active users in the second team",
        "unit": "users", "baseline": 0.0, "target": float(rng.choice((10, 25, 40, 80))),
        "target_date": created + timedelta(days=180), "status": "on_track",
    }, user=owner, now=when)
    service.add_item(plan, "milestones", {
        "phase": "expansion", "title": "Expansion pilot agreed", "status": "done",
        "target_date": created + timedelta(days=30), "completed_on": created + timedelta(days=28),
        "owner": f"contact:{champion.id}" if champion else f"user:{owner.id}",
    }, user=owner, now=when)
    service.add_item(plan, "milestones", {
        "phase": "expansion", "title": "Second team trained", "status": "planned",
        "target_date": created + timedelta(days=90), "owner": f"user:{owner.id}",
    }, user=owner, now=when)
    service.add_item(plan, "actions", {
        "title": "Send the expansion quote with the seat-based price",
        "due_date": ctx.today + timedelta(days=rng.randint(3, 25)), "status": "open",
        "owner": f"user:{owner.id}",
    }, user=owner, now=when)
    for contact in _active_contacts(account, spec):
        if contact.role in ("champion", "executive_sponsor"):
            service.add_item(plan, "stakeholders", {"person": f"contact:{contact.id}",
                                                    "role": contact.role}, user=owner, now=when)
    offsets = list(range(30, (ctx.today - created).days + 1, 30))[-4:]
    target = outcome.target
    series = [(created + timedelta(days=o), round(target * min(1.0, o / 180 * 1.1), 1))
              for o in offsets]
    _measure(ctx, plan, outcome, owner, series)
    ctx.count("plans")

