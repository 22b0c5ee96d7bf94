"""The once-only policy in SQL (``evaluation.refused_by_policy``) agrees with
``rules.may_fire`` on generated firing histories, boundaries included: the cooldown's last
moment, the midnight a renewal cycle starts, renewals years ahead or long past, no renewal."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import literal, select

from cs_app.accounts.models import Account
from cs_app.extensions import db
from cs_app.triggers.rules.evaluation import refused_by_policy
from cs_app.triggers.rules.rules import POLICIES, PreviousFiring, may_fire
from tests.factories import AccountFactory, RuleFactory, RuleFiringFactory

RENEWAL_OFFSETS = (
    None,
    -800,
    -400,
    -366,
    -365,
    -364,
    -1,
    0,
    1,
    2,
    100,
    364,
    365,
    366,
    729,
    730,
    731,
    1100,
)
COOLDOWNS = (0, 1, 7, 30)
MICRO = timedelta(microseconds=1)


def cycle_start(renewal: date | None, now: datetime) -> datetime:
    if renewal is None:
        return now - timedelta(days=365)
    start = datetime.combine(renewal - timedelta(days=365), datetime.min.time(), tzinfo=UTC)
    while start > now:
        start -= timedelta(days=365)
    return start


def moments(rng: random.Random, renewal: date | None, now: datetime) -> list[datetime]:
    """Firing times that sit on and beside every edge the policies draw."""
    start = cycle_start(renewal, now)
    edges = [start, start - MICRO, start + MICRO, start - timedelta(days=1)]
    for days in COOLDOWNS:
        edge = now - timedelta(days=days)
        edges += [edge, edge - MICRO, edge + MICRO]
    edges += [
        now + timedelta(hours=2),
        now - timedelta(days=rng.randint(0, 900), seconds=rng.randint(0, 86_399)),
    ]
    return edges


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_policy_agrees_with_may_fire(app, now, seed):
    rng = random.Random(seed)
    rule = RuleFactory(enabled=False)
    expected_inputs: dict[int, tuple[PreviousFiring | None, date | None]] = {}
    for index in range(60):
        offset = RENEWAL_OFFSETS[index % len(RENEWAL_OFFSETS)]
        renewal = None if offset is None else now.date() + timedelta(days=offset)
        account = AccountFactory(renewal_date=renewal, contract_start=None)
        history = sorted(rng.sample(moments(rng, renewal, now), rng.randint(0, 3)))
        previous = None
        for position, fired_at in enumerate(history):
            is_open = position == len(history) - 1 and rng.random() < 0.3
            RuleFiringFactory(
                rule=rule,
                account=account,
                fired_at=fired_at,
                status="open" if is_open else "closed",
            )
            previous = PreviousFiring(fired_at, is_open)
        expected_inputs[account.id] = (previous, renewal)
    db.session.flush()

    for policy in POLICIES:
        for cooldown in COOLDOWNS if policy == "cooldown" else (0,):
            allowed_sql = set(
                db.session.scalars(
                    select(Account.id).where(
                        Account.id.in_(list(expected_inputs)),
                        ~refused_by_policy(
                            literal(rule.id),
                            policy,
                            cooldown,
                            account_id=Account.id,
                            renewal_date=Account.renewal_date,
                            now=now,
                        ),
                    )
                )
            )
            allowed_python = {
                account_id
                for account_id, (previous, renewal) in expected_inputs.items()
                if may_fire(
                    policy, previous, now=now, cooldown_days=cooldown, renewal_date=renewal
                )[0]
            }
            assert allowed_sql == allowed_python, (policy, cooldown)


def test_each_policy_refuses_something_in_the_generated_histories(app, now):
    """The generator is not vacuous: every policy both allows and refuses some account."""
    rng = random.Random(4)
    rule = RuleFactory(enabled=False)
    accounts = []
    for index in range(40):
        offset = RENEWAL_OFFSETS[index % len(RENEWAL_OFFSETS)]
        renewal = None if offset is None else now.date() + timedelta(days=offset)
        account = AccountFactory(renewal_date=renewal)
        if index % 4:
            RuleFiringFactory(
                rule=rule,
                account=account,
                status="open" if index % 4 == 1 else "closed",
                fired_at=rng.choice(moments(rng, renewal, now)),
            )
        accounts.append(account.id)
    db.session.flush()
    for policy in POLICIES:
        allowed = set(
            db.session.scalars(
                select(Account.id).where(
                    Account.id.in_(accounts),
                    ~refused_by_policy(
                        literal(rule.id),
                        policy,
                        7,
                        account_id=Account.id,
                        renewal_date=Account.renewal_date,
                        now=now,
                    ),
                )
            )
        )
        assert 0 < len(allowed) < len(accounts), policy


def test_an_unknown_policy_is_refused(app, now):
    with pytest.raises(ValueError, match="unknown once-only policy"):
        refused_by_policy(
            literal(1),
            "sometimes",
            0,
            account_id=Account.id,
            renewal_date=Account.renewal_date,
            now=now,
        )
