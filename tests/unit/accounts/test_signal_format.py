"""Signals as the health card, rule previews and queue items show them (pure)."""

from __future__ import annotations

import pytest

from cs_app.accounts.signal_format import format_signal, reason_lines, signal_label


@pytest.mark.parametrize(
    "key, value, currency, shown",
    [
        ("champion_departed", True, "USD", "Yes"),
        ("champion_departed", 0, "USD", "No"),
        ("health_band", "at_risk", "USD", "At risk"),
        ("lifecycle_stage", "optimization", "USD", "Optimization"),
        ("segment", "Mid-Market", "USD", "Mid-Market"),
        ("arr", 2_400_000, "EUR", "€24,000"),
        ("days_since_last_login", 21, "USD", "21"),
        ("logins_30d", 1234.0, "USD", "1,234"),
        ("seat_utilization_pct", 42.26, "USD", "42.3 %"),
        ("metric.nps", 7.5, "USD", "7.5"),
        ("days_since_last_login", None, "USD", "—"),
    ],
)
def test_format_signal_reads_like_a_person_would_say_it(key, value, currency, shown):
    assert format_signal(key, value, currency) == shown


def test_signal_labels_come_from_the_catalog_and_name_pushed_metrics():
    assert signal_label("days_since_last_login") == "Days since last login"
    assert signal_label("metric.nps") == "Metric nps"
    assert signal_label("not_a_signal") == "not_a_signal"


def test_reason_lines_say_the_percent_unit_once():
    lines = reason_lines({"seat_utilization_pct": 42.5, "days_since_last_login": 21})
    assert lines == [("Seat utilisation", "42.5 %"), ("Days since last login", "21")]
    assert reason_lines(None) == []
