"""One page of a list: the items shown and where they sit in the whole.

Pure. Every paged list (accounts, plans, rules and their firings, touchpoints, alerts, a
pool's queue) answers a ``Page``; the pager macro of ``_macros.html`` reads ``page`` and
``pages``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` items fill; an empty list still has its one (empty) page."""
    return max(1, -(-total // per_page))


def clamp_page(page: int, total: int, per_page: int) -> int:
    """``page`` moved into 1..page_count: a page past the end shows the last one."""
    return min(max(page, 1), page_count(total, per_page))


def offset(page: int, per_page: int) -> int:
    """How many items come before ``page``."""
    return (page - 1) * per_page


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    # what some lists show beside the page: items per status tab, unread alerts…
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)

    @property
    def first(self) -> int:
        """The position of the page's first item in the whole list (from 1; 0 when empty)."""
        return offset(self.page, self.per_page) + 1 if self.total else 0

    @property
    def last(self) -> int:
        """The position of the page's last item in the whole list."""
        return min(self.total, self.page * self.per_page)
