"""Numbers as pages show them: separators, no trailing zeros, never scientific notation."""

from __future__ import annotations

import pytest

from cs_app.numbers import format_number


@pytest.mark.parametrize(
    "value, decimals, shown",
    [
        (None, 1, "—"),
        (0, 1, "0"),
        (70.0, 1, "70"),
        (1234, 1, "1,234"),
        (1_234_567.0, 3, "1,234,567"),
        (42.5, 1, "42.5"),
        (42.04, 1, "42"),
        (0.125, 3, "0.125"),
        (0.05, 3, "0.05"),
        (-12.75, 1, "-12.8"),
        (2.5e7, 3, "25,000,000"),
    ],
)
def test_format_number(value, decimals, shown):
    assert format_number(value, max_decimals=decimals) == shown
