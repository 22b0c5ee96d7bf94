"""factory_boy factories for the models; they flush into the test's session."""

from __future__ import annotations

from datetime import UTC, date, datetime

import factory
from factory.alchemy import SQLAlchemyModelFactory
from werkzeug.security import generate_password_hash

from cs_app.accounts.models import Account, Contact
from cs_app.auth.models import User
from cs_app.extensions import db
from cs_app.plans.models import ActionItem, Milestone, Outcome, Plan, Risk, Stakeholder
from cs_app.triggers.alerts.models import Alert
from cs_app.triggers.pools.models import CsmPool, PoolMember, QueueItem
from cs_app.triggers.rules.models import Rule, RuleFiring
from cs_app.triggers.touchpoints.models import Touchpoint, TouchpointTemplate

TEST_PASSWORD = "password123"
_TEST_HASH = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    role = "csm"
    password_hash = _TEST_HASH
    active = True


class AccountFactory(BaseFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"ACC-{n:05d}")
    name = factory.Sequence(lambda n: f"Account {n:05d}")
    segment = "Mid-Market"
    engagement_model = "hybrid"
    arr_minor = 2_400_000
    currency = "USD"
    contract_start = date(2026, 1, 15)
    renewal_date = date(2027, 1, 15)
    lifecycle_stage = "adoption"
    industry = "Software"


class ContactFactory(BaseFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    role = "champion"
    influence = "champion"
    engagement = "high"
    last_contact_on = date(2026, 11, 10)
    status = "active"


class PlanFactory(BaseFactory):
    class Meta:
        model = Plan

    account = factory.SubFactory(AccountFactory)
    title = factory.Sequence(lambda n: f"Success plan {n}")
    plan_type = "hybrid"
    status = "active"
    owner = factory.SubFactory(UserFactory)
    review_cadence = "monthly"
    next_review_on = date(2026, 12, 15)


class OutcomeFactory(BaseFactory):
    class Meta:
        model = Outcome

    plan = factory.SubFactory(PlanFactory)
    title = "Reduce resolution time"
    metric = "Average resolution time"
    unit = "h"
    baseline = 18.0
    target = 8.0
    current_value = 13.0
    target_date = date(2027, 5, 1)
    status = "on_track"


class MilestoneFactory(BaseFactory):
    class Meta:
        model = Milestone

    plan = factory.SubFactory(PlanFactory)
    phase = "implementation"
    title = factory.Sequence(lambda n: f"Milestone {n}")
    target_date = date(2026, 12, 1)
    status = "planned"
    owner_user = factory.SelfAttribute("plan.owner")


class RiskFactory(BaseFactory):
    class Meta:
        model = Risk

    plan = factory.SubFactory(PlanFactory)
    title = factory.Sequence(lambda n: f"Risk {n}")
    category = "integration_complexity"
    likelihood = "medium"
    impact = "high"
    status = "open"
    owner_user = factory.SelfAttribute("plan.owner")


class ActionFactory(BaseFactory):
    class Meta:
        model = ActionItem

    plan = factory.SubFactory(PlanFactory)
    title = factory.Sequence(lambda n: f"Action {n}")
    due_date = date(2026, 12, 1)
    status = "open"
    owner_user = factory.SelfAttribute("plan.owner")


class StakeholderFactory(BaseFactory):
    class Meta:
        model = Stakeholder

    plan = factory.SubFactory(PlanFactory)
    contact = factory.SubFactory(ContactFactory, account=factory.SelfAttribute("..plan.account"))
    role = "champion"


FACTORY_NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class RuleFactory(BaseFactory):
    class Meta:
        model = Rule

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = "risk"
    enabled = True
    mode = "scheduled"
    condition = factory.LazyFunction(
        lambda: {"all": [{"signal": "days_since_last_login", "op": ">", "value": 14}]}
    )
    actions = factory.LazyFunction(list)
    once_policy = "while_open"
    cooldown_days = 0


class RuleFiringFactory(BaseFactory):
    class Meta:
        model = RuleFiring

    rule = factory.SubFactory(RuleFactory)
    account = factory.SubFactory(AccountFactory)
    fired_at = FACTORY_NOW
    status = "open"
    trigger = "schedule"
    matched = factory.LazyFunction(lambda: {"days_since_last_login": 20})


class PoolFactory(BaseFactory):
    class Meta:
        model = CsmPool

    key = factory.Sequence(lambda n: f"pool-{n}")
    name = factory.Sequence(lambda n: f"Pool {n}")
    strategy = "least_loaded"
    default_sla_hours = 24


class PoolMemberFactory(BaseFactory):
    class Meta:
        model = PoolMember

    pool = factory.SubFactory(PoolFactory)
    user = factory.SubFactory(UserFactory)
    position = factory.Sequence(lambda n: n)
    capacity = 10
    segments = factory.LazyFunction(list)
    away = False


class QueueItemFactory(BaseFactory):
    class Meta:
        model = QueueItem

    pool = factory.SubFactory(PoolFactory)
    account = factory.SubFactory(AccountFactory)
    title = factory.Sequence(lambda n: f"Queue item {n}")
    priority = "normal"
    status = "open"
    created_at = FACTORY_NOW
    sla_due_at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class TouchpointTemplateFactory(BaseFactory):
    class Meta:
        model = TouchpointTemplate

    key = factory.Sequence(lambda n: f"template-{n}")
    name = factory.Sequence(lambda n: f"Template {n}")
    channel = "email"
    subject = "Hello {{ account.name }}"
    body = "Hi {{ contact.name }}, this is {{ csm.name }}."


class TouchpointFactory(BaseFactory):
    class Meta:
        model = Touchpoint

    account = factory.SubFactory(AccountFactory)
    template = factory.SubFactory(TouchpointTemplateFactory)
    channel = "email"
    recipient_kind = "primary_contact"
    recipient_email = factory.Sequence(lambda n: f"recipient{n}@customer.example")
    recipient_name = "Recipient"
    message_id = factory.Sequence(lambda n: f"<factory-{n}@cs-app.test>")
    due_at = FACTORY_NOW
    next_attempt_at = FACTORY_NOW
    status = "scheduled"
    created_at = FACTORY_NOW


class AlertFactory(BaseFactory):
    class Meta:
        model = Alert

    user = factory.SubFactory(UserFactory)
    kind = "sla_breach"
    dedupe_key = factory.Sequence(lambda n: f"factory-{n}")
    title = factory.Sequence(lambda n: f"Alert {n}")
    created_at = FACTORY_NOW
