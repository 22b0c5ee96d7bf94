"""Trigger jobs: evaluate the rules, deliver due touchpoints, flag SLA breaches, remind plan
owners of reviews. Each returns the counts recorded on its job run."""

from __future__ import annotations

from datetime import datetime


def evaluate_rules(*, now: datetime) -> dict[str, int]:
    """Every enabled scheduled rule over every account; new firings run their actions."""
    from cs_app.triggers.evaluation import evaluate_scheduled_rules

    return evaluate_scheduled_rules(now=now)


def deliver_touchpoints(*, now: datetime) -> dict[str, int]:
    """Send the touchpoints that are due, claiming them so that no other worker sends them."""
    from cs_app.triggers.delivery import deliver_due_touchpoints

    return deliver_due_touchpoints(now=now)


def check_slas(*, now: datetime) -> dict[str, int]:
    """Give waiting items to members who have room again, then flag queue items past their
    SLA and alert the pool lead and the assignee once."""
    from cs_app.triggers.pools import assign_waiting_items
    from cs_app.triggers.sla import flag_sla_breaches

    assigned = assign_waiting_items(now=now)
    return {"assigned_waiting": assigned, **flag_sla_breaches(now=now)}


def remind_reviews(*, now: datetime) -> dict[str, int]:
    """Alert (and mail) plan owners whose plan review is due or overdue, once per review."""
    from cs_app.triggers.review_reminders import remind_plan_owners

    return remind_plan_owners(now=now)
