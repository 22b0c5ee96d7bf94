"""What the demo portfolio is made of, before anything touches the database: an
``AccountSpec`` per account (company, contract, lifecycle stages, CSM, how well its plans have
gone) with its ``ContactSpec`` people.

The seed guide's two worked examples, TechCorp Inc. and GrowthStack Marketing, are written out
by hand; the 42 generated accounts are drawn from one ``random.Random(PORTFOLIO_SEED)`` so
that every segment, engagement model and lifecycle stage is covered the same way on every
load. The draws happen in a fixed order: any change here changes every account after it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cs_app.demo.names import (
    FIRST_NAMES,
    LAST_NAMES,
    NAME_KINDS,
    NAME_PREFIXES,
    NAME_SUFFIXES,
    PREVIOUS_SOLUTIONS,
    PRIORITIES,
    PURCHASE_TRIGGERS,
    TITLES,
    USE_CASES,
)
from cs_app.demo.people import CSMS_BY_SEGMENT

TECHCORP = "CRM-10001"
GROWTHSTACK = "CRM-10002"
PORTFOLIO_SEED = 20261121
# three SMB accounts on a trial of the next plan: ending in 3 days, tomorrow and today
TRIAL_DAYS_LEFT = (3, 1, 0)
INFLUENCE_FOR_ROLE = {
    "executive_sponsor": "decision_maker",
    "champion": "champion",
    "technical_admin": "influencer",
    "end_user": "user",
    "billing": "influencer",
}
ROLE_ORDER = ("champion", "executive_sponsor", "technical_admin", "end_user", "billing")


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


# --- the generated accounts --------------------------------------------------------------------


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
    while add_years(start, years) <= today:
        years += 1
    return add_years(start, years)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def generated_specs(today: date) -> list[AccountSpec]:
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
            start = add_years(today + timedelta(days=days), -years)
        elif stage == "expansion":
            start = today - timedelta(days=rng.randint(300, 620))
        else:  # churned 12–55 days ago, without a renewal (inside the health history)
            days = rng.randint(10, 75)
            start = add_years(today - timedelta(days=12 + (days - 10) * 43 // 65), -1)
        renewal = add_years(start, 1) if stage == "churned" else _anniversary_after(start, today)
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


def techcorp_spec(today: date) -> AccountSpec:
    start = today - timedelta(days=105)
    return AccountSpec(
        external_id=TECHCORP,
        name="TechCorp Inc.",
        domain="techcorp.example",
        industry="B2B SaaS",
        employees=500,
        segment="Enterprise",
        engagement_model="high-touch",
        arr_dollars=85_000,
        contract_start=start,
        renewal_date=add_years(start, 1),
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


def growthstack_spec(today: date) -> AccountSpec:
    start = today - timedelta(days=150)
    return AccountSpec(
        external_id=GROWTHSTACK,
        name="GrowthStack Marketing",
        domain="growthstack.example",
        industry="Marketing Services",
        employees=45,
        segment="Mid-Market",
        engagement_model="hybrid",
        arr_dollars=24_000,
        contract_start=start,
        renewal_date=add_years(start, 1),
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
