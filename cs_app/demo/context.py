"""The state one demo load carries through every builder: the moment it is anchored on, the
demo users, where progress lines go and what has been created so far.

Its own module because every builder takes it: kept in ``specs.py``, it would make
``people.py`` (which fills in the users) and ``specs.py`` (which assigns their CSMs) import
each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from cs_app.auth.models import User


@dataclass
class DemoContext:
    """What every builder needs: the moment the demo is anchored on and the demo users."""

    now: datetime
    users: dict[str, User]
    echo: Callable[[str], Any]
    created: dict[str, int] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.date()

    def at(self, day: date) -> datetime:
        """A working-hours timestamp on ``day``, never later than ``now``."""
        return min(datetime.combine(day, time(10, 0), tzinfo=UTC), self.now)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n
