"""The ``deliver-touchpoints`` job; returns the counts recorded on its job run."""

from __future__ import annotations

from datetime import datetime

from cs_app.triggers.touchpoints.delivery import deliver_due_touchpoints


def deliver_touchpoints(*, now: datetime) -> dict[str, int]:
    """Send the touchpoints that are due, claiming them so that no other worker sends them."""
    return deliver_due_touchpoints(now=now)
