"""The alerts page: unread first, marking one or all read, the top bar's count, and the
refusals (another person's alert, one that does not exist)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.triggers.alerts.models import Alert
from tests.factories import AlertFactory, UserFactory


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.fixture
def team(app):
    people = {
        "ana": UserFactory(name="Ana Member"),
        "bo": UserFactory(name="Bo Member"),
        "cy": UserFactory(name="Cy Outsider"),
    }
    db.session.commit()
    return people


def test_alerts_unread_first_mark_read_and_the_badge(client, login, team):
    now = utcnow()
    ana = team["ana"]
    old_read = AlertFactory(
        user=ana, title="Old and read", read_at=now, created_at=now - timedelta(days=1)
    )
    older = AlertFactory(user=ana, title="Older unread", created_at=now - timedelta(days=2))
    newer = AlertFactory(user=ana, title="Newer unread", created_at=now - timedelta(hours=1))
    AlertFactory(user=team["bo"], title="Not mine")
    db.session.commit()
    login(ana)
    html = client.get("/alerts").get_data(as_text=True)
    text = text_of(html)
    assert text.index("Newer unread") < text.index("Older unread") < text.index("Old and read")
    assert "Not mine" not in text
    assert re.search(r'class="alert-count"[^>]*>2<', html)
    assert client.post(f"/alerts/{older.id}/read").status_code == 302
    html = client.get("/queue").get_data(as_text=True)
    assert re.search(r'class="alert-count"[^>]*>1<', html)
    response = client.post("/alerts/read", follow_redirects=True)
    assert "Marked 1 alert as read." in text_of(response.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Alert, newer.id).read_at is not None
    assert db.session.get(Alert, old_read.id).read_at == old_read.read_at
    assert 'class="alert-count"' not in client.get("/alerts").get_data(as_text=True)


def test_nobody_marks_anothers_alert(client, login, team):
    alert = AlertFactory(user=team["bo"])
    db.session.commit()
    login(team["ana"])
    assert client.post(f"/alerts/{alert.id}/read").status_code == 403
    assert client.post("/alerts/999999/read").status_code == 404
    db.session.expire_all()
    assert db.session.get(Alert, alert.id).read_at is None


def test_no_alerts_says_what_will_appear(client, login, team):
    login(team["cy"])
    text = text_of(client.get("/alerts").get_data(as_text=True))
    assert "No alerts yet" in text and "passes its SLA" in text
