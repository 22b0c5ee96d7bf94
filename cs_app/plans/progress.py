"""Pure plan logic: outcome progress, risk severity, overdue items and the plan's warning flags.

No Flask, no SQLAlchemy: plain values in, plain values out, with ``today`` passed explicitly so
the same rules serve pages, the API, jobs and fast unit tests.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

LEVEL_RANK = {"low": 1, "medium": 2, "high": 3}
CUSTOMER_ENGAGED = ("high", "medium")


def outcome_progress(
    baseline: float | None, target: float | None, current: float | None
) -> float | None:
    """Share of the way from baseline to target, 0.0 to 1.0 (clamped).

    Works whichever way the target lies: 18 h → 8 h resolution time at 13 h is 0.5, just as
    40 % → 75 % adoption at 57.5 % is. ``None`` when any value is missing or the target equals
    the baseline (there is no distance to cover).
    """
    if baseline is None or target is None or current is None or target == baseline:
        return None
    share = (current - baseline) / (target - baseline)
    return max(0.0, min(1.0, share))


def lower_is_better(baseline: float | None, target: float | None) -> bool:
    return baseline is not None and target is not None and target < baseline


def risk_severity(likelihood: str, impact: str) -> str:
    """Severity from likelihood × impact on a 3×3 grid.

    high × high is critical; high × medium is high; medium × medium and high × low are
    medium; medium × low and low × low are low.
    """
    score = LEVEL_RANK[likelihood] * LEVEL_RANK[impact]
    if score >= 9:
        return "critical"
    if score >= 6:
        return "high"
    if score >= 3:
        return "medium"
    return "low"


def is_overdue(due: date | None, status: str, today: date, done_statuses: Iterable[str]) -> bool:
    """A dated item not finished by its date is overdue; this is derived, never stored."""
    return due is not None and due < today and status not in tuple(done_statuses)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_review_date(last_review: date, cadence: str) -> date:
    """The review after ``last_review`` for a weekly, monthly or quarterly cadence."""
    if cadence == "weekly":
        return last_review + timedelta(days=7)
    if cadence == "monthly":
        return add_months(last_review, 1)
    if cadence == "quarterly":
        return add_months(last_review, 3)
    raise ValueError(f"unknown review cadence {cadence!r}")


@dataclass(frozen=True)
class StakeholderFacts:
    """What the flags need to know about one person on the stakeholder map."""

    name: str
    is_customer: bool
    engagement: str | None
    last_contact: date | None
    departed: bool


@dataclass(frozen=True)
class PlanFlag:
    key: str
    message: str


def stakeholder_flags(
    stakeholders: Iterable[StakeholderFacts], today: date, dark_after_days: int
) -> list[PlanFlag]:
    """Single-threaded champion, stakeholders gone dark, and departed stakeholders."""
    people = list(stakeholders)
    customers = [p for p in people if p.is_customer]
    flags: list[PlanFlag] = []
    engaged = [p for p in customers if not p.departed and p.engagement in CUSTOMER_ENGAGED]
    if customers and len(engaged) <= 1:
        who = engaged[0].name if engaged else "nobody"
        flags.append(
            PlanFlag(
                "single_threaded",
                f"Single-threaded: only {who} is an engaged customer contact.",
            )
        )
    for person in customers:
        if person.departed:
            flags.append(PlanFlag("departed", f"{person.name} has left the company."))
        elif person.last_contact is None:
            flags.append(PlanFlag("gone_dark", f"{person.name}: no contact recorded."))
        elif (today - person.last_contact).days > dark_after_days:
            days = (today - person.last_contact).days
            flags.append(PlanFlag("gone_dark", f"{person.name}: no contact for {days} days."))
    return flags


def review_overdue(next_review: date | None, status: str, today: date) -> bool:
    return status == "active" and next_review is not None and next_review < today
