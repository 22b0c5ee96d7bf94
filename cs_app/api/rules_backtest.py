"""A rule's backtest over the API: replay it over the stored history with no side effects.

Any token may run one (it only reads, like a preview). The answer is
``triggers.rules.backtest.RuleBacktest.as_dict``: firings by day, the accounts it fired for with
their dates and what happened to them afterwards, the firings its once-only policy would have
suppressed, the load on each member of the pool it routes to, and which signals were replayed
from history and which at their current value.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import jsonify
from pydantic import Field

from cs_app.api.parsing import parse_body
from cs_app.api.responses import Out
from cs_app.api.routing import api_route
from cs_app.api.schemas import Body, Whole
from cs_app.db_types import utcnow
from cs_app.triggers.rules import service
from cs_app.triggers.rules.backtest import ACCOUNT_LIST_LIMIT, MAX_DAYS, backtest_rule

TAG = "Rules"
Band = Literal["healthy", "at_risk", "critical", "insufficient_data"]


class RuleBacktestRequest(Body):
    days: Whole = Field(
        default=90, ge=1, le=MAX_DAYS, description="How many days to replay, today included."
    )


class FiringsOnDay(Out):
    day: date
    firings: int


class BacktestAccount(Out):
    external_id: str
    name: str
    fired_on: list[date] = Field(description="The days the rule would have fired for it.")
    outcome: Literal["churned", "expanded"] | None = Field(
        description="Churned or entered expansion after the first firing (stage history)."
    )
    outcome_on: date | None
    band_then: Band | None = Field(description="The band on the day of the first firing.")
    band_now: Band | None = Field(description="The band of the latest snapshot.")
    band_move: Literal["improved", "unchanged", "worsened", "unknown"]


class MemberLoadOut(Out):
    user_email: str
    name: str
    capacity: int
    away: bool = Field(description="Away now (or skipped by this pool): takes no items.")
    assigned: int = Field(description="Items the rule would have given this member.")
    peak_open: int = Field(description="The most of them open at once.")


class PoolLoadOut(Out):
    key: str
    found: bool = Field(description="False when no pool has this key any more.")
    unassigned: int = Field(description="Items nobody could have taken (all away or full).")
    members: list[MemberLoadOut]


class Outcomes(Out):
    churned: int
    expanded: int


class OutcomeRates(Out):
    churned: float | None
    expanded: float | None


class BandMoves(Out):
    improved: int
    unchanged: int
    worsened: int
    unknown: int


class RuleBacktestOut(Out):
    rule_id: int
    mode: Literal["scheduled", "event"]
    days: int
    start: date
    end: date
    replayed: int = Field(
        description="Account-days (scheduled rule) or events (event rule) evaluated."
    )
    accounts_replayed: int
    firings: int
    suppressed: int = Field(
        description="Times an account matched again but the once-only policy refused it."
    )
    skipped_churned: int = Field(
        description="Matching account-days (or events) of churned accounts, skipped because "
        "the rule does not target churned accounts (include_churned)."
    )
    accounts_fired: int
    firings_by_day: list[FiringsOnDay] = Field(description="Days with firings only.")
    accounts: list[BacktestAccount] = Field(
        description=f"By first firing; at most {ACCOUNT_LIST_LIMIT} (accounts_fired counts all)."
    )
    outcomes: Outcomes
    outcome_rates: OutcomeRates = Field(description="Shares of the accounts it fired for.")
    base_rates: OutcomeRates = Field(
        description="Shares of every replayed account that churned or expanded in the window."
    )
    band_moves: BandMoves
    pool: PoolLoadOut | None = Field(
        description="The simulated routing, when the rule routes to a pool."
    )
    signals_with_history: list[str]
    signals_at_current_value: list[str] = Field(
        description="Signals the condition reads that have no history: their current value "
        "was used on every replayed day."
    )


@api_route(
    "/rules/<int:rule_id>/backtest",
    "POST",
    tag=TAG,
    summary="Replay a rule over the stored history",
    description="Evaluates the rule on every account-day with a health snapshot in the "
    "last `days` days (event rules: on the stored events of their type), "
    "applies its once-only policy, simulates its routing and reports what "
    "happened to the accounts afterwards. Nothing is saved. Send `{}` for "
    "90 days.",
    request=RuleBacktestRequest,
    response=RuleBacktestOut,
)
def backtest_rule_api(rule_id: int):
    rule = service.get_rule(rule_id)
    body = parse_body(RuleBacktestRequest)
    return jsonify(backtest_rule(rule, days=body.days, now=utcnow()).as_dict())
