"""Signals as people read them: labels, and values as Yes/No, labels, money and percentages
(pure). Beside the signal catalog so that every page that shows a signal (the account's health
card, rule previews and firings, queue items) says it the same way."""

from __future__ import annotations

from typing import Any

from cs_app.accounts.signal_catalog import BOOLEAN, CATEGORY, METRIC_PREFIX, SIGNALS
from cs_app.health.scoring import BAND_LABELS
from cs_app.money import format_money
from cs_app.numbers import format_number


def format_signal(key: str, value: Any, currency: str = "USD") -> str:
    """A signal's value as a person reads it: Yes/No, labels, money, percentages."""
    if value is None:
        return "—"
    signal = SIGNALS.get(key)
    kind = signal.kind if signal else None
    if kind == BOOLEAN:
        return "Yes" if value in (True, 1, "1", "true") else "No"
    if key == "health_band":
        return BAND_LABELS.get(value, str(value))
    if kind == CATEGORY and key != "segment":
        return str(value).replace("_", " ").capitalize()
    if key == "arr":
        return format_money(int(value), currency)
    if isinstance(value, int | float):
        text = format_number(value)
        return f"{text} %" if key.endswith("_pct") else text
    return str(value)


def signal_label(key: str) -> str:
    if key.startswith(METRIC_PREFIX):
        return f"Metric {key[len(METRIC_PREFIX) :]}"
    signal = SIGNALS.get(key)
    return signal.label if signal else key


def reason_lines(reason: dict | None, currency: str = "USD") -> list[tuple[str, str]]:
    """The matched signal values as a person reads them: ("Days since last login", "21"),
    ("Usage change", "-40 %") — the unit is said once, by the value."""
    lines = []
    for key, value in (reason or {}).items():
        label, text = signal_label(key), format_signal(key, value, currency)
        if label.endswith(" %") and text.endswith("%"):
            label = label[:-2]
        lines.append((label, text))
    return lines
