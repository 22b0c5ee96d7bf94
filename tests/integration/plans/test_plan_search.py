"""The plan list's search takes ``%`` and ``_`` literally, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re

import pytest

from tests.factories import AccountFactory, PlanFactory, UserFactory


@pytest.fixture
def csm(app):
    return UserFactory(role="csm", name="Casey CSM")


def listed(client, query: str) -> list[str]:
    html = client.get("/plans", query_string={"q": query, "status": "all"}).get_data(as_text=True)
    return sorted(re.findall(r'<a href="/plans/\d+"><strong>([^<]+)</strong></a>', html))


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("A_B", ["Plan A_B"]),  # not "Plan AXB": _ is no wildcard
        ("a_b", ["Plan A_B"]),
        ("100%", ["Plan 100% adoption"]),  # not "Plan 1000 seats"
        ("a/b", ["Plan A/B test"]),
        ("plan a", ["Plan A/B test", "Plan AXB", "Plan A_B"]),
    ],
)
def test_plan_search_takes_wildcards_literally(client, login, csm, query, found):
    account = AccountFactory(name="Northwind", csm=csm)
    for title in ("Plan A_B", "Plan AXB", "Plan 100% adoption", "Plan 1000 seats", "Plan A/B test"):
        PlanFactory(account=account, owner=csm, title=title)
    login(csm)
    assert listed(client, query) == found
