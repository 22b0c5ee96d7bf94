"""Pure rule semantics: validating a condition tree, evaluating it for one account, and the
once-only policy. No Flask, no SQLAlchemy.

A condition is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": node}`` or a clause
``{"signal": S, "op": OP, "value": V}``. Evaluation is three-valued like SQL: a comparison with
a missing value is *unknown*, ``not unknown`` is unknown, and only *true* matches — so the
Python evaluation and the SQL compilation agree on every account.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "in", "not_in", "between", "is_null", "not_null")
ORDERING = (">", ">=", "<", "<=", "between")
MAX_DEPTH = 8
MAX_CLAUSES = 50

SignalInfo = Callable[[str], tuple[str, Sequence[str]] | None]  # key → (kind, categories)


class ConditionError(ValueError):
    """A malformed condition; ``path`` names the bad node, e.g. ``all[1].any[0]``."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(
    kind: str, categories: Sequence[str], op: str, value: Any, path: str, signal: str
) -> None:
    def one(item: Any) -> None:
        if kind == "number" and not _is_number(item):
            raise ConditionError(path, f"{signal} is a number; {item!r} is not")
        if kind == "boolean" and not isinstance(item, bool):
            raise ConditionError(path, f"{signal} is true or false; {item!r} is not")
        if kind == "category":
            if not isinstance(item, str):
                raise ConditionError(path, f"{signal} is a category; {item!r} is not text")
            if categories and item not in categories:
                raise ConditionError(
                    path, f"{item!r} is not a value of {signal} ({', '.join(categories)})"
                )

    if op in ("is_null", "not_null"):
        if value is not None:
            raise ConditionError(path, f"{op} takes no value")
        return
    if kind != "number" and op in ORDERING:
        raise ConditionError(path, f"{op} compares numbers; {signal} is a {kind}")
    if kind == "boolean" and op in ("in", "not_in"):
        raise ConditionError(path, f"use = or != with {signal} (true or false)")
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ConditionError(path, f"{op} needs a non-empty list of values")
        for item in value:
            one(item)
        return
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ConditionError(path, "between needs [low, high]")
        one(value[0])
        one(value[1])
        if value[0] > value[1]:
            raise ConditionError(path, "between needs low ≤ high")
        return
    one(value)


def validate_condition(tree: Any, signal_info: SignalInfo, path: str = "condition") -> int:
    """Raise ConditionError naming the first bad node; returns the number of clauses."""
    clauses = _validate(tree, signal_info, path, 0)
    if clauses > MAX_CLAUSES:
        raise ConditionError(path, f"a rule holds at most {MAX_CLAUSES} clauses")
    return clauses


def _validate(node: Any, signal_info: SignalInfo, path: str, depth: int) -> int:
    if depth > MAX_DEPTH:
        raise ConditionError(path, f"conditions nest at most {MAX_DEPTH} deep")
    if not isinstance(node, dict):
        raise ConditionError(path, "each node is an object: all, any, not or a clause")
    groups = [key for key in ("all", "any", "not") if key in node]
    if groups:
        if len(node) != 1:
            raise ConditionError(path, f"a {groups[0]} node holds only {groups[0]}")
        key = groups[0]
        if key == "not":
            return _validate(node["not"], signal_info, f"{path}.not", depth + 1)
        children = node[key]
        if not isinstance(children, list) or not children:
            raise ConditionError(path, f"{key} needs a non-empty list")
        return sum(
            _validate(child, signal_info, f"{path}.{key}[{index}]", depth + 1)
            for index, child in enumerate(children)
        )
    unknown = set(node) - {"signal", "op", "value"}
    if unknown:
        raise ConditionError(path, f"unknown key(s) {', '.join(sorted(unknown))}")
    signal, op = node.get("signal"), node.get("op")
    if not isinstance(signal, str) or not signal:
        raise ConditionError(path, "a clause needs a signal")
    info = signal_info(signal)
    if info is None:
        raise ConditionError(path, f"unknown signal {signal!r}")
    if op not in OPERATORS:
        raise ConditionError(path, f"unknown operator {op!r}; use one of {' '.join(OPERATORS)}")
    kind, categories = info
    _check_value(kind, categories, op, node.get("value"), path, signal)
    return 1


@dataclass(frozen=True)
class ClauseResult:
    signal: str
    op: str
    value: Any
    actual: Any
    result: bool | None


def _compare(op: str, actual: Any, value: Any) -> bool | None:
    if op == "is_null":
        return actual is None
    if op == "not_null":
        return actual is not None
    if actual is None:
        return None
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    if op == ">":
        return actual > value
    if op == ">=":
        return actual >= value
    if op == "<":
        return actual < value
    if op == "<=":
        return actual <= value
    if op == "in":
        return actual in value
    if op == "not_in":
        return actual not in value
    if op == "between":
        return value[0] <= actual <= value[1]
    raise ValueError(op)


def evaluate(
    node: Mapping, signals: Mapping[str, Any], trace: list[ClauseResult] | None = None
) -> bool | None:
    """True, False or None (unknown) for one account's signals; ``trace`` collects each
    clause with the value it saw, which is the explanation a CSM reads."""
    if "all" in node:
        results = [evaluate(child, signals, trace) for child in node["all"]]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if "any" in node:
        results = [evaluate(child, signals, trace) for child in node["any"]]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if "not" in node:
        inner = evaluate(node["not"], signals, trace)
        return None if inner is None else not inner
    actual = signals.get(node["signal"])
    result = _compare(node["op"], actual, node.get("value"))
    if trace is not None:
        trace.append(ClauseResult(node["signal"], node["op"], node.get("value"), actual, result))
    return result


def matches(node: Mapping, signals: Mapping[str, Any]) -> bool:
    return evaluate(node, signals) is True


def signals_used(node: Mapping) -> list[str]:
    if "all" in node or "any" in node:
        children = node.get("all") or node.get("any")
        return sorted({s for child in children for s in signals_used(child)})
    if "not" in node:
        return signals_used(node["not"])
    return [node["signal"]]


# --- skipped and snoozed accounts ----------------------------------------------------------

CHURNED = "churned"


def skip_reason(
    *,
    lifecycle_stage: str | None,
    include_churned: bool,
    snoozed_until: datetime | None,
    now: datetime,
) -> str | None:
    """Why a rule whose condition matches an account does not fire for it, before its once-only
    policy is asked: ``"churned"`` (the account churned and the rule does not target churned
    accounts) or ``"snoozed"`` (a queue item of this rule for the account was resolved and
    its snooze has not ended); None when nothing stops it."""
    if lifecycle_stage == CHURNED and not include_churned:
        return "churned"
    if snoozed_until is not None and snoozed_until > now:
        return "snoozed"
    return None


# --- once-only -----------------------------------------------------------------------------

POLICIES = ("while_open", "cooldown", "once_per_renewal_cycle", "once_ever")


@dataclass(frozen=True)
class PreviousFiring:
    fired_at: datetime
    open: bool


def may_fire(
    policy: str,
    previous: PreviousFiring | None,
    *,
    now: datetime,
    cooldown_days: int = 0,
    renewal_date: date | None = None,
) -> tuple[bool, str]:
    """Whether a rule may fire again for an account, and why not.

    Every policy refuses while the previous firing is still open; then ``cooldown`` waits
    ``cooldown_days`` after it, ``once_per_renewal_cycle`` allows one firing per contract year
    (the year ending at ``renewal_date``), and ``once_ever`` never fires twice.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown once-only policy {policy!r}")
    if previous is None:
        return True, "first firing"
    if previous.open:
        return False, "previous firing still open"
    if policy == "once_ever":
        return False, "fires once ever"
    if policy == "cooldown" and now - previous.fired_at < timedelta(days=cooldown_days):
        return False, f"within the {cooldown_days}-day cooldown"
    if policy == "once_per_renewal_cycle":
        if renewal_date is None:
            cycle_start = now - timedelta(days=365)
        else:
            cycle_start = datetime.combine(
                renewal_date - timedelta(days=365), datetime.min.time(), tzinfo=now.tzinfo
            )
            while cycle_start > now:
                cycle_start -= timedelta(days=365)
        if previous.fired_at >= cycle_start:
            return False, "already fired this renewal cycle"
    return True, "policy allows another firing"
