"""Money as people read it: the currency symbols once, and the forms the app shows.

Pure: amounts are integer minor units (cents), currencies ISO codes; the Jinja ``money`` and
``money_short`` filters, the dashboard's charts, the plan's Markdown export and the touchpoint
templates' ``arr`` all format through here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
MISSING = "—"


def _with_currency(amount: str, currency: str | None) -> str:
    """``$1,200`` for a currency with a symbol, ``1,200 CHF`` otherwise (the bare amount when
    there is no currency at all)."""
    symbol = CURRENCY_SYMBOLS.get(currency or "")
    if symbol:
        return f"{symbol}{amount}"
    return f"{amount} {currency}" if currency else amount


def format_money(minor: int | None, currency: str | None = "USD", missing: str = MISSING) -> str:
    """$24,000, €1,234.56, 50 CHF: the whole amount, cents only when there are any;
    ``missing`` when there is no amount."""
    if minor is None:
        return missing
    major = minor / 100
    amount = f"{major:,.0f}" if major == int(major) else f"{major:,.2f}"
    return _with_currency(amount, currency)


def compact_money(minor: int | None, currency: str | None = "USD") -> str:
    """$16.7M, €950K, $9,500: money for a headline figure."""
    if minor is None:
        return MISSING
    major = minor / 100
    # below 10,000 the whole amount is short enough to read exactly
    for limit, unit, suffix in (
        (1_000_000_000, 1_000_000_000, "B"),
        (1_000_000, 1_000_000, "M"),
        (10_000, 1_000, "K"),
    ):
        if abs(major) >= limit:
            scaled = major / unit
            text = f"{scaled:.1f}".rstrip("0").rstrip(".") if scaled < 100 else f"{scaled:.0f}"
            amount = text + suffix
            break
    else:
        amount = f"{major:,.0f}"
    return _with_currency(amount, currency)


def to_minor(amount: Decimal) -> int:
    """An amount in major units (what people type: 48,000.50) as integer minor units (cents),
    rounded half up to the cent."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_major(minor: int) -> Decimal:
    """Integer minor units as an exact amount in major units (4800050 → 48000.50)."""
    return Decimal(minor) / 100
