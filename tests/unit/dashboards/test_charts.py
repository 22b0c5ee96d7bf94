"""The dashboard's chart shaping and headline money: pure functions, no app."""

from __future__ import annotations

from datetime import date

import pytest

from cs_app.dashboards.charts import (
    band_series,
    one_bar_per_category,
    share_segments,
    week_label,
)
from cs_app.money import compact_money


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1_670_000_000, "USD", "$16.7M"),
        (100_000_000, "USD", "$1M"),
        (95_000_000, "EUR", "€950K"),
        (120_000, "GBP", "£1,200"),
        (15_050_000_000, "USD", "$150M"),
        (250_000_000_000, "USD", "$2.5B"),
        (350_000, "CHF", "3,500 CHF"),
        (1_250_000, "CHF", "12.5K CHF"),
        (0, "USD", "$0"),
        (None, "USD", "—"),
    ],
)
def test_compact_money(minor, currency, text):
    assert compact_money(minor, currency) == text


def test_each_category_gets_its_own_coloured_series():
    series = one_bar_per_category(["Healthy", "At risk"], [5, 2], ["healthy", "at_risk"])
    assert series == [
        {"name": "Healthy", "tone": "healthy", "values": [5, 0]},
        {"name": "At risk", "tone": "at_risk", "values": [0, 2]},
    ]


def test_band_series_skip_bands_that_are_empty_throughout():
    labels = {"healthy": "Healthy", "at_risk": "At risk", "critical": "Critical"}
    series = band_series(
        ["healthy", "at_risk", "critical"],
        labels,
        {"healthy": [1, 2], "at_risk": [0, 0], "critical": [0, 3]},
    )
    assert [(s["name"], s["tone"], s["values"]) for s in series] == [
        ("Healthy", "healthy", [1, 2]),
        ("Critical", "critical", [0, 3]),
    ]


def test_share_segments_drop_zero_values_and_weeks_read_as_dates():
    assert share_segments([("Healthy", "healthy", 0, "$0"), ("Critical", "critical", 5, "$5")]) == [
        {"name": "Critical", "tone": "critical", "value": 5, "label": "$5"}
    ]
    assert week_label(date(2026, 9, 7)) == "Sep 7"
