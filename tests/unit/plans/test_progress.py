"""Pure plan logic: no Flask, no database."""

from __future__ import annotations

from datetime import date

import pytest

from cs_app.plans.progress import (
    StakeholderFacts,
    add_months,
    is_overdue,
    lower_is_better,
    next_review_date,
    outcome_progress,
    review_overdue,
    risk_severity,
    stakeholder_flags,
)

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(
    ("baseline", "target", "current", "expected"),
    [
        (40, 75, 57.5, 0.5),  # higher is better, half way
        (18, 8, 13, 0.5),  # lower is better: 18 h → 8 h, at 13 h half way
        (18, 8, 8, 1.0),
        (18, 8, 6, 1.0),  # beyond the target is clamped to done
        (18, 8, 20, 0.0),  # worse than the baseline is clamped to zero
        (18, 8, 18, 0.0),
        (40, 75, 40, 0.0),
    ],
)
def test_outcome_progress(baseline, target, current, expected):
    assert outcome_progress(baseline, target, current) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("baseline", "target", "current"),
    [(None, 8, 10), (18, None, 10), (18, 8, None), (5, 5, 5)],
)
def test_outcome_progress_is_unknown_without_a_distance_to_cover(baseline, target, current):
    assert outcome_progress(baseline, target, current) is None


def test_lower_is_better():
    assert lower_is_better(18, 8)
    assert not lower_is_better(40, 75)
    assert not lower_is_better(None, 75)


@pytest.mark.parametrize(
    ("likelihood", "impact", "severity"),
    [
        ("high", "high", "critical"),
        ("high", "medium", "high"),
        ("medium", "high", "high"),
        ("medium", "medium", "medium"),
        ("high", "low", "medium"),
        ("low", "high", "medium"),
        ("medium", "low", "low"),
        ("low", "low", "low"),
    ],
)
def test_risk_severity(likelihood, impact, severity):
    assert risk_severity(likelihood, impact) == severity


def test_overdue_is_derived_from_date_and_status():
    assert is_overdue(date(2026, 11, 20), "open", TODAY, ("done",))
    assert not is_overdue(date(2026, 11, 21), "open", TODAY, ("done",))
    assert not is_overdue(date(2026, 11, 1), "done", TODAY, ("done",))
    assert not is_overdue(None, "open", TODAY, ("done",))


@pytest.mark.parametrize(
    ("cadence", "expected"),
    [
        ("weekly", date(2026, 11, 28)),
        ("monthly", date(2026, 12, 21)),
        ("quarterly", date(2027, 2, 21)),
    ],
)
def test_next_review_date(cadence, expected):
    assert next_review_date(TODAY, cadence) == expected


def test_next_review_date_refuses_unknown_cadence():
    with pytest.raises(ValueError, match="yearly"):
        next_review_date(TODAY, "yearly")


def test_add_months_keeps_to_the_end_of_short_months():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_review_overdue_only_for_active_plans():
    assert review_overdue(date(2026, 11, 1), "active", TODAY)
    assert not review_overdue(date(2026, 11, 1), "draft", TODAY)
    assert not review_overdue(date(2026, 12, 1), "active", TODAY)
    assert not review_overdue(None, "active", TODAY)


def person(name, engagement="high", last_contact=TODAY, departed=False, customer=True):
    return StakeholderFacts(name, customer, engagement, last_contact, departed)


def test_single_threaded_champion_flagged_when_one_engaged_contact():
    flags = stakeholder_flags(
        [person("Sarah"), person("Bo", engagement="low"), person("Ivy CSM", customer=False)],
        TODAY,
        30,
    )
    assert [f.key for f in flags] == ["single_threaded"]
    assert "Sarah" in flags[0].message


def test_two_engaged_contacts_are_not_single_threaded():
    flags = stakeholder_flags([person("Sarah"), person("Bo", engagement="medium")], TODAY, 30)
    assert flags == []


def test_departed_and_dark_stakeholders_flagged():
    flags = stakeholder_flags(
        [
            person("Sarah"),
            person("Bo"),
            person("Al", departed=True),
            person("Cy", last_contact=date(2026, 9, 1)),
            person("Di", last_contact=None),
        ],
        TODAY,
        30,
    )
    keys = {(f.key, f.message.split(" ")[0].rstrip(":")) for f in flags}
    assert keys == {("departed", "Al"), ("gone_dark", "Cy"), ("gone_dark", "Di")}
    assert any("81 days" in f.message for f in flags)


def test_no_customer_contacts_means_no_stakeholder_flags():
    assert stakeholder_flags([person("Ivy CSM", customer=False)], TODAY, 30) == []
