"""The demo portfolio: users, 46 accounts with contacts, and success plans in every state.

``load_demo(now)`` is deterministic (every random choice comes from a seeded ``random.Random``
and every date is relative to ``now``) and idempotent (users are keyed on email, accounts on
``external_id``; what exists already is left alone). Plans are built through the plan service
with back-dated ``now`` values, so their history reads like a real year of CS work: created
from a template at the contract start, milestones done, measurements taken, reviews logged.

The two worked examples of the seed guide come first: TechCorp Inc. (enterprise high-touch)
and GrowthStack Marketing (mid-market hybrid).

Every account then gets ~120 days of usage (events and metric values pushed through the
ingestion service) that tells its story — healthy adopters, accounts sliding or gone dark,
growing and expanding ones, churned ones, new ones — and 90 days of health history, replayed
day by day with the real recompute, plus one override set by the lead. Accounts that already
have history are left alone, so loading twice adds nothing. Like every service, this only
flushes; the caller commits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import cycle
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from cs_app import demo_journeys as journeys
from cs_app.accounts import service as accounts_service
from cs_app.accounts.ingest import BulkResult, ingest_events, ingest_metrics
from cs_app.accounts.models import Account, Contact
from cs_app.auth.models import User
from cs_app.auth.service import create_user, find_user
from cs_app.extensions import db
from cs_app.health.jobs import recompute_pending_health
from cs_app.health.models import HealthOverride, HealthSnapshot
from cs_app.health.recompute import recompute
from cs_app.health.service import set_override
from cs_app.jobs.models import PendingRecompute
from cs_app.plans import service
from cs_app.plans.models import Outcome, Plan
from cs_app.plans.progress import next_review_date
from cs_app.triggers.rules.evaluation import evaluate_scheduled_rules

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
    "Mid-Market": (
        "daniel@demo.cs-app.example",
        "sofia@demo.cs-app.example",
        "tom@demo.cs-app.example",
    ),
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
# three SMB accounts on a trial of the next plan: ending in 3 days, tomorrow and today
TRIAL_DAYS_LEFT = (3, 1, 0)

# --- word lists for the generated part of the portfolio -------------------------------------

NAME_PREFIXES = (
    "Northwind",
    "Bluepeak",
    "Brightline",
    "Cedarworks",
    "Harborview",
    "Ironwood",
    "Lumen",
    "Maplegate",
    "Nimbus",
    "Orbitron",
    "Pioneer",
    "Quartzite",
    "Redwood",
    "Silverline",
    "Tidewater",
    "Vertex",
    "Willowbrook",
    "Atlasphere",
    "Beacon",
    "Cobalt",
    "Deltaform",
    "Evergreen",
    "Falconer",
    "Granite",
    "Horizon",
    "Juniper",
    "Keystone",
    "Lakeshore",
    "Meridian",
    "Oakridge",
    "Pinnacle",
    "Riverbend",
    "Stonebridge",
    "Trident",
    "Upland",
    "Vantage",
    "Westfield",
    "Zephyr",
    "Ambergate",
    "Copperfield",
    "Driftwood",
    "Foxglove",
    "Highgate",
    "Kestrel",
    "Larkspur",
    "Moonstone",
)
NAME_KINDS = (
    ("Analytics", "Data & Analytics"),
    ("Logistics", "Logistics"),
    ("Health", "Healthcare"),
    ("Foods", "Food & Beverage"),
    ("Robotics", "Manufacturing"),
    ("Capital", "Financial Services"),
    ("Energy", "Energy"),
    ("Bio", "Biotech"),
    ("Media", "Media"),
    ("Outfitters", "Retail"),
    ("Insurance", "Insurance"),
    ("Learning", "Education"),
    ("Software", "Software"),
    ("Travel", "Travel & Hospitality"),
    ("Legal", "Legal Services"),
    ("Builders", "Construction"),
    ("Security", "Cybersecurity"),
    ("Telecom", "Telecommunications"),
    ("Realty", "Real Estate"),
    ("Clinics", "Healthcare"),
    ("Payments", "Financial Services"),
    ("Studios", "Media"),
)
NAME_SUFFIXES = ("", " Inc.", " Group", " Co.", " Ltd", " LLC", " Partners", " Corp.")
FIRST_NAMES = (
    "Aisha",
    "Ben",
    "Carla",
    "Dev",
    "Elena",
    "Felix",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kara",
    "Liam",
    "Mina",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Anika",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Erin",
    "Farah",
    "Gavin",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Leah",
    "Mateo",
    "Nadia",
    "Oscar",
    "Petra",
)
LAST_NAMES = (
    "Adams",
    "Bauer",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Osei",
    "Patel",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zimmerman",
    "Ahmed",
    "Brennan",
    "Costa",
    "Duarte",
    "Engel",
    "Fontaine",
    "Gupta",
    "Hughes",
    "Iqbal",
    "Keller",
)
TITLES = {
    "executive_sponsor": {
        "SMB": ("Founder & CEO", "Managing Director", "Owner", "COO"),
        "Mid-Market": (
            "VP of Operations",
            "Chief Operating Officer",
            "VP of Sales",
            "Head of Customer Experience",
        ),
        "Enterprise": (
            "SVP Customer Operations",
            "Chief Customer Officer",
            "VP of Support",
            "Chief Information Officer",
            "VP of Revenue Operations",
        ),
    },
    "champion": (
        "Operations Manager",
        "Head of Customer Support",
        "Sales Operations Lead",
        "Program Manager",
        "RevOps Manager",
        "Support Operations Manager",
    ),
    "technical_admin": (
        "IT Manager",
        "Systems Administrator",
        "CRM Administrator",
        "Platform Engineer",
        "Integration Engineer",
    ),
    "end_user": (
        "Support Team Lead",
        "Account Manager",
        "Customer Success Associate",
        "Business Analyst",
        "Service Desk Lead",
    ),
    "billing": ("Finance Manager", "Procurement Specialist", "Accounts Payable Lead"),
}
INFLUENCE_FOR_ROLE = {
    "executive_sponsor": "decision_maker",
    "champion": "champion",
    "technical_admin": "influencer",
    "end_user": "user",
    "billing": "influencer",
}
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
    context: dict[str, Any] = field(default_factory=dict)
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
    specs = [
        _techcorp_spec(ctx.today),
        _growthstack_spec(ctx.today),
        *_generated_specs(ctx.today),
        *journeys.journey_specs(ctx.today, AccountSpec, ContactSpec, _add_years),
    ]
    existing = set(
        db.session.scalars(
            select(Account.external_id).where(
                Account.external_id.in_([s.external_id for s in specs])
            )
        )
    )
    builders = {"CRM-10001": _techcorp_plan, "CRM-10002": _growthstack_plan}
    for index, spec in enumerate(specs, start=1):
        if spec.external_id in existing:
            continue
        account = _create_account(ctx, spec)
        builder = builders.get(spec.external_id, _generated_plans)
        builder(ctx, account, spec, random.Random(f"cs-app-demo:{spec.external_id}"))
        for contact in account.contacts:  # they left after the plans were made
            if contact.name in spec.departed_names:
                accounts_service.update_contact(
                    contact, {"status": "departed"}, user=None, now=ctx.now
                )
        if index % 10 == 0 or index == len(specs):
            echo(f"  accounts {index}/{len(specs)}")
    db.session.flush()
    _load_usage_and_history(ctx, specs)
    _start_journeys(ctx)
    echo(
        "Demo portfolio: " + ", ".join(f"{n} {what}" for what, n in sorted(ctx.created.items()))
        if ctx.created
        else "Demo portfolio already loaded; nothing added."
    )
    return ctx.created


def _start_journeys(ctx: DemoContext) -> None:
    """Pools get their members, today's events arrive (event-driven rules react), and the
    scheduled rules run once: the queues, firings and touchpoints are there on first sign-in."""
    members = journeys.ensure_pool_members(ctx.users)
    events = journeys.play_todays_events(ctx.now)
    recompute_pending_health(now=ctx.now)  # today's events move their accounts' signals
    firings = evaluate_scheduled_rules(now=ctx.now)["firings_created"]
    for what, added in (
        ("pool members", members),
        ("journey events", events),
        ("rule firings", firings),
    ):
        if added:
            ctx.count(what, added)


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
    account, _ = accounts_service.upsert_account(
        {
            "external_id": spec.external_id,
            "name": spec.name,
            "domain": spec.domain,
            "industry": spec.industry,
            "employees": spec.employees,
            "segment": spec.segment,
            "engagement_model": spec.engagement_model,
            "arr_minor": spec.arr_dollars * 100,
            "currency": "USD",
            "contract_start": spec.contract_start,
            "renewal_date": spec.renewal_date,
            "csm_id": csm.id if csm else None,
            "lifecycle_stage": first_stage,
            "stage_entered_on": signed_on,
            "product_plan": spec.product_plan,
            "seats_purchased": spec.seats,
            **spec.context,
        },
        user=csm,
        now=ctx.at(signed_on),
    )
    for stage, entered_on in spec.stages[1:]:
        accounts_service.set_lifecycle_stage(
            account, stage, user=csm, now=ctx.at(entered_on), entered_on=entered_on
        )
    for person in spec.contacts:
        local = re.sub(r"[^a-z.]", "", person.name.lower().replace(" ", "."))
        last = (
            ctx.today - timedelta(days=person.last_contact_days_ago)
            if person.last_contact_days_ago is not None
            else None
        )
        accounts_service.add_contact(
            account,
            {
                "name": person.name,
                "title": person.title,
                "email": f"{local}@{spec.domain}",
                "role": person.role,
                "influence": person.influence,
                "engagement": person.engagement,
                "last_contact_on": last,
                "status": "active",
            },
            user=csm,
            now=ctx.now,
        )
    ctx.count("accounts")
    ctx.count("contacts", len(spec.contacts))
    return account


def _stage_path(
    stage: str, start: date, renewal: date, today: date, rng: random.Random
) -> list[tuple[str, date]]:
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
    elif stage == "expansion":  # 15–55 days ago: the 90-day health history covers the month
        days = rng.randint(15, 90)  # before it, which the scorecard backtest reads
        path.append(("expansion", today - timedelta(days=15 + (days - 15) * 40 // 75)))
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
    stages = (
        ["onboarding"] * 5
        + ["activation"] * 5
        + ["adoption"] * 9
        + ["optimization"] * 7
        + ["renewal"] * 7
        + ["expansion"] * 5
        + ["churned"] * 4
    )
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
        else:  # churned 12–55 days ago, without a renewal (inside the health history)
            days = rng.randint(10, 75)
            start = _add_years(today - timedelta(days=12 + (days - 10) * 43 // 65), -1)
        renewal = _add_years(start, 1) if stage == "churned" else _anniversary_after(start, today)
        pooled = model == "low-touch" and (segment == "SMB" or rng.random() < 0.5)
        csm_email = None if pooled else rng.choice(CSMS_BY_SEGMENT[segment])
        health = (
            "poor"
            if stage == "churned"
            else rng.choices(("good", "watch", "poor"), (55, 30, 15))[0]
        )
        domain = f"{_slug(prefix + kind)}.example"
        spec = AccountSpec(
            external_id=f"CRM-{10003 + index}",
            name=name,
            domain=domain,
            industry=industry,
            employees=employees,
            segment=segment,
            engagement_model=model,
            arr_dollars=arr,
            contract_start=start,
            renewal_date=renewal,
            csm_email=csm_email,
            stages=_stage_path(stage, start, renewal, today, rng),
            product_plan=product,
            seats=seats,
            health=health,
            context={
                "primary_use_case": rng.choice(USE_CASES),
                "purchase_trigger": rng.choice(PURCHASE_TRIGGERS),
                "previous_solutions": rng.choice(PREVIOUS_SOLUTIONS),
                "strategic_priorities": rng.choice(PRIORITIES),
            },
        )
        spec.contacts = _generated_contacts(spec, rng)
        specs.append(spec)
    trials = sorted(
        (s for s in specs if s.segment == "SMB" and s.stage in ("onboarding", "activation")),
        key=lambda s: s.contract_start,
        reverse=True,
    )[: len(TRIAL_DAYS_LEFT)]
    for spec, days_left in zip(trials, TRIAL_DAYS_LEFT, strict=False):
        spec.context["trial_ends_on"] = today + timedelta(days=days_left)
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
        external_id="CRM-10001",
        name="TechCorp Inc.",
        domain="techcorp.example",
        industry="B2B SaaS",
        employees=500,
        segment="Enterprise",
        engagement_model="high-touch",
        arr_dollars=85_000,
        contract_start=start,
        renewal_date=_add_years(start, 1),
        csm_email="maya@demo.cs-app.example",
        stages=[
            ("onboarding", start),
            ("activation", start + timedelta(days=35)),
            ("adoption", start + timedelta(days=75)),
        ],
        product_plan="Enterprise",
        seats=180,
        health="watch",
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
            ContactSpec(
                "Jordan Kim", "Support Systems Administrator", "technical_admin", "medium", 6
            ),
            ContactSpec("Emily Watts", "Tier 2 Support Team Lead", "end_user", "medium", 20),
            ContactSpec("Greg Novak", "Procurement Manager", "billing", "low", 95),
        ],
    )


def _growthstack_spec(today: date) -> AccountSpec:
    start = today - timedelta(days=150)
    return AccountSpec(
        external_id="CRM-10002",
        name="GrowthStack Marketing",
        domain="growthstack.example",
        industry="Marketing Services",
        employees=45,
        segment="Mid-Market",
        engagement_model="hybrid",
        arr_dollars=24_000,
        contract_start=start,
        renewal_date=_add_years(start, 1),
        csm_email="sofia@demo.cs-app.example",
        stages=[
            ("onboarding", start),
            ("activation", start + timedelta(days=28)),
            ("adoption", start + timedelta(days=56)),
        ],
        product_plan="Business",
        seats=40,
        health="watch",
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


def _techcorp_plan(
    ctx: DemoContext, account: Account, spec: AccountSpec, rng: random.Random
) -> None:
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


def _growthstack_plan(
    ctx: DemoContext, account: Account, spec: AccountSpec, rng: random.Random
) -> None:
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
    elif start < _add_years(ctx.today, -1):  # a multi-year customer: last year's plan is done
        end, final_status = _add_years(start, 1) - timedelta(days=20), "completed"
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


# --- usage data and 90 days of health history ----------------------------------------------
#
# Every account gets a usage story that matches its narrative (healthy adopters, accounts
# sliding or gone dark, growing and expanding ones, churned ones, new ones), produced as events
# and metric values through the ingestion service, exactly as the product would push them.
# The history is then replayed: the events of each past day are ingested and the health
# recompute runs as of that morning, so signals, snapshots, trends and what-changed read like
# 90 days of the real job (daily for the last 35 days, every 3 days before that).

HISTORY_DAYS = 90
DAILY_DAYS = 35  # daily snapshots for the last 35 days: 7- and 30-day what-changed, alerts
SPARSE_STEP = 3
USAGE_DAYS = HISTORY_DAYS + 30  # so the 30-day windows of the first snapshots are full
REPLAY_HOUR = time(6, 0)
FEATURES = (
    "ticket_routing",
    "dashboards",
    "automations",
    "knowledge_base",
    "reports",
    "integrations",
    "sla_policies",
    "mobile_app",
)
GATED_FEATURES = ("advanced_analytics", "sandbox_environments", "api_access", "custom_roles")
LOGINS_PER_DAY = {"SMB": 0.6, "Mid-Market": 1.1, "Enterprise": 1.5}
USERS_PER_ACCOUNT = {"SMB": 6, "Mid-Market": 12, "Enterprise": 25}
QUOTA_TARGETS = (80.0, 100.0)  # the first two growing accounts: near and at their quota
SPONSOR_CADENCE = {"high": 14, "medium": 30, "low": 60}
OVERRIDE_DAYS_AGO = 4
MAX_INGEST_BATCH = 5_000
OVERRIDE_REASON = (
    "The sponsor told us the renewal budget is frozen pending a procurement "
    "review; usage looks healthy but the renewal is at risk."
)


@dataclass
class UsageStory:
    """How an account used the product over the last ``USAGE_DAYS`` days. Offsets are days
    relative to today (negative = past)."""

    kind: str
    start: int  # first day with usage (the contract start, at most USAGE_DAYS ago)
    pivot: int | None = None  # the day the story turns (slide, recovery, expansion)
    end: int | None = None  # the last day with any usage (dark, churned)
    quota_target: float | None = None
    upgrade_intent: bool = False

    def live(self, t: int) -> bool:
        return t >= self.start and (self.end is None or t <= self.end) and self.kind != "silent"

    def progress(self, t: int) -> float:
        """0 at the pivot, 1 today."""
        if self.pivot is None or t < self.pivot:
            return 0.0
        return (t - self.pivot) / -self.pivot if self.pivot < 0 else 1.0

    def intensity(self, t: int) -> float:
        """Usage relative to a healthy account of the same size."""
        if not self.live(t):
            return 0.0
        k = self.kind
        if k == "new":
            return min(1.0, 0.3 + 0.7 * (t - self.start) / 30)
        if k == "growing":
            return 0.85 + 0.45 * (t + USAGE_DAYS) / USAGE_DAYS
        if k == "expanding":
            return 0.9 if t < self.pivot else 1.25
        if k == "sliding":
            return max(0.1, 1.0 - 0.9 * self.progress(t))
        if k == "recovering":
            return 0.35 + 0.65 * self.progress(t)
        if k == "steady":
            return 0.6
        if k == "poor":
            return 0.3
        if k == "churned":
            return 0.1 + 0.45 * (self.end - t) / (self.end + USAGE_DAYS)
        if k == "growthstack":
            return 0.95 if t < self.pivot else 0.6
        return 1.0  # healthy, techcorp, dark (until it went dark)

    def breadth(self, t: int) -> int:
        """How many distinct features are in use."""
        k = self.kind
        if k == "sliding":  # usage contracts to the core features, then to one
            return 6 if t < self.pivot else 2 if self.progress(t) < 0.4 else 1
        if k == "recovering":
            return 2 + round(3 * self.progress(t))
        if k == "churned":
            return 2 if t < self.end - 30 else 1
        if k == "new":
            return min(4, 1 + (t - self.start) // 7)
        if k == "growthstack":
            return 5 if t < self.pivot else 3
        if k == "expanding":
            return 6 if t < self.pivot else 7
        return {"growing": 7, "healthy": 6, "techcorp": 5, "dark": 5, "steady": 2, "poor": 1}[k]

    def sentiment(self, t: int, rng: random.Random) -> str:
        k = self.kind
        if k in ("steady", "growthstack", "dark"):
            return "neutral"
        if k in ("poor", "churned"):
            return "negative"
        if k == "sliding":
            return "positive" if t < self.pivot + 8 else "negative"
        if k == "recovering":
            return "negative" if t < self.pivot + 10 else "positive"
        return "neutral" if rng.random() < 0.25 else "positive"

    def nps(self, t: int, rng: random.Random) -> int:
        k = self.kind
        if k in ("healthy", "growing", "expanding"):
            return rng.choice((9, 10, 10))
        if k in ("steady", "growthstack", "new"):
            return rng.choice((7, 8))
        if k in ("poor", "churned"):
            return rng.choice((2, 3, 4, 5))
        if k == "sliding":
            return 9 if t < self.pivot else rng.choice((3, 4, 5, 6))
        if k == "recovering":
            return 4 if t < self.pivot else 8
        if k == "techcorp":
            return 9 if t < -30 else 7
        return 7  # dark: a passive answer before it went quiet

    def pipeline_freshness(self, t: int, rng: random.Random) -> float:
        """Days since the pipeline data was last updated (Mid-Market's weighted measure)."""
        k = self.kind
        if k in ("healthy", "growing", "expanding"):
            return float(rng.choice((1, 1, 2)))
        if k == "new":
            return 3.0 if t - self.start < 14 else 2.0
        if k == "steady":
            return float(rng.randint(4, 6))
        if k == "poor":
            return float(rng.randint(10, 15))
        if k == "churned":
            return float(8 + round(6 * (t + USAGE_DAYS) / (self.end + USAGE_DAYS)))
        if k == "sliding":
            return float(2 + round(7 * self.progress(t)))
        if k == "recovering":
            return float(9 - round(7 * self.progress(t)))
        if k == "growthstack":
            return float(2 + round(4 * self.progress(t)))
        return 2.0  # dark: fresh until the account went quiet, then nothing arrives


def _usage_stories(specs: list[AccountSpec], today: date) -> dict[str, UsageStory]:
    """Each account's story, from its lifecycle stage and how its plans went. Computed for
    the whole portfolio at once so the assignment does not depend on what is loaded."""
    stories: dict[str, UsageStory] = {}
    watch_kinds = cycle(("sliding", "steady", "sliding", "recovering", "steady"))
    poor_kinds = cycle(("dark", "poor", "dark", "sliding"))
    quota_targets = iter(QUOTA_TARGETS)
    for spec in specs:
        rng = random.Random(f"cs-app-demo-story:{spec.external_id}")
        start = max((spec.contract_start - today).days, -USAGE_DAYS)
        entered = (spec.stages[-1][1] - today).days
        if spec.external_id == "CRM-10001":
            story = UsageStory("techcorp", start)
        elif spec.external_id == "CRM-10002":
            story = UsageStory("growthstack", start, pivot=-40)
        elif spec.stage == "churned":
            story = UsageStory("churned", start, end=entered - rng.randint(3, 12))
        elif spec.stage == "expansion":
            story = UsageStory("expanding", start, pivot=entered)
        elif spec.stage == "onboarding":
            story = UsageStory("silent" if spec.health == "poor" else "new", start)
        elif spec.health == "good":
            story = UsageStory("growing" if spec.stage == "optimization" else "healthy", start)
        else:
            kind = next(watch_kinds if spec.health == "watch" else poor_kinds)
            if kind in ("sliding", "recovering") and start > -75:
                kind = "steady" if spec.health == "watch" else "poor"
            story = UsageStory(kind, start)
            if kind in ("sliding", "recovering"):
                story.pivot = -rng.randint(28, 40)
            elif kind == "dark":
                story.end = max(-rng.randint(32, 45), start + 5)
        if story.kind == "growing":
            story.quota_target = next(quota_targets, None)
            story.upgrade_intent = story.quota_target == max(QUOTA_TARGETS)
        stories[spec.external_id] = story
    return stories


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.randint(7, 18), rng.randint(0, 59)), tzinfo=UTC)


def _usage_data(
    spec: AccountSpec, story: UsageStory, now: datetime
) -> tuple[list[dict], list[dict]]:
    """The account's events and metric values, oldest first, none later than ``now``."""
    rng = random.Random(f"cs-app-demo-usage:{spec.external_id}")
    today = now.date()
    events: list[tuple[datetime, str, str | None, dict]] = []
    users = [
        f"user{n}@{spec.domain}"
        for n in range(1, min(spec.seats, USERS_PER_ACCOUNT[spec.segment]) + 1)
    ]
    features = list(FEATURES)
    rng.shuffle(features)

    def add(t: int, kind: str, properties: dict | None = None, user: str | None = None) -> None:
        events.append(
            (
                _moment(today + timedelta(days=t), rng),
                kind,
                user or rng.choice(users),
                properties or {},
            )
        )

    def count(rate: float) -> int:
        return int(rate) + (1 if rng.random() < rate - int(rate) else 0)

    for t in range(-USAGE_DAYS, 1):
        level = story.intensity(t)
        if level <= 0:
            continue
        weekday = (today + timedelta(days=t)).weekday() < 5
        factor = level * (1.0 if weekday else 0.2)
        active = users[: max(1, round(len(users) * min(1.0, level)))]
        for _ in range(count(LOGINS_PER_DAY[spec.segment] * factor)):
            add(t, "login", user=rng.choice(active))
        if rng.random() < 0.55 * factor:
            add(
                t,
                "feature_used",
                {"feature": rng.choice(features[: story.breadth(t)])},
                user=rng.choice(active),
            )

    last = story.end if story.end is not None else 0
    ticket_days = []
    t = story.start + rng.randint(3, 15)
    while t <= last:
        ticket_days.append(t)
        t += rng.randint(18, 28)
    if story.kind == "sliding" and story.pivot + 12 <= -4:
        ticket_days.append(rng.randint(story.pivot + 12, -4))
    elif story.kind == "recovering":
        ticket_days.append(rng.randint(-8, -3))
    if story.kind == "techcorp":  # the cutover: archived chat transcripts went missing
        ticket_days = [-58, -40, -21]
    for t in sorted(set(ticket_days)):
        if not story.live(t):
            continue
        sentiment = story.sentiment(t, rng)
        add(
            t,
            "support_ticket",
            {
                "sentiment": sentiment,
                "severity": "high" if sentiment == "negative" else "normal",
                "status": "open" if t >= -10 else "solved",
            },
        )
    if story.kind == "techcorp":
        for t in (-9, -4):
            add(
                t,
                "support_ticket",
                {
                    "sentiment": "negative",
                    "severity": "urgent",
                    "status": "open",
                    "subject": "Chat transcripts missing after migration",
                },
            )
    signed = (spec.contract_start - today).days
    for wave in (-75 + rng.randint(-4, 4), -12 + rng.randint(-3, 3)):  # quarterly surveys
        if story.live(wave) and wave - signed >= 30:  # customers for a month at least
            add(wave, "nps_response", {"score": story.nps(wave, rng)})
    if story.kind in ("growing", "expanding"):
        seat_days = (
            [story.pivot, story.pivot + 7]
            if story.kind == "expanding"
            else [-24 + rng.randint(0, 4), -9 + rng.randint(0, 4)]
        )
        for t in seat_days:
            size = max(2, round(spec.seats * rng.uniform(0.04, 0.12)))
            add(min(t, 0), "seat_added", {"count": size})
        for _ in range(rng.randint(2, 5)):
            add(-rng.randint(0, 5), "feature_gate_hit", {"feature": rng.choice(GATED_FEATURES)})
    if story.upgrade_intent:
        add(-3, "upgrade_viewed", {"to_plan": "Business"})
        add(-2, "upgrade_started", {"to_plan": "Business"})

    events.sort(key=lambda e: e[0])
    items = [
        {
            "id": f"demo-{spec.external_id}-{n}",
            "account": spec.external_id,
            "type": kind,
            "at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "user": user,
            "properties": properties,
        }
        for n, (moment, kind, user, properties) in enumerate(events, start=1)
        if moment <= now
    ]

    metrics: list[dict] = []
    for t in range(-USAGE_DAYS, 1):
        if not story.live(t):
            continue
        day = today + timedelta(days=t)
        if t % 7 == 0:
            used = spec.seats * min(1.1, max(0.05, 0.15 + 0.75 * story.intensity(t)))
            metrics.append(
                {
                    "account": spec.external_id,
                    "key": "seats_used",
                    "value": round(used),
                    "date": day,
                }
            )
            if story.quota_target is not None:
                share = 0.6 + 0.4 * (t + USAGE_DAYS) / USAGE_DAYS
                metrics.append(
                    {
                        "account": spec.external_id,
                        "key": "quota_used_pct",
                        "value": round(story.quota_target * share, 1),
                        "date": day,
                    }
                )
        if spec.segment == "Mid-Market" and t % 2 == 0:
            metrics.append(
                {
                    "account": spec.external_id,
                    "key": "pipeline_freshness_days",
                    "value": story.pipeline_freshness(t, rng),
                    "date": day,
                }
            )
    return items, metrics


def _replay_moments(now: datetime) -> list[datetime]:
    """Every 3 days from 90 days ago, daily for the last 35 days (06:00 UTC), then ``now``."""
    today = now.date()
    offsets = [*range(-HISTORY_DAYS, -DAILY_DAYS, SPARSE_STEP), *range(-DAILY_DAYS, 0)]
    moments = [
        datetime.combine(today + timedelta(days=o), REPLAY_HOUR, tzinfo=UTC) for o in offsets
    ]
    return [m for m in moments if m < now] + [now]


def _sponsor_contact_as_of(final: date, engagement: str, day: date) -> date:
    """When the sponsor had last been contacted on ``day``, given the latest contact and a
    cadence for their engagement (the contact row only keeps the latest date)."""
    if final <= day:
        return final
    cadence = SPONSOR_CADENCE.get(engagement, 30)
    return final - timedelta(days=cadence * -(-(final - day).days // cadence))


def _load_usage_and_history(ctx: DemoContext, specs: list[AccountSpec]) -> None:
    """Usage, metrics and a replayed health history for every demo account that has none
    (no snapshot before today); accounts that have one are left alone."""
    accounts = {
        a.external_id: a
        for a in db.session.scalars(
            select(Account).where(Account.external_id.in_([s.external_id for s in specs]))
        )
    }
    ids = [a.id for a in accounts.values()]
    with_history = set(
        db.session.scalars(
            select(HealthSnapshot.account_id)
            .distinct()
            .where(HealthSnapshot.account_id.in_(ids), HealthSnapshot.day < ctx.today)
        )
    )
    todo = [s for s in specs if accounts[s.external_id].id not in with_history]
    if not todo:
        return
    stories = _usage_stories(specs, ctx.today)
    events: list[dict] = []
    metrics: list[dict] = []
    for spec in todo:
        account_events, account_metrics = _usage_data(spec, stories[spec.external_id], ctx.now)
        events += account_events
        metrics += account_metrics
    events.sort(key=lambda item: (item["at"], item["id"]))
    metrics.sort(key=lambda item: (item["date"], item["account"], item["key"]))
    starts = {accounts[s.external_id].id: s.contract_start for s in todo}
    sponsors = _sponsor_timeline(list(starts))
    override_spec = _override_target(specs, stories, ctx.today)
    override_day = ctx.today - timedelta(days=OVERRIDE_DAYS_AGO)
    set_contacts: dict[int, date] = {}
    event_index = metric_index = 0
    moments = _replay_moments(ctx.now)
    for number, moment in enumerate(moments, start=1):
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        batch = []
        while event_index < len(events) and events[event_index]["at"] <= stamp:
            batch.append(events[event_index])
            event_index += 1
        day_metrics = []
        while metric_index < len(metrics) and metrics[metric_index]["date"] <= moment.date():
            day_metrics.append(metrics[metric_index])
            metric_index += 1
        for start in range(0, len(batch), MAX_INGEST_BATCH):
            _ingested(
                ctx,
                "usage events",
                ingest_events(batch[start : start + MAX_INGEST_BATCH], now=moment, react=False),
            )
        for start in range(0, len(day_metrics), MAX_INGEST_BATCH):
            _ingested(
                ctx,
                "metric values",
                ingest_metrics(day_metrics[start : start + MAX_INGEST_BATCH], now=moment),
            )
        _set_sponsor_contacts(sponsors, moment.date(), set_contacts)
        in_scope = [account_id for account_id, start in starts.items() if start <= moment.date()]
        if in_scope:
            recompute(now=moment, account_ids=in_scope)
        if override_spec is not None and override_spec in todo and moment.date() == override_day:
            _demo_override(ctx, accounts[override_spec.external_id], moment)
        if number % 10 == 0 or number == len(moments):
            ctx.echo(f"  health history {number}/{len(moments)}")
    if _set_sponsor_contacts(sponsors, None, set_contacts):  # back to the latest dates
        recompute(now=ctx.now, account_ids=list(starts))
    if sponsors:  # contacts loaded during the replay must not keep a past date in memory
        db.session.scalars(
            select(Contact)
            .where(Contact.id.in_([s[0] for s in sponsors]))
            .execution_options(populate_existing=True)
        ).all()
    db.session.execute(
        delete(PendingRecompute).where(
            PendingRecompute.account_id.in_(list(starts)), PendingRecompute.since <= ctx.now
        )
    )
    ctx.count(
        "health snapshots",
        db.session.scalar(
            select(func.count(HealthSnapshot.id)).where(HealthSnapshot.account_id.in_(list(starts)))
        ),
    )


def _ingested(ctx: DemoContext, what: str, result: BulkResult) -> None:
    if result.errors:  # the demo's own data: a refusal is a bug here, not bad input
        raise RuntimeError(f"demo {what} refused: {result.errors[:3]}")
    if result.accepted:
        ctx.count(what, result.accepted)


def _sponsor_timeline(account_ids: list[int]) -> list[Any]:
    """Active executive sponsors with a last contact date: (contact id, date, engagement)."""
    return list(
        db.session.execute(
            select(Contact.id, Contact.last_contact_on, Contact.engagement)
            .where(
                Contact.account_id.in_(account_ids),
                Contact.role == "executive_sponsor",
                Contact.status == "active",
                Contact.last_contact_on.is_not(None),
            )
            .order_by(Contact.id)
        ).all()
    )


def _set_sponsor_contacts(sponsors: list[Any], day: date | None, current: dict[int, date]) -> bool:
    """Set each sponsor's last contact date as it was on ``day`` (``None``: the latest), so a
    past recompute reads "days since sponsor contact" as it was then. One executemany of the
    rows that change."""
    changes = []
    for contact_id, final, engagement in sponsors:
        value = final if day is None else _sponsor_contact_as_of(final, engagement, day)
        if current.get(contact_id, final) != value:
            changes.append({"contact": contact_id, "contact_day": value})
            current[contact_id] = value
    if changes:
        table = Contact.__table__
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("contact"))
            .values(last_contact_on=bindparam("contact_day")),
            changes,
        )
    return bool(changes)


def _override_target(
    specs: list[AccountSpec], stories: dict[str, UsageStory], today: date
) -> AccountSpec | None:
    """A healthy-looking account with a CSM and a renewal within 60 days."""
    return next(
        (
            s
            for s in specs
            if stories[s.external_id].kind == "healthy"
            and s.stage == "renewal"
            and s.csm_email
            and 0 < (s.renewal_date - today).days <= 60
        ),
        None,
    )


def _demo_override(ctx: DemoContext, account: Account, moment: datetime) -> None:
    if (
        db.session.scalar(
            select(HealthOverride.id).where(HealthOverride.account_id == account.id).limit(1)
        )
        is not None
    ):
        return
    lead = ctx.users[LEAD_EMAIL]
    when = datetime.combine(moment.date(), time(11, 30), tzinfo=UTC)
    set_override(
        account,
        {
            "band": "at_risk",
            "reason": OVERRIDE_REASON,
            "expires_on": ctx.today + timedelta(days=30),
        },
        user=lead,
        now=when,
    )
    ctx.count("health overrides")
