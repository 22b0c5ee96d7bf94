"""Domain errors become error pages in one place (``web.py``): a view lets the service's
NotFoundError, PermissionDenied, ConflictError or ValidationError go, and the page says what
happened with the right status; the API answers the same errors in JSON."""

from __future__ import annotations

import sqlite3

import pytest
from flask import Blueprint
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import StaticPool

from cs_app import create_app
from cs_app.accounts.models import Contact
from cs_app.config import TestConfig
from cs_app.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from tests.factories import AccountFactory, AlertFactory, UserFactory


@pytest.fixture
def raising_client(tmp_path):
    """A fresh app with one extra page per domain error, raised as a service would."""
    app = create_app(
        {
            **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        }
    )
    raising = Blueprint("raising", __name__)
    errors = {
        "missing": NotFoundError("no such plan"),
        "forbidden": PermissionDenied("not yours"),
        "conflict": ConflictError("Someone else saved this plan since you opened it."),
        "invalid": ValidationError("The due date is before the start date."),
    }

    @raising.route("/raise/<name>")
    def raise_it(name: str):
        raise errors[name]

    app.register_blueprint(raising)
    return app.test_client()


@pytest.mark.parametrize(
    "name, status, message",
    [
        ("missing", 404, "There is nothing at this address."),
        ("forbidden", 403, "Your role does not allow this."),
        ("conflict", 409, "Someone else saved this plan since you opened it."),
        ("invalid", 422, "The due date is before the start date."),
    ],
)
def test_a_domain_error_a_page_lets_go_is_an_error_page(raising_client, name, status, message):
    response = raising_client.get(f"/raise/{name}")
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert message in response.get_data(as_text=True)


def test_pages_of_things_that_do_not_exist_are_404(client, login):
    login(UserFactory(role="csm"))
    for path in ("/plans/999999", "/rules/999999", "/rules/999999/backtest", "/queue/999999"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "There is nothing at this address." in response.get_data(as_text=True)


def test_marking_anothers_alert_is_403_and_changes_nothing(client, login):
    owner, other = UserFactory(), UserFactory()
    alert = AlertFactory(user=owner)
    db.session.commit()
    login(other)
    response = client.post(f"/alerts/{alert.id}/read")
    assert response.status_code == 403
    assert "Your role does not allow this." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).read_at is None


def test_the_api_answers_the_same_errors_in_json(client, api_token):
    response = client.get("/api/v1/plans/999999", headers=api_token(UserFactory(role="lead")))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.fixture
def busy_client(tmp_path):
    """A fresh app with a page and an API path that write to a SQLite file whose write lock
    another connection holds, without waiting (the app's own wait is 10 s)."""
    path = tmp_path / "busy.sqlite3"
    app = create_app(
        {
            **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        }
    )
    engine = create_engine(f"sqlite:///{path}", poolclass=StaticPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
        # the one pooled connection gives up at once (every connection the app opens waits)
        connection.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")
    writing = Blueprint("writing", __name__)

    def write():
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO notes VALUES ('x')"))
        return "written"

    writing.add_url_rule("/write", "write", write, methods=["POST"])
    writing.add_url_rule("/api/write", "api_write", write, methods=["POST"])
    app.register_blueprint(writing)
    app.config["WTF_CSRF_ENABLED"] = False
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield app.test_client()
    holder.rollback()
    holder.close()
    engine.dispose()


def test_a_busy_sqlite_database_is_a_503_to_try_again_not_a_500(busy_client):
    page = busy_client.post("/write")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "The database is busy with other work" in page.get_data(as_text=True)
    api = busy_client.post("/api/write")
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "database_busy"


def test_a_nul_character_in_a_page_query_or_form_is_a_400_and_stores_nothing(client, login):
    """On PostgreSQL a NUL in a search or a saved field was a 500 (it stores no NUL)."""
    login(UserFactory(role="lead"))
    search = client.get("/accounts?q=abc%00def")
    assert search.status_code == 400
    assert "NUL character" in search.get_data(as_text=True)
    account = AccountFactory()
    db.session.commit()
    added = client.post(
        f"/accounts/{account.external_id}/contacts",
        data={"name": "Evil\x00Name", "email": "evil@example.com", "role": "champion"},
    )
    assert added.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
