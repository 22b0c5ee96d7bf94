"""Compile a rule condition to a SQL boolean over ``account_signals``.

SQL's own three-valued logic gives exactly the semantics of ``triggers.rules.evaluate``; a test
runs both on generated trees and accounts. ``metric.<key>`` reads the account's latest value of
that metric through a correlated subquery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, not_, or_, select

from cs_app.accounts.signal_catalog import METRIC_PREFIX
from cs_app.accounts.usage_models import AccountSignals, MetricValue


def signal_column(key: str):
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


def compile_condition(node: Mapping):
    """A SQL expression that is true exactly for the accounts the condition matches."""
    if "all" in node:
        return and_(*(compile_condition(child) for child in node["all"]))
    if "any" in node:
        return or_(*(compile_condition(child) for child in node["any"]))
    if "not" in node:
        return not_(compile_condition(node["not"]))
    return clause(signal_column(node["signal"]), node["op"], node.get("value"))
