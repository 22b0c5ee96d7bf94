"""What the action executors need to know about a new firing, passed between the evaluation
and the pool and touchpoint services without reloading the firing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FiringRef:
    firing_id: int
    rule_id: int
    rule_name: str
    account_id: int
    segment: str | None
    matched: dict[str, Any] = field(default_factory=dict)
    owner_id: int | None = None  # the account's CSM, whom routing offers the item first
