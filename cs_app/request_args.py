"""Reading the two request arguments every list and action page shares: where to go back to
after a POST (never another site), and which page of a list to show."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns (PostgreSQL casts to it); larger is no id
MAX_PAGE = 999_999_999  # nine digits: further than any list reaches, and its offset still fits
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: "²".isdigit() is true, int("²") fails


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None: a ``next`` field or argument is
    typed by whoever builds the link, so ``//evil.example`` and ``https://…`` are refused."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def page_number(args: Mapping[str, str]) -> int:
    """The ``page`` argument as a page number from 1; anything else is page 1."""
    value = args.get("page", "")
    number = database_id(value)
    return number if number is not None and number <= MAX_PAGE else 1


def database_id(value: object) -> int | None:
    """``value`` (an argument, a form field, a reference's digits) as an id the database can
    hold: a positive whole number up to ``MAX_ID``; anything else, however many digits it has,
    is None, which callers treat as "no such row" or "no filter"."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_ID else None
