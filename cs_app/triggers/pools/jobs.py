"""The ``check-slas`` job; returns the counts recorded on its job run."""

from __future__ import annotations

from datetime import datetime

from cs_app.triggers.pools.service import assign_waiting_items
from cs_app.triggers.pools.sla import flag_sla_breaches


def check_slas(*, now: datetime) -> dict[str, int]:
    """Give waiting items to members who have room again, then flag queue items past their
    SLA and alert the pool lead and the assignee once."""
    assigned = assign_waiting_items(now=now)
    return {"assigned_waiting": assigned, **flag_sla_breaches(now=now)}
