"""The accounts search on PostgreSQL, on the accounts page and the API alike
(``cs_app.sql.contains_text``): ``%`` and ``_`` are taken literally, and the search is
``column ILIKE …`` on the bare name and external id columns, the expression the trigram
indexes of migration 456f1ab0aa72 (``gin (name gin_trgm_ops)``) serve; ``lower(name) LIKE …``
would leave them unused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from cs_app.extensions import db
from tests.factories import AccountFactory, UserFactory


@pytest.fixture
def statements(app):
    """The SELECTs on accounts run while the test runs."""
    seen: list[str] = []

    def remember(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "accounts" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    yield seen
    event.remove(db.engine, "before_cursor_execute", remember)


@pytest.mark.parametrize("address", ["/accounts?q=harb_r", "/api/v1/accounts?q=harb_r"])
def test_the_search_finds_underscores_literally_with_the_indexed_expression(
    app, client, login, api_token, statements, address
):
    AccountFactory(name="Harb_r Freight", external_id="HF-1")
    AccountFactory(name="Harbor Freight", external_id="HF-2")
    lead = UserFactory(role="lead")
    db.session.commit()
    if address.startswith("/api"):
        response = client.get(address, headers=api_token(lead))
        assert [item["name"] for item in response.get_json()["items"]] == ["Harb_r Freight"]
    else:
        login(lead)
        response = client.get(address)
        html = response.get_data(as_text=True)
        assert "Harb_r Freight" in html and "Harbor Freight" not in html
    assert response.status_code == 200
    if db.engine.dialect.name != "postgresql":
        return
    searches = [statement for statement in statements if "ILIKE" in statement]
    assert searches, statements
    for statement in searches:
        assert re.search(r"\baccounts\.name ILIKE", statement), statement
        assert re.search(r"\baccounts\.external_id ILIKE", statement), statement
        assert "lower(accounts." not in statement
