"""One account filter (``accounts.queries.account_conditions``) serves the accounts page, the
API's account list and the dashboard: the same filters pick the same accounts in all three."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from cs_app.accounts import queries
from cs_app.accounts.models import Account
from cs_app.accounts.usage_models import AccountSignals
from cs_app.api.queries import account_page, account_scope
from cs_app.dashboards.queries import DashboardFilters
from cs_app.db_types import utcnow
from cs_app.extensions import db
from tests.factories import AccountFactory, UserFactory


@pytest.fixture
def portfolio(app):
    casey = UserFactory(role="csm", email="casey@example.com")
    dana = UserFactory(role="csm", email="dana@example.com")
    rows = [
        ("A_B Labs", "SMB", "hybrid", casey, "healthy"),
        ("AXB Corp", "SMB", "hybrid", dana, "at_risk"),
        ("Beta Inc", "Enterprise", "joint", casey, None),
        ("Gamma Ltd", "SMB", "joint", None, "critical"),
    ]
    for name, segment, engagement, csm, band in rows:
        account = AccountFactory(name=name, segment=segment, engagement_model=engagement, csm=csm)
        db.session.add(
            AccountSignals(account_id=account.id, computed_at=utcnow(), health_band=band)
        )
    db.session.flush()
    return casey, dana


def page_names(args: dict[str, str]) -> list[str]:
    page = queries.list_accounts(queries.AccountFilters.from_args(MultiDict(args)), per_page=50)
    return sorted(row.name for row in page.items)


def api_names(**args: str) -> list[str]:
    page = account_page(account_scope(**args), page=1, per_page=50)
    return sorted(account.name for account in page.items)


def dashboard_names(args: dict[str, str]) -> list[str]:
    where = DashboardFilters.from_args(MultiDict(args)).where()
    return sorted(db.session.scalars(select(Account.name).where(*where)))


def test_the_page_the_api_and_the_dashboard_pick_the_same_accounts(portfolio):
    casey, _ = portfolio
    assert page_names({"segment": "SMB"}) == api_names(segment="SMB")
    assert page_names({"segment": "SMB"}) == dashboard_names({"segment": "SMB"})
    assert page_names({"csm": str(casey.id)}) == api_names(csm="CASEY@example.com")
    assert page_names({"csm": str(casey.id)}) == dashboard_names({"csm": str(casey.id)})
    assert page_names({"csm": "none"}) == api_names(csm="none") == ["Gamma Ltd"]
    assert dashboard_names({"csm": "none"}) == ["Gamma Ltd"]
    assert page_names({"engagement": "joint"}) == api_names(engagement_model="joint")
    assert page_names({"band": "at_risk"}) == api_names(band="at_risk") == ["AXB Corp"]
    assert page_names({"band": "none"}) == ["Beta Inc"]  # never scored
    assert page_names({"q": "a_b"}) == api_names(q="a_b") == ["A_B Labs"]


def test_the_dashboard_leaves_out_churned_accounts(portfolio):
    AccountFactory(name="Gone Co", segment="SMB", lifecycle_stage="churned")
    db.session.flush()
    assert "Gone Co" in page_names({"segment": "SMB"})
    assert "Gone Co" not in dashboard_names({"segment": "SMB"})
    assert db.session.scalar(select(func.count()).select_from(Account)) == 5
