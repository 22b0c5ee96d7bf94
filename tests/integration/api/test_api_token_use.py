"""A token's last-used time is written at most every five minutes, outside the request's own
transaction, and a database that refuses the write never fails the request."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import OperationalError

from cs_app.auth.models import ApiToken
from cs_app.auth.service import TOKEN_USE_RECORDED_EVERY, create_token, record_token_use
from cs_app.db_types import utcnow
from cs_app.extensions import db
from tests.factories import UserFactory

ACCOUNTS = "/api/v1/accounts"


def token_for(user, now):
    record, token = create_token(user, name="crm sync", now=now)
    db.session.commit()
    return record.id, {"Authorization": f"Bearer {token}"}


def last_used(token_id):
    db.session.expire_all()
    return db.session.get(ApiToken, token_id).last_used_at


def set_last_used(token_id, at):
    db.session.get(ApiToken, token_id).last_used_at = at
    db.session.commit()


def test_last_use_is_written_at_most_every_five_minutes(app, client, now):
    token_id, headers = token_for(UserFactory(role="viewer"), now)
    assert client.get(ACCOUNTS, headers=headers).status_code == 200
    first = last_used(token_id)
    assert first is not None
    recent = utcnow() - TOKEN_USE_RECORDED_EVERY + timedelta(minutes=1)
    set_last_used(token_id, recent)
    assert client.get(ACCOUNTS, headers=headers).status_code == 200
    assert last_used(token_id) == recent  # within five minutes: not written again
    stale = utcnow() - TOKEN_USE_RECORDED_EVERY - timedelta(minutes=1)
    set_last_used(token_id, stale)
    assert client.get(ACCOUNTS, headers=headers).status_code == 200
    assert last_used(token_id) > stale


def test_the_conditional_update_writes_once_per_window(app, now):
    token_id, _ = token_for(UserFactory(role="viewer"), now)
    assert record_token_use(token_id, now=now)
    assert not record_token_use(token_id, now=now + timedelta(minutes=1))
    assert record_token_use(token_id, now=now + TOKEN_USE_RECORDED_EVERY)


def test_a_refused_last_use_write_does_not_fail_the_request(app, client, now, monkeypatch):
    token_id, headers = token_for(UserFactory(role="viewer"), now)

    def locked(token_id, *, now):
        raise OperationalError("UPDATE api_tokens …", {}, Exception("database is locked"))

    monkeypatch.setattr("cs_app.api.auth.record_token_use", locked)
    response = client.get(ACCOUNTS, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert last_used(token_id) is None
