"""Routing strategies: capacity, away members, segment match, nobody free; backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cs_app.triggers.pools.routing import (
    Member,
    choose_member,
    owner_first,
    route_batch,
    strategy_label,
)
from cs_app.triggers.touchpoints.retry import MAX_ATTEMPTS, next_attempt_delay

ANA = Member(1, 0, capacity=5, open_items=2, segments=("SMB",))
BO = Member(2, 1, capacity=5, open_items=1, segments=("Enterprise",))
CY = Member(3, 2, capacity=5, open_items=1, segments=("SMB",))


def test_least_loaded_picks_fewest_open_then_position():
    assert choose_member([ANA, BO, CY], "least_loaded", segment="SMB") == 2


def test_round_robin_continues_after_the_last_assignee():
    assert choose_member([ANA, BO, CY], "round_robin", segment=None) == 1
    assert choose_member([ANA, BO, CY], "round_robin", segment=None, last_assigned_user_id=1) == 2
    assert choose_member([ANA, BO, CY], "round_robin", segment=None, last_assigned_user_id=3) == 1


def test_segment_first_prefers_members_covering_the_segment():
    assert choose_member([ANA, BO, CY], "segment_first", segment="SMB") == 3
    assert choose_member([ANA, BO, CY], "segment_first", segment="Enterprise") == 2


def test_segment_first_falls_back_to_everyone():
    assert choose_member([ANA, BO, CY], "segment_first", segment="Mid-Market") == 2


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded", "segment_first"])
def test_away_and_full_members_are_skipped(strategy):
    away = Member(1, 0, 5, 0, ("SMB",), away=True)
    full = Member(2, 1, 2, 2, ("SMB",))
    free = Member(3, 2, 2, 1, ())
    assert choose_member([away, full, free], strategy, segment="SMB") == 3


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded", "segment_first"])
def test_nobody_free_leaves_the_item_unassigned(strategy):
    members = [Member(1, 0, 1, 1), Member(2, 1, 3, 0, away=True)]
    assert choose_member(members, strategy, segment="SMB") is None


def test_unknown_strategy_refused():
    with pytest.raises(ValueError, match="lottery"):
        choose_member([ANA], "lottery", segment=None)


def test_a_batch_sees_the_items_given_before_it():
    members = [Member(1, 0, capacity=2, open_items=1), Member(2, 1, capacity=3, open_items=0)]
    routed = route_batch(members, "least_loaded", [None] * 5)
    # 2 holds none; then both hold one and position picks 1, which is then full; 2 takes two
    # more up to its capacity; then nobody is free
    assert routed.assignees == [2, 1, 2, 2, None]
    assert routed.last_assigned_user_id == 2


def test_a_batch_never_fills_a_member_past_capacity():
    members = [Member(1, 0, capacity=3, open_items=0), Member(2, 1, capacity=1, open_items=0)]
    for strategy in ("round_robin", "least_loaded", "segment_first"):
        routed = route_batch(members, strategy, ["SMB"] * 6)
        assert routed.assignees.count(1) == 3 and routed.assignees.count(2) == 1, strategy
        assert routed.assignees.count(None) == 2, strategy


def test_round_robin_batch_rotates_and_remembers_the_last():
    members = [Member(n, n, capacity=9, open_items=0) for n in (1, 2, 3)]
    routed = route_batch(members, "round_robin", [None] * 4, last_assigned_user_id=2)
    assert routed.assignees == [3, 1, 2, 3]
    assert routed.last_assigned_user_id == 3


def test_segment_first_batch_spills_over_when_the_covering_member_fills():
    members = [
        Member(1, 0, capacity=1, open_items=0, segments=("Enterprise",)),
        Member(2, 1, capacity=5, open_items=3, segments=("SMB",)),
    ]
    routed = route_batch(members, "segment_first", ["Enterprise", "Enterprise", "SMB"])
    assert routed.assignees == [1, 2, 2]


def test_an_empty_batch_keeps_the_last_assignee():
    assert route_batch([ANA], "round_robin", [], last_assigned_user_id=7).assignees == []
    assert route_batch([ANA], "round_robin", [], last_assigned_user_id=7).last_assigned_user_id == 7


def test_backoff_grows_then_gives_up():
    delays = [next_attempt_delay(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:5] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
    ]
    assert delays[-1] is None
    with pytest.raises(ValueError):
        next_attempt_delay(0)


# --- owner first ----------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded", "segment_first"])
def test_the_accounts_own_csm_takes_the_item_first_whatever_the_strategy(strategy):
    # Ana has the most open items and is not next in the rotation, yet she owns the account
    assert choose_member([ANA, BO, CY], strategy, segment="Enterprise", owner_id=1) == 1


@pytest.mark.parametrize(
    "owner",
    [
        Member(1, 0, capacity=5, open_items=0, away=True),  # away
        Member(1, 0, capacity=2, open_items=2),  # at capacity
    ],
    ids=["away", "full"],
)
def test_an_away_or_full_owner_leaves_the_item_to_the_strategy(owner):
    assert choose_member([owner, BO, CY], "least_loaded", segment=None, owner_id=1) == 2


def test_an_owner_outside_the_pool_leaves_the_item_to_the_strategy():
    assert choose_member([ANA, BO, CY], "least_loaded", segment=None, owner_id=99) == 2
    assert owner_first([ANA, BO, CY], None) is None


def test_a_batch_gives_owners_their_items_until_they_are_full():
    ana = Member(1, 0, capacity=3, open_items=1)
    result = route_batch(
        [ana, BO, CY],
        "round_robin",
        [None, None, None, None],
        owners=[1, 1, 1, None],
    )
    # Ana takes two of her accounts, then is full: her third goes to the rotation, which
    # starts at its beginning (her picks did not move it) and skips her
    assert result.assignees == [1, 1, 2, 3]
    assert result.last_assigned_user_id == 3


def test_a_batch_needs_one_owner_per_item():
    with pytest.raises(ValueError, match="one owner"):
        route_batch([ANA], "least_loaded", [None, None], owners=[1])


def test_the_strategy_label_names_the_owner_first():
    assert strategy_label("least_loaded") == "Owner first, then least loaded"
    assert strategy_label("segment_first") == "Owner first, then segment first, then least loaded"
