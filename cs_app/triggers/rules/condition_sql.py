"""Compile a rule condition to a SQL boolean: over ``account_signals`` by default, or over any
columns a caller maps the signals to (the rule backtest's daily history).

SQL's own three-valued logic gives exactly the semantics of ``triggers.rules.rules.evaluate``;
a test runs both on generated trees and accounts. ``metric.<key>`` reads the account's latest
value of that metric through a correlated subquery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, not_, or_, select

from cs_app.accounts.signal_catalog import METRIC_PREFIX
from cs_app.accounts.usage_models import AccountSignals, MetricValue


def signal_column(key: str):
    """The current value of signal ``key``: its ``account_signals`` column, or for
    ``metric.<key>`` the account's latest value of that metric."""
    signals = AccountSignals.__table__
    if key.startswith(METRIC_PREFIX):
        metric = MetricValue.__table__
        return (
            select(metric.c.value)
            .where(
                metric.c.account_id == signals.c.account_id,
                metric.c.metric_key == key[len(METRIC_PREFIX) :],
            )
            .order_by(metric.c.measured_on.desc())
            .limit(1)
            .correlate(signals)
            .scalar_subquery()
        )
    return signals.c[key]


def clause(column, op: str, value: Any):
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == "in":
        return column.in_(value)
    if op == "not_in":
        return column.not_in(value)
    if op == "between":
        return column.between(value[0], value[1])
    if op == "is_null":
        return column.is_(None)
    if op == "not_null":
        return column.is_not(None)
    raise ValueError(f"unknown operator {op!r}")


def compile_condition(node: Mapping, column_for: Callable[[str], Any] = signal_column):
    """A SQL expression that is true exactly for the rows the condition matches.
    ``column_for(key)`` is where a signal's (or ``metric.<key>``'s) value comes from: by
    default the account's current signals and latest metrics (``signal_column``); the
    backtest maps them to the columns of its day-by-day history."""
    if "all" in node:
        return and_(*(compile_condition(child, column_for) for child in node["all"]))
    if "any" in node:
        return or_(*(compile_condition(child, column_for) for child in node["any"]))
    if "not" in node:
        return not_(compile_condition(node["not"], column_for))
    return clause(column_for(node["signal"]), node["op"], node.get("value"))
