"""Why a matching rule does not fire for an account: churned (unless the rule targets
churned accounts), then snoozed by a resolved queue item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cs_app.triggers.rules.rules import skip_reason

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stage", "include_churned", "snoozed_until", "expected"),
    [
        ("adoption", False, None, None),
        ("churned", False, None, "churned"),
        ("churned", True, None, None),  # the rule targets churned accounts
        ("churned", False, NOW + timedelta(days=3), "churned"),  # churned is said first
        ("adoption", False, NOW + timedelta(days=3), "snoozed"),
        ("adoption", False, NOW, None),  # the snooze ends at its moment
        ("adoption", False, NOW - timedelta(days=1), None),
        (None, False, None, None),  # an account without a stage is not churned
    ],
)
def test_skip_reason(stage, include_churned, snoozed_until, expected):
    assert (
        skip_reason(
            lifecycle_stage=stage,
            include_churned=include_churned,
            snoozed_until=snoozed_until,
            now=NOW,
        )
        == expected
    )
