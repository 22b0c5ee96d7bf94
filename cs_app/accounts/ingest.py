"""Bulk ingestion of usage events and metric values.

Each batch is validated item by item: valid items are stored even when others fail, and every
bad item is reported by its index with a message a developer can act on. Events are idempotent
on their ``id``; metric values on (account, key, date), where a new value replaces the old.
The work per batch is a handful of set-based statements, not one per item.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select, tuple_

from cs_app.accounts.models import Account
from cs_app.accounts.usage_models import (
    AccountActivity,
    AccountFeature,
    AccountUser,
    MetricValue,
    UsageEvent,
)
from cs_app.extensions import db
from cs_app.hooks import events_ingested
from cs_app.jobs.pending import queue_recompute
from cs_app.json_limits import json_value_problem, number_problem, text_problem
from cs_app.sql import (
    among,
    chunks,
    copy_rows_ignoring_conflicts,
    insert_for,
    insert_rows,
    on_postgresql,
)

MAX_BATCH = 10_000
SENTIMENTS = ("positive", "neutral", "negative")
SEVERITIES = ("low", "normal", "high", "urgent")
METRIC_KEY = re.compile(r"^[a-z][a-z0-9_.:-]{0,79}$")
MAX_FEATURE_NAME = 200  # the key of account_features, like a user reference
MAX_PROPERTIES_BYTES = 16_384  # an event's properties, as compact JSON
# times and days outside these years are typing errors or probes, and some (year 1 minus an
# hour) do not even exist in UTC
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


@dataclass
class BulkResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, index: int, message: str) -> None:
        self.errors.append({"index": index, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "errors": self.errors}


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 with a zone (``Z`` or an offset); a time without a zone is taken as UTC."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be an ISO 8601 time such as 2026-11-21T09:30:00Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as error:  # 9999-12-31T23:59:59-01:00 is past the end of time
        raise ValueError(f"{value!r} lies outside the years we store") from error
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(
            f"{value!r} lies outside the years we store ({EARLIEST_YEAR} to {LATEST_YEAR}, in UTC)"
        )
    return moment


def parse_day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date such as 2026-11-21")
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not an ISO 8601 date (YYYY-MM-DD)") from error
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise ValueError(
            f"{value!r} lies outside the years we store ({EARLIEST_YEAR} to {LATEST_YEAR})"
        )
    return day


def account_ids_by_external_id(external_ids: Iterable[str]) -> dict[str, int]:
    wanted = sorted({e for e in external_ids if isinstance(e, str) and not text_problem(e)})
    found: dict[str, int] = {}
    for condition in among(Account.external_id, wanted):
        found.update(
            db.session.execute(select(Account.external_id, Account.id).where(condition)).all()
        )
    return found


def _properties_problem(properties: dict) -> str | None:
    """Why an event's properties cannot be stored as they are, whatever the event's type: too
    deep, too large, or holding what the database refuses (see ``cs_app.json_limits``)."""
    problem = json_value_problem(properties)
    if problem:
        return f"properties {problem}"
    size = len(json.dumps(properties, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PROPERTIES_BYTES:
        return (
            f"properties take {size} bytes as JSON; at most {MAX_PROPERTIES_BYTES} are stored "
            "per event"
        )
    return None


def _check_event_properties(kind: str, properties: dict) -> str | None:
    """The extra rules of the event types that signals read; custom types pass through."""
    problem = _properties_problem(properties)
    if problem:
        return problem
    feature = properties.get("feature")
    if kind in ("feature_used", "feature_gate_hit") and (
        not isinstance(feature, str) or len(feature) > MAX_FEATURE_NAME
    ):
        return (
            f"a {kind} event needs properties.feature (the feature's name, at most "
            f"{MAX_FEATURE_NAME} characters)"
        )
    if kind == "nps_response":
        score = properties.get("score")
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 10:
            return "an nps_response event needs properties.score, a whole number from 0 to 10"
    if kind == "support_ticket":
        sentiment = properties.get("sentiment")
        if sentiment is not None and sentiment not in SENTIMENTS:
            return f"properties.sentiment must be one of {', '.join(SENTIMENTS)}"
        severity = properties.get("severity")
        if severity is not None and severity not in SEVERITIES:
            return f"properties.severity must be one of {', '.join(SEVERITIES)}"
    if kind == "seat_added":
        count = properties.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            return "properties.count of a seat_added event must be a positive whole number"
    return None


def _validate_event(item: Any, accounts: dict[str, int]) -> tuple[dict | None, str | None]:
    if not isinstance(item, dict):
        return None, "each event must be a JSON object"
    unknown = set(item) - {"id", "account", "type", "at", "user", "properties"}
    if unknown:
        return None, f"unknown field(s): {', '.join(sorted(unknown))}"
    event_id, account, kind = item.get("id"), item.get("account"), item.get("type")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 120:
        return None, "id is required: a string of at most 120 characters, unique per event"
    if text_problem(event_id):
        return None, f"id: {text_problem(event_id)}"
    if not isinstance(account, str) or not account:
        return None, "account is required: the account's external_id"
    if text_problem(account):
        return None, f"account: {text_problem(account)}"
    if account not in accounts:
        return None, f"no account has the external_id {account!r}"
    if not isinstance(kind, str) or not re.match(r"^[a-z][a-z0-9_.-]{0,59}$", kind):
        return None, "type is required: lowercase letters, digits and _ . - (e.g. login)"
    try:
        occurred_at = parse_timestamp(item.get("at"))
    except ValueError as error:
        return None, f"at {error}"
    user = item.get("user")
    if user is not None and (not isinstance(user, str) or len(user) > 200):
        return None, "user must be a string of at most 200 characters"
    if user is not None and text_problem(user):
        return None, f"user: {text_problem(user)}"
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        return None, "properties must be a JSON object"
    problem = _check_event_properties(kind, properties)
    if problem:
        return None, problem
    return {
        "event_id": event_id,
        "account_id": accounts[account],
        "event_type": kind,
        "occurred_at": occurred_at,
        "user_ref": user,
        "properties": properties,
    }, None


def _insert_ignoring_conflicts(table, rows: list[dict], conflict_columns: list[str]) -> None:
    if on_postgresql():
        copy_rows_ignoring_conflicts(table, rows, conflict_columns)
        return
    insert_rows(
        table,
        rows,
        lambda statement: statement.on_conflict_do_nothing(index_elements=conflict_columns),
    )


def _upsert(table, rows: list[dict], conflict_columns: list[str], updates) -> None:
    """INSERT … ON CONFLICT DO UPDATE; ``updates(excluded)`` gives the SET."""
    insert_rows(
        table,
        rows,
        lambda statement: statement.on_conflict_do_update(
            index_elements=conflict_columns, set_=updates(statement.excluded)
        ),
    )


def ingest_events(items: Sequence[Any], *, now: datetime, react: bool = True) -> BulkResult:
    """Validate and store a batch of usage events; with ``react`` (the default) the event-driven
    trigger rules see the new ones. A replay of history (the demo) passes ``react=False``: its
    journeys did not happen then, and must not all start now."""
    result = BulkResult()
    if len(items) > MAX_BATCH:
        result.refuse(0, f"a batch holds at most {MAX_BATCH} events; split it")
        return result
    accounts = account_ids_by_external_id(i.get("account") for i in items if isinstance(i, dict))
    valid: dict[str, dict] = {}
    for index, item in enumerate(items):
        row, problem = _validate_event(item, accounts)
        if problem:
            result.refuse(index, problem)
        elif row["event_id"] in valid:
            result.duplicates += 1
        else:
            valid[row["event_id"]] = row | {"received_at": now}
    existing: set[str] = set()
    for condition in among(UsageEvent.event_id, valid):
        existing.update(db.session.scalars(select(UsageEvent.event_id).where(condition)))
    new_rows = [row for key, row in valid.items() if key not in existing]
    result.duplicates += len(valid) - len(new_rows)
    if new_rows:
        newest_id = select(func.coalesce(func.max(UsageEvent.id), 0))
        after_id = db.session.scalar(newest_id)
        _insert_ignoring_conflicts(UsageEvent.__table__, new_rows, ["event_id"])
        _record_activity(new_rows, (after_id + 1, db.session.scalar(newest_id)))
        queue_recompute({row["account_id"] for row in new_rows}, now=now)
        if react:
            events_ingested.send(rows=new_rows, now=now)
    result.accepted = len(new_rows)
    return result


def _record_activity(rows: list[dict], stored_ids: tuple[int, int]) -> None:
    """Fold the batch's first/last event and last login into account_activity, and its
    people and features into theirs (the events stored with ids in ``stored_ids``)."""
    per_account: dict[int, dict] = {}
    for row in rows:
        moment, account_id = row["occurred_at"], row["account_id"]
        entry = per_account.setdefault(
            account_id,
            {
                "account_id": account_id,
                "first_event_at": moment,
                "last_event_at": moment,
                "last_login_at": None,
            },
        )
        entry["first_event_at"] = min(entry["first_event_at"], moment)
        entry["last_event_at"] = max(entry["last_event_at"], moment)
        if row["event_type"] == "login" and (
            entry["last_login_at"] is None or moment > entry["last_login_at"]
        ):
            entry["last_login_at"] = moment
    table = AccountActivity.__table__

    def later_of(excluded):
        return {
            "first_event_at": case(
                (excluded.first_event_at < table.c.first_event_at, excluded.first_event_at),
                else_=table.c.first_event_at,
            ),
            "last_event_at": case(
                (excluded.last_event_at > table.c.last_event_at, excluded.last_event_at),
                else_=table.c.last_event_at,
            ),
            "last_login_at": case(
                (table.c.last_login_at.is_(None), excluded.last_login_at),
                (excluded.last_login_at > table.c.last_login_at, excluded.last_login_at),
                else_=table.c.last_login_at,
            ),
        }

    _upsert(
        table, sorted(per_account.values(), key=lambda r: r["account_id"]), ["account_id"], later_of
    )
    _record_users_and_features(*stored_ids)


def _record_users_and_features(first_id: int, last_id: int) -> None:
    """Fold the people and used features of the events just stored (ids ``first_id`` to
    ``last_id``), with their newest (and a feature's first) event, into account_users and
    account_features: one grouped INSERT … SELECT each over those rows, which the database
    still has at hand. Events may arrive late or out of order, so a stored time only ever
    moves outwards. Rows a concurrent batch stored in between may be folded in too, which is
    harmless: they are events all the same. (Both bounds matter: SQLite, without statistics,
    reads a one-sided id range as a large share of the table and scans an index instead.)"""
    ev = UsageEvent.__table__.c
    users, features = AccountUser.__table__, AccountFeature.__table__
    # as one expression, not "event_type = …" in the WHERE: SQLite would take that for the
    # (type, time) index and read every feature use ever stored
    feature = case((ev.event_type == "feature_used", ev.properties["feature"].as_string()))
    newest_per_user = (
        select(ev.account_id, ev.user_ref, func.max(ev.occurred_at))
        .where(ev.id.between(first_id, last_id), ev.user_ref.is_not(None))
        .group_by(ev.account_id, ev.user_ref)
        .order_by(ev.account_id, ev.user_ref)
    )
    statement = insert_for(users).from_select(
        ["account_id", "user_ref", "last_seen_at"], newest_per_user
    )
    seen = statement.excluded.last_seen_at
    db.session.execute(
        statement.on_conflict_do_update(  # no write when nothing is newer
            index_elements=["account_id", "user_ref"],
            set_={"last_seen_at": seen},
            where=seen > users.c.last_seen_at,
        )
    )
    span_per_feature = (
        select(ev.account_id, feature, func.min(ev.occurred_at), func.max(ev.occurred_at))
        .where(ev.id.between(first_id, last_id), feature.is_not(None))
        .group_by(ev.account_id, feature)
        .order_by(ev.account_id, feature)
    )
    statement = insert_for(features).from_select(
        ["account_id", "feature", "first_used_at", "last_used_at"], span_per_feature
    )
    first, last = statement.excluded.first_used_at, statement.excluded.last_used_at
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "feature"],
            set_={
                "first_used_at": case(
                    (first < features.c.first_used_at, first), else_=features.c.first_used_at
                ),
                "last_used_at": case(
                    (last > features.c.last_used_at, last), else_=features.c.last_used_at
                ),
            },
            where=or_(first < features.c.first_used_at, last > features.c.last_used_at),
        )
    )


def _validate_metric(item: Any, accounts: dict[str, int]) -> tuple[dict | None, str | None]:
    if not isinstance(item, dict):
        return None, "each metric value must be a JSON object"
    unknown = set(item) - {"account", "key", "value", "date"}
    if unknown:
        return None, f"unknown field(s): {', '.join(sorted(unknown))}"
    account, key, value = item.get("account"), item.get("key"), item.get("value")
    if not isinstance(account, str) or not account:
        return None, "account is required: the account's external_id"
    if text_problem(account):
        return None, f"account: {text_problem(account)}"
    if account not in accounts:
        return None, f"no account has the external_id {account!r}"
    if not isinstance(key, str) or not METRIC_KEY.fullmatch(key):
        return None, "key is required: lowercase letters, digits and _ . : - (e.g. seats_used)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, "value must be a finite number"
    try:
        value = float(value)  # an integer of 400 digits does not fit a float8
    except OverflowError:
        value = math.inf
    if number_problem(value):
        return None, "value must be a finite number, at most 1e308 in size"
    try:
        day = parse_day(item.get("date"))
    except ValueError as error:
        return None, f"date {error}"
    return {
        "account_id": accounts[account],
        "metric_key": key,
        "measured_on": day,
        "value": float(value),
    }, None


def ingest_metrics(items: Sequence[Any], *, now: datetime) -> BulkResult:
    """Store metric values; the same value again is a duplicate, a new value replaces."""
    result = BulkResult()
    if len(items) > MAX_BATCH:
        result.refuse(0, f"a batch holds at most {MAX_BATCH} metric values; split it")
        return result
    accounts = account_ids_by_external_id(i.get("account") for i in items if isinstance(i, dict))
    latest: dict[tuple, dict] = {}
    for index, item in enumerate(items):
        row, problem = _validate_metric(item, accounts)
        if problem:
            result.refuse(index, problem)
            continue
        key = (row["account_id"], row["metric_key"], row["measured_on"])
        if key in latest:
            result.duplicates += 1
        latest[key] = row  # within a batch the last value for a day wins
    existing: dict[tuple, float] = {}
    keys = list(latest)
    for chunk in chunks(keys):
        existing.update(
            {
                (a, k, d): v
                for a, k, d, v in db.session.execute(
                    select(
                        MetricValue.account_id,
                        MetricValue.metric_key,
                        MetricValue.measured_on,
                        MetricValue.value,
                    ).where(
                        tuple_(
                            MetricValue.account_id, MetricValue.metric_key, MetricValue.measured_on
                        ).in_(list(chunk))
                    )
                ).all()
            }
        )
    changed = [row for key, row in latest.items() if existing.get(key) != row["value"]]
    result.duplicates += len(latest) - len(changed)
    if changed:
        _upsert(
            MetricValue.__table__,
            changed,
            ["account_id", "metric_key", "measured_on"],
            lambda excluded: {"value": excluded.value},
        )
        queue_recompute({row["account_id"] for row in changed}, now=now)
    result.accepted = len(changed)
    return result


def metric_keys() -> list[str]:
    """Every metric key pushed so far, for scorecard pickers."""
    return list(
        db.session.scalars(
            select(MetricValue.metric_key).distinct().order_by(MetricValue.metric_key)
        )
    )
