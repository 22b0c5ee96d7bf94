"""Pure routing: which pool member takes a new queue item.

Strategies: ``round_robin`` (next member after the last one assigned), ``least_loaded``
(fewest open items, then lowest position), ``segment_first`` (least loaded among members who
cover the account's segment, else among everyone). Before any strategy, the item is offered
to the account's own CSM when they are a member of the pool, not away and below capacity
("owner first, then …"). Away and full members are skipped; when nobody can take the item the
answer is None and the item waits unassigned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

STRATEGIES = ("round_robin", "least_loaded", "segment_first")
STRATEGY_LABELS = {
    "round_robin": "Round-robin",
    "least_loaded": "Least loaded",
    "segment_first": "Segment first, then least loaded",
}


def strategy_label(strategy: str) -> str:
    """How a pool routes, as its pages say it: the owner comes first whatever the strategy."""
    label = STRATEGY_LABELS.get(strategy, strategy)
    return f"Owner first, then {label[:1].lower()}{label[1:]}"


@dataclass(frozen=True)
class Member:
    user_id: int
    position: int
    capacity: int
    open_items: int
    segments: tuple[str, ...] = field(default_factory=tuple)
    away: bool = False

    @property
    def available(self) -> bool:
        return not self.away and self.open_items < self.capacity


def _least_loaded(members: Sequence[Member]) -> Member | None:
    candidates = [m for m in members if m.available]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (m.open_items, m.position))


def choose_member(
    members: Sequence[Member],
    strategy: str,
    *,
    segment: str | None,
    last_assigned_user_id: int | None = None,
    owner_id: int | None = None,
) -> int | None:
    """The member who takes the item: the account's owner when they can, else the strategy's
    choice."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown routing strategy {strategy!r}")
    owner = owner_first(members, owner_id)
    if owner is not None:
        return owner
    ordered = sorted(members, key=lambda m: m.position)
    if strategy == "least_loaded":
        chosen = _least_loaded(ordered)
    elif strategy == "segment_first":
        covering = [m for m in ordered if segment is not None and segment in m.segments]
        chosen = _least_loaded(covering) or _least_loaded(ordered)
    else:
        start = 0
        ids = [m.user_id for m in ordered]
        if last_assigned_user_id in ids:
            start = ids.index(last_assigned_user_id) + 1
        rotation = ordered[start:] + ordered[:start]
        chosen = next((m for m in rotation if m.available), None)
    return chosen.user_id if chosen else None


def owner_first(members: Sequence[Member], owner_id: int | None) -> int | None:
    """The owner's id when they are a member of the pool who can take one more item."""
    if owner_id is None:
        return None
    owner = next((m for m in members if m.user_id == owner_id), None)
    return owner.user_id if owner is not None and owner.available else None


@dataclass(frozen=True)
class BatchRouting:
    """Who takes each item of a batch (None: it waits unassigned), and the member who took the
    last one, which round-robin continues from next time."""

    assignees: list[int | None]
    last_assigned_user_id: int | None


def route_batch(
    members: Sequence[Member],
    strategy: str,
    segments: Sequence[str | None],
    *,
    last_assigned_user_id: int | None = None,
    owners: Sequence[int | None] | None = None,
) -> BatchRouting:
    """Route several items in turn, in memory: each choice sees the items given to the members
    by the choices before it, so a batch never fills anyone past their capacity. ``owners``
    (one per item, or none) names each account's CSM; an item its owner takes does not move
    the round-robin on."""
    if owners is None:
        owners = [None] * len(segments)
    if len(owners) != len(segments):
        raise ValueError("give one owner (or None) per item")
    current = list(members)
    last = last_assigned_user_id
    assignees: list[int | None] = []
    for segment, owner_id in zip(segments, owners, strict=True):
        chosen = owner_first(current, owner_id)
        if chosen is None:
            chosen = choose_member(current, strategy, segment=segment, last_assigned_user_id=last)
            if chosen is not None:
                last = chosen
        assignees.append(chosen)
        if chosen is not None:
            current = [
                replace(m, open_items=m.open_items + 1) if m.user_id == chosen else m
                for m in current
            ]
    return BatchRouting(assignees, last)
