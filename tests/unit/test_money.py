"""Money in integer minor units: what people type in, what pages show (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cs_app.money import compact_money, format_money, to_major, to_minor


@pytest.mark.parametrize(
    "typed, minor",
    [
        (Decimal("48000"), 4_800_000),
        (Decimal("48000.50"), 4_800_050),
        (Decimal("0.005"), 1),  # half a cent rounds up
        (Decimal("0.004"), 0),
        (Decimal("-12.345"), -1235),
    ],
)
def test_to_minor_rounds_half_up_to_the_cent(typed, minor):
    assert to_minor(typed) == minor


def test_to_major_is_exact():
    assert to_major(4_800_050) == Decimal("48000.50")
    assert to_minor(to_major(123_456_789)) == 123_456_789


@pytest.mark.parametrize(
    "minor, currency, shown",
    [
        (2_400_000, "USD", "$24,000"),
        (123_456, "EUR", "€1,234.56"),
        (5_000, "CHF", "50 CHF"),
        (None, "USD", "—"),
    ],
)
def test_format_money(minor, currency, shown):
    assert format_money(minor, currency) == shown


def test_compact_money_for_headline_figures():
    assert compact_money(1_670_000_000, "USD") == "$16.7M"
    assert compact_money(950_000, "USD") == "$9,500"
