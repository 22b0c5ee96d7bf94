"""Money as people read it: integer minor units in, "$12,500" out (pure)."""

from __future__ import annotations

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_money(minor: int | None, currency: str = "USD") -> str:
    """Whole amounts without cents; a currency without a symbol is named after the amount."""
    if minor is None:
        return "—"
    major = minor / 100
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = f"{major:,.0f}" if major == int(major) else f"{major:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"
