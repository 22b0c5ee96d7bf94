"""Nothing personal is cached: every page and API answer says ``Cache-Control: no-store``;
the vendored static files stay cacheable."""

from __future__ import annotations

import pytest

from cs_app.extensions import db
from tests.factories import UserFactory


@pytest.fixture
def user(app):
    person = UserFactory(email="casey@example.com", role="lead")
    db.session.commit()
    return person


def test_signed_in_pages_are_not_stored(client, user, login):
    login(user)
    for path in ("/", "/accounts", "/account/tokens"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_the_page_that_shows_a_new_api_token_is_not_stored(client, user, login):
    login(user)
    response = client.post("/account/tokens", data={"name": "billing sync"})
    assert response.status_code == 200
    assert "csa_" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_api_answers_are_not_stored(client, user, api_token):
    response = client.get("/api/v1/accounts", headers=api_token(user))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    refused = client.get("/api/v1/accounts")
    assert refused.status_code == 401
    assert refused.headers["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable(client, user, login):
    login(user)
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()
