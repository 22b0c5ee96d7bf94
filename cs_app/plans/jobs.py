"""The ``remind-reviews`` job; returns the counts recorded on its job run."""

from __future__ import annotations

from datetime import datetime

from cs_app.plans.reminders import remind_plan_owners


def remind_reviews(*, now: datetime) -> dict[str, int]:
    """Alert (and mail) plan owners whose plan review is due or overdue, once per review."""
    return remind_plan_owners(now=now)
