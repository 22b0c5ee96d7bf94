"""Cells of the CSV files people download and open in a spreadsheet.

Pure. Text that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return: OWASP's "CSV injection") gets a leading quote, so it shows as
the text it is; every CSV download and report goes through :func:`neutralise_formula`.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """``=HYPERLINK(…)`` → ``'=HYPERLINK(…)``; any other text as it is."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
