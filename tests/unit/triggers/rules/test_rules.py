"""Rule conditions: validation messages with paths, every operator, three-valued logic,
and the once-only policies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cs_app.triggers.rules.rules import (
    ConditionError,
    PreviousFiring,
    evaluate,
    matches,
    may_fire,
    signals_used,
    validate_condition,
)

KINDS = {
    "logins_30d": ("number", ()),
    "nps_category": ("category", ("promoter", "passive", "detractor")),
    "champion_departed": ("boolean", ()),
    "segment": ("category", ("SMB", "Mid-Market", "Enterprise")),
}
NOW = datetime(2026, 11, 21, 9, tzinfo=UTC)


def info(key):
    return KINDS.get(key)


def clause(signal, op, value=None):
    node = {"signal": signal, "op": op}
    if value is not None:
        node["value"] = value
    return node


@pytest.mark.parametrize(
    ("tree", "path", "text"),
    [
        (
            {"all": [clause("logins_30d", ">", 3), clause("logins_per_day", ">", 1)]},
            "condition.all[1]",
            "unknown signal 'logins_per_day'",
        ),
        ({"any": [clause("logins_30d", "~", 3)]}, "condition.any[0]", "unknown operator"),
        ({"all": [clause("logins_30d", ">", "3")]}, "condition.all[0]", "is a number"),
        ({"all": [clause("nps_category", ">", "passive")]}, "condition.all[0]", "compares numbers"),
        ({"all": [clause("nps_category", "=", "fan")]}, "condition.all[0]", "not a value of"),
        ({"not": clause("champion_departed", "=", "yes")}, "condition.not", "true or false"),
        ({"all": [clause("logins_30d", "between", [9, 3])]}, "condition.all[0]", "low ≤ high"),
        ({"all": [clause("logins_30d", "in", [])]}, "condition.all[0]", "non-empty list"),
        (
            {"all": [{"signal": "logins_30d", "op": "is_null", "value": 3}]},
            "condition.all[0]",
            "takes no value",
        ),
        ({"all": []}, "condition", "non-empty list"),
        ({"all": [clause("logins_30d", ">", 1)], "any": []}, "condition", "holds only"),
        ({"all": ["logins_30d > 1"]}, "condition.all[0]", "each node is an object"),
        (
            {"all": [{"signal": "logins_30d", "op": ">", "value": 1, "weight": 2}]},
            "condition.all[0]",
            "unknown key",
        ),
        (
            {"all": [{"any": [clause("segment", "in", ["SMB", "Tiny"])]}]},
            "condition.all[0].any[0]",
            "'Tiny' is not a value of segment",
        ),
    ],
)
def test_bad_conditions_name_the_clause(tree, path, text):
    with pytest.raises(ConditionError) as refused:
        validate_condition(tree, info)
    assert refused.value.path == path
    assert text in refused.value.message


def test_valid_condition_counts_clauses():
    tree = {
        "all": [
            clause("logins_30d", "<", 3),
            {
                "any": [
                    clause("nps_category", "=", "detractor"),
                    {"not": clause("champion_departed", "=", False)},
                ]
            },
        ]
    }
    assert validate_condition(tree, info) == 3
    assert signals_used(tree) == ["champion_departed", "logins_30d", "nps_category"]


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("=", 5, 5, True),
        ("=", 5, 4, False),
        ("!=", 5, 4, True),
        (">", 5, 6, True),
        (">", 5, 5, False),
        (">=", 5, 5, True),
        ("<", 5, 4, True),
        ("<=", 5, 6, False),
        ("in", [1, 2], 2, True),
        ("in", [1, 2], 3, False),
        ("not_in", [1, 2], 3, True),
        ("between", [3, 5], 5, True),
        ("between", [3, 5], 6, False),
        ("is_null", None, None, True),
        ("is_null", None, 0, False),
        ("not_null", None, 0, True),
        ("not_null", None, None, False),
        ("=", 5, None, None),
        ("!=", 5, None, None),
        ("not_in", [1], None, None),
        ("between", [1, 2], None, None),
    ],
)
def test_every_operator(op, value, actual, expected):
    assert evaluate(clause("logins_30d", op, value), {"logins_30d": actual}) is expected


def test_three_valued_logic_matches_sql():
    unknown = clause("logins_30d", ">", 3)
    true = clause("nps_category", "=", "detractor")
    false = clause("nps_category", "=", "promoter")
    signals = {"logins_30d": None, "nps_category": "detractor"}
    assert evaluate({"all": [unknown, true]}, signals) is None
    assert evaluate({"all": [unknown, false]}, signals) is False
    assert evaluate({"any": [unknown, true]}, signals) is True
    assert evaluate({"any": [unknown, false]}, signals) is None
    assert evaluate({"not": unknown}, signals) is None
    assert not matches({"not": unknown}, signals)


def test_trace_explains_each_clause():
    trace = []
    evaluate(
        {"all": [clause("logins_30d", "<", 3), clause("nps_category", "=", "detractor")]},
        {"logins_30d": 1, "nps_category": "detractor"},
        trace,
    )
    assert [(t.signal, t.actual, t.result) for t in trace] == [
        ("logins_30d", 1, True),
        ("nps_category", "detractor", True),
    ]


def test_every_policy_waits_while_the_previous_firing_is_open():
    for policy in ("while_open", "cooldown", "once_per_renewal_cycle", "once_ever"):
        allowed, reason = may_fire(
            policy, PreviousFiring(NOW - timedelta(days=400), True), now=NOW, cooldown_days=7
        )
        assert not allowed and "open" in reason


def test_first_firing_is_always_allowed():
    assert may_fire("once_ever", None, now=NOW)[0]


def test_while_open_fires_again_once_closed():
    assert may_fire("while_open", PreviousFiring(NOW - timedelta(hours=1), False), now=NOW)[0]


def test_cooldown():
    closed = PreviousFiring(NOW - timedelta(days=6), False)
    assert not may_fire("cooldown", closed, now=NOW, cooldown_days=7)[0]
    assert may_fire("cooldown", closed, now=NOW + timedelta(days=2), cooldown_days=7)[0]


def test_once_per_renewal_cycle():
    renewal = date(2027, 3, 1)  # this contract year began 2026-03-01
    this_year = PreviousFiring(datetime(2026, 4, 1, tzinfo=UTC), False)
    last_year = PreviousFiring(datetime(2026, 2, 1, tzinfo=UTC), False)
    assert not may_fire("once_per_renewal_cycle", this_year, now=NOW, renewal_date=renewal)[0]
    assert may_fire("once_per_renewal_cycle", last_year, now=NOW, renewal_date=renewal)[0]


def test_once_ever():
    assert not may_fire("once_ever", PreviousFiring(NOW - timedelta(days=900), False), now=NOW)[0]


def test_unknown_policy_refused():
    with pytest.raises(ValueError, match="sometimes"):
        may_fire("sometimes", None, now=NOW)
