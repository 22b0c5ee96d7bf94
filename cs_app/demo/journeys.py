"""The demo's trigger stories: the pools' members, two accounts at the start of their journey,
and today's events that the event-driven rules react to — so that, once the demo is loaded,
every shipped rule has fired on a demo account built for it.

The rest of the portfolio (``specs.py``) already holds the accounts most scheduled rules match
(dark and sliding accounts, renewals 9–88 days out, accounts at 80 % and 100 % of their quota,
trials ending in 3 days, 1 day and today). This module adds what it does not: a customer
signed two days ago who has not used a feature yet, and one at its 30-day mark.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import exists, select

from cs_app.accounts.ingest import ingest_events
from cs_app.accounts.models import Account
from cs_app.accounts.usage_models import UsageEvent
from cs_app.auth.models import User
from cs_app.demo.people import LEAD_EMAIL
from cs_app.demo.specs import GROWTHSTACK, AccountSpec, ContactSpec, add_years
from cs_app.extensions import db
from cs_app.triggers.pools.models import CsmPool, PoolMember

# pool key → (member email, capacity, segments covered)
POOL_MEMBERS: dict[str, list[tuple[str, int, list[str]]]] = {
    "csm-pool": [
        ("maya@demo.cs-app.example", 6, ["Enterprise"]),
        ("daniel@demo.cs-app.example", 8, ["Enterprise", "Mid-Market"]),
        ("sofia@demo.cs-app.example", 8, ["Mid-Market", "SMB"]),
        ("tom@demo.cs-app.example", 8, ["SMB"]),  # away: routing skips him
    ],
    "renewal-specialists": [
        ("daniel@demo.cs-app.example", 5, []),
        ("sofia@demo.cs-app.example", 5, []),
    ],
}
NEW_CUSTOMER = "CRM-20001"  # signed two days ago; its first feature arrives today
THIRTY_DAY_CUSTOMER = "CRM-20002"  # at its 30-day mark: the check-in survey


def journey_specs(today: date) -> list[AccountSpec]:
    """Two pooled SMB customers early in their journey."""
    new_start = today - timedelta(days=2)
    thirty_start = today - timedelta(days=33)
    return [
        AccountSpec(
            external_id=NEW_CUSTOMER,
            name="Brightline Studio",
            domain="brightline.example",
            industry="Design Agency",
            employees=18,
            segment="SMB",
            engagement_model="low-touch",
            arr_dollars=6_000,
            contract_start=new_start,
            renewal_date=add_years(new_start, 1),
            csm_email=None,
            stages=[("onboarding", new_start)],
            product_plan="Starter",
            seats=8,
            health="poor",  # "poor" in onboarding = no usage yet: it has not started
            context={"primary_use_case": "Client project handover between designers."},
            contacts=[
                ContactSpec("Ines Duarte", "Studio Manager", "champion", "high", 1),
                ContactSpec("Paul Lemaire", "Founder", "executive_sponsor", "medium", 2),
            ],
        ),
        AccountSpec(
            external_id=THIRTY_DAY_CUSTOMER,
            name="Northwind Analytics",
            domain="northwind-analytics.example",
            industry="Data Consulting",
            employees=60,
            segment="SMB",
            engagement_model="low-touch",
            arr_dollars=9_500,
            contract_start=thirty_start,
            renewal_date=add_years(thirty_start, 1),
            csm_email=None,
            stages=[
                ("onboarding", thirty_start),
                ("activation", thirty_start + timedelta(days=21)),
            ],
            product_plan="Team",
            seats=15,
            health="good",
            context={"primary_use_case": "Shared reporting for client engagements."},
            contacts=[
                ContactSpec("Hannah Sato", "Operations Lead", "champion", "high", 3),
                ContactSpec(
                    "Victor Adeyemi", "Managing Director", "executive_sponsor", "medium", 12
                ),
            ],
        ),
    ]


def ensure_pool_members(users: dict[str, User]) -> int:
    """Put the demo CSMs into the shipped pools (once); the lead leads both."""
    added = 0
    lead = users[LEAD_EMAIL]
    pools = {
        p.key: p
        for p in db.session.scalars(select(CsmPool).where(CsmPool.key.in_(list(POOL_MEMBERS))))
    }
    for key, members in POOL_MEMBERS.items():
        pool = pools.get(key)
        if pool is None:  # a lead deleted the shipped pool: nothing to fill
            continue
        pool.lead_id = pool.lead_id or lead.id
        present = {m.user_id for m in pool.members}
        for position, (email, capacity, segments) in enumerate(members):
            user = users[email]
            if user.id in present:
                continue
            pool.members.append(
                PoolMember(user_id=user.id, position=position, capacity=capacity, segments=segments)
            )
            added += 1
    db.session.flush()
    return added


def todays_events(now: datetime) -> list[dict]:
    """The events the event-driven rules react to, each on the account it was meant for:
    Brightline's first feature, a severity-urgent ticket at GrowthStack, a premium-feature
    click and new seats at the growing accounts. Ids are fixed, so loading the demo again
    finds them duplicates and fires nothing twice."""
    stamp = (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    growing = _growing_accounts()
    events = [
        {
            "id": "demo-journey-first-login",
            "account": NEW_CUSTOMER,
            "type": "login",
            "at": stamp,
            "user": "ines.duarte",
        },
        {
            "id": "demo-journey-first-feature",
            "account": NEW_CUSTOMER,
            "type": "feature_used",
            "at": stamp,
            "user": "ines.duarte",
            "properties": {"feature": "ticket_routing"},
        },
        {
            "id": "demo-journey-escalation",
            "account": GROWTHSTACK,
            "type": "support_ticket",
            "at": stamp,
            "user": "rachel.nguyen",
            "properties": {
                "severity": "urgent",
                "sentiment": "negative",
                "subject": "Client health export fails before the board meeting",
            },
        },
    ]
    if growing:
        events.append(
            {
                "id": "demo-journey-gate",
                "account": growing[0],
                "type": "feature_gate_hit",
                "at": stamp,
                "user": "admin",
                "properties": {"feature": "advanced_analytics"},
            }
        )
        events.append(
            {
                "id": "demo-journey-seats",
                "account": growing[-1],
                "type": "seat_added",
                "at": stamp,
                "user": "admin",
                "properties": {"count": 5},
            }
        )
    return events


def _growing_accounts() -> list[str]:
    """Accounts with usage in their last week and the most seats: who would click a premium
    feature or invite teammates today."""
    return list(
        db.session.scalars(
            select(Account.external_id)
            .where(
                Account.lifecycle_stage.in_(("optimization", "expansion")),
                exists().where(UsageEvent.account_id == Account.id),
            )
            .order_by(Account.seats_purchased.desc(), Account.external_id)
            .limit(2)
        )
    )


def play_todays_events(now: datetime) -> int:
    result = ingest_events(todays_events(now), now=now)
    if result.errors:  # the demo's own data: a refusal is a bug here
        raise RuntimeError(f"demo journey events refused: {result.errors}")
    return result.accepted
