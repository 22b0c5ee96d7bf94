"""The ``evaluate-rules`` job; returns the counts recorded on its job run."""

from __future__ import annotations

from datetime import datetime

from cs_app.triggers.rules.evaluation import evaluate_scheduled_rules


def evaluate_rules(*, now: datetime) -> dict[str, int]:
    """Every enabled scheduled rule over every account; new firings run their actions."""
    return evaluate_scheduled_rules(now=now)
