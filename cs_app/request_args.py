"""Reading the two request arguments every list and action page shares: where to go back to
after a POST (never another site), and which page of a list to show."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit


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
    return int(value) if value.isdigit() and 0 < len(value) <= 9 and int(value) > 0 else 1
