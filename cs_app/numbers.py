"""Numbers as people read them (pure): thousands separated, no trailing zeros, never in
scientific notation. The health card, rule previews and queue items show signals with one
decimal; the ``num`` filter of the templates (outcome measurements, scorecard thresholds) with
up to three."""

from __future__ import annotations

MISSING = "—"


def format_number(value: float | None, max_decimals: int = 1) -> str:
    """1,234 · 42.5 · 0.125 (with ``max_decimals=3``) · 1,000,000; ``—`` when there is none."""
    if value is None:
        return MISSING
    if float(value).is_integer():
        return f"{int(value):,}"
    text = f"{value:,.{max_decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
