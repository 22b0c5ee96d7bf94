"""Small SQL constructs that SQLite and PostgreSQL spell differently.

Set-based jobs are written once in SQLAlchemy Core; these compile to each dialect's own
date arithmetic and JSON builders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    Integer,
    String,
    any_,
    bindparam,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import JSON

T = TypeVar("T")
SQLITE_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep them in the low byte)


class days_between(FunctionElement):  # noqa: N801  (reads like the SQL function it is)
    """Whole days from ``start`` to ``end`` (dates or timestamps; time of day ignored)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    end, start = list(element.clauses)
    return (
        f"CAST(julianday(date({compiler.process(end, **kw)})) - "
        f"julianday(date({compiler.process(start, **kw)})) AS INTEGER)"
    )


@compiles(days_between, "postgresql")
def _days_between_postgresql(element, compiler, **kw):
    end, start = list(element.clauses)
    return (
        f"(CAST({compiler.process(end, **kw)} AS DATE) - "
        f"CAST({compiler.process(start, **kw)} AS DATE))"
    )


class json_object(FunctionElement):  # noqa: N801
    """A JSON object from alternating key, value arguments."""

    type = JSON()
    inherit_cache = True
    name = "json_object"


@compiles(json_object, "sqlite")
def _json_object_sqlite(element, compiler, **kw):
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_object_postgresql(element, compiler, **kw):
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


class json_array(FunctionElement):  # noqa: N801
    type = JSON()
    inherit_cache = True
    name = "json_array"


@compiles(json_array, "sqlite")
def _json_array_sqlite(element, compiler, **kw):
    return f"json_array({compiler.process(element.clauses, **kw)})"


@compiles(json_array, "postgresql")
def _json_array_postgresql(element, compiler, **kw):
    return f"json_build_array({compiler.process(element.clauses, **kw)})"


class to_date(FunctionElement):  # noqa: N801
    """The calendar day of a timestamp (SQLite's CAST … AS DATE would yield the year)."""

    type = Date()
    inherit_cache = True
    name = "to_date"


@compiles(to_date, "sqlite")
def _to_date_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(to_date, "postgresql")
def _to_date_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


class utc_day_start_before(FunctionElement):  # noqa: N801  (reads like the SQL it is)
    """The start (00:00 UTC) of the day ``days`` days before the date ``day``: a value that
    compares correctly with a stored UTC timestamp on each dialect."""

    inherit_cache = True
    name = "utc_day_start_before"


@compiles(utc_day_start_before, "sqlite")
def _day_start_sqlite(element, compiler, **kw):
    # SQLite stores timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which sorts after the
    # bare 'YYYY-MM-DD' of the same day: the date is its own midnight.
    day, days = list(element.clauses)
    return (
        f"date({compiler.process(day, **kw)}, '-' || ({compiler.process(days, **kw)}) || ' days')"
    )


@compiles(utc_day_start_before, "postgresql")
def _day_start_postgresql(element, compiler, **kw):
    day, days = list(element.clauses)
    return (
        f"(CAST(({compiler.process(day, **kw)} - ({compiler.process(days, **kw)})) "
        f"AS TIMESTAMP) AT TIME ZONE 'UTC')"
    )


class json_boolean(FunctionElement):  # noqa: N801
    """A boolean column as a JSON true/false (SQLite would give 1/0)."""

    type = JSON()
    inherit_cache = True
    name = "json_boolean"


@compiles(json_boolean, "sqlite")
def _json_boolean_sqlite(element, compiler, **kw):
    value = compiler.process(element.clauses, **kw)
    return f"CASE WHEN {value} THEN json('true') WHEN NOT {value} THEN json('false') END"


@compiles(json_boolean, "postgresql")
def _json_boolean_postgresql(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


class date_minus_days(FunctionElement):  # noqa: N801  (reads like the SQL it is)
    """The date ``days`` (a constant) days before the date ``day``."""

    type = Date()
    inherit_cache = True
    name = "date_minus_days"


@compiles(date_minus_days, "sqlite")
def _date_minus_sqlite(element, compiler, **kw):
    day, days = list(element.clauses)
    return (
        f"date({compiler.process(day, **kw)}, '-' || ({compiler.process(days, **kw)}) || ' days')"
    )


@compiles(date_minus_days, "postgresql")
def _date_minus_postgresql(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} - CAST({compiler.process(days, **kw)} AS INTEGER))"


class iso_date(FunctionElement):  # noqa: N801
    """A date as ``YYYY-MM-DD`` text, whatever the server's date style (SQLite keeps dates
    as ISO text already)."""

    type = String()
    inherit_cache = True
    name = "iso_date"


@compiles(iso_date, "sqlite")
def _iso_date_sqlite(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


@compiles(iso_date, "postgresql")
def _iso_date_postgresql(element, compiler, **kw):
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


def on_postgresql() -> bool:
    """Whether the session's database is PostgreSQL, for the few statements each database
    gets its own way (arrays, ``SKIP LOCKED``, trigram searches, bulk ``UPDATE … FROM``)."""
    from cs_app.extensions import db

    return db.session.get_bind().dialect.name == "postgresql"


def is_database_busy(error: BaseException) -> bool:
    """True when SQLite refused for another connection's lock ("database is locked")."""
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in SQLITE_BUSY_CODES
    message = str(error.orig).lower()
    return "database is locked" in message or "database table is locked" in message


def hold_lock(key: int) -> None:
    """Wait for, then hold until the transaction ends, the lock named ``key``: PostgreSQL's
    transaction-level advisory lock. SQLite needs nothing: its writers already take turns."""
    from cs_app.extensions import db

    if on_postgresql():
        db.session.execute(select(func.pg_advisory_xact_lock(key)))


def insert_for(table):
    """``INSERT`` in this database's dialect, which has ``on_conflict_do_nothing`` and
    ``on_conflict_do_update``."""
    return (postgresql if on_postgresql() else sqlite).insert(table)


def json_array_lookup(array, *, match_key: str, match: str, value_key: str, as_number: bool):
    """From a JSON array of objects (a health snapshot's measures), ``value_key`` of the first
    object whose ``match_key`` is ``match``, as a scalar subquery; a number when ``as_number``
    (PostgreSQL's ``->>`` answers text, SQLite's ``json_extract`` the JSON type itself)."""
    if on_postgresql():
        element = func.json_array_elements(array).table_valued("value").render_derived()
        value = element.c.value.op("->>")(value_key)
        found = element.c.value.op("->>")(match_key) == match
        if as_number:
            value = cast(value, Float)
    else:
        element = func.json_each(array).table_valued("value")
        value = func.json_extract(element.c.value, f"$.{value_key}")
        found = func.json_extract(element.c.value, f"$.{match_key}") == match
    return select(value).select_from(element).where(found).limit(1).scalar_subquery()


IN_LIST_SIZE = 500  # values per IN list or rows per executemany: inside every driver's limits


def chunks(items: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``, for IN lists and batched inserts."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def one_of(column, values: Sequence):
    """``column IN values`` as one condition, for a list the caller keeps inside SQLite's
    parameter limit: ``= ANY(:array)`` on PostgreSQL (see ``among``)."""
    if on_postgresql():
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def among(column, values: Iterable) -> Iterator:
    """Conditions that together say ``column IN values``, for one query each. PostgreSQL:
    one ``column = ANY(:array)`` whatever the count: a single parameter, so the statement
    stays short (the driver otherwise re-parses a statement of hundreds of placeholders, and
    SQLAlchemy renders one per value: that was a fifth of an ingestion batch's time). SQLite:
    ``IN`` lists of ``IN_LIST_SIZE``, inside its parameter limit."""
    values = list(values)
    if not values:
        return
    if on_postgresql():
        yield one_of(column, values)
        return
    for chunk in chunks(values):
        yield column.in_(list(chunk))


def _unnested(table, rows: list[dict]):
    """PostgreSQL: the rows as one SELECT of ``unnest()`` over one array per column."""
    names = list(rows[0])
    return names, select(
        *(
            func.unnest(
                bindparam(
                    f"{name}_values", [row[name] for row in rows], type_=ARRAY(table.c[name].type)
                )
            ).label(name)
            for name in names
        )
    )


def insert_rows(table, rows: list[dict], on_conflict=lambda statement: statement) -> None:
    """Insert ``rows`` (dicts with the same keys) with ``on_conflict(statement)`` applied.
    PostgreSQL: one INSERT … SELECT over arrays for the whole batch, one round trip; measured
    ~3× cheaper than executemany (which the server still runs row by row). SQLite: one cached
    statement run with executemany, measured ~2.5× cheaper than multi-row VALUES (SQLAlchemy
    compiles once, and an in-process database has no round trips to save)."""
    from cs_app.extensions import db

    if not rows:
        return
    if on_postgresql():
        names, source = _unnested(table, rows)
        db.session.execute(on_conflict(postgresql.insert(table).from_select(names, source)))
        return
    statement = on_conflict(sqlite.insert(table))
    for chunk in chunks(rows):
        db.session.execute(statement, list(chunk))


def copy_rows_ignoring_conflicts(table, rows: list[dict], conflict_columns: list[str]) -> None:
    """PostgreSQL: insert ``rows`` (dicts with the same keys), skipping those that conflict on
    ``conflict_columns``, by ``COPY`` into a temporary table of those columns and one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING`` from it. ``COPY`` takes the rows in the
    driver's C code; the same rows as ``unnest`` arrays were built value by value in Python
    (a sixth of an ingestion batch). The temporary table lives as long as the connection and
    is emptied at every commit; JSON values go in as their text."""
    from cs_app.extensions import db

    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)
    staging = f'"incoming_{table.name}"'
    connection = db.session.connection()
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
        f'SELECT {columns} FROM "{table.name}" WITH NO DATA'
    )
    json_names = {name for name in names if isinstance(table.c[name].type, JSON)}
    with (
        connection.connection.driver_connection.cursor() as cursor,
        cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[name])
                    if name in json_names and row[name] is not None
                    else row[name]
                    for name in names
                ]
            )
    conflict = ", ".join(f'"{name}"' for name in conflict_columns)
    connection.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM {staging} '
        f"ON CONFLICT ({conflict}) DO NOTHING"
    )
    connection.exec_driver_sql(f"DELETE FROM {staging}")  # a second batch in this transaction


LIKE_ESCAPE = "/"


def contains_pattern(text: str) -> str:
    """A LIKE pattern that finds ``text`` anywhere, its ``%``, ``_`` and ``/`` taken
    literally (``/`` is the escape character: a backslash means different things to the two
    databases' string literals)."""
    escaped = "".join(
        LIKE_ESCAPE + char if char in ("%", "_", LIKE_ESCAPE) else char for char in text
    )
    return f"%{escaped}%"


class contains_text(FunctionElement):  # noqa: N801
    """``column`` holds ``text``, whatever the case, ``%`` and ``_`` taken literally: the one
    text search of every list (accounts, plans, rules, touchpoints, the API).

    PostgreSQL: ``column ILIKE …``, which the trigram (``gin_trgm_ops``) indexes on the bare
    column serve, so the column is never wrapped in ``lower()``. SQLite: ``LIKE``, which
    already ignores the case of ASCII letters (as SQLite's own ``lower()`` does), so a search
    can read a list index without a ``lower()`` call per row."""

    type = Boolean()
    inherit_cache = True
    name = "contains_text"

    def __init__(self, column, text: str):
        super().__init__(column, literal(contains_pattern(text), String))


def _contains_text(operator: str):
    def compile_(element, compiler, **kw):
        column, pattern = list(element.clauses)
        return (
            f"({compiler.process(column, **kw)} {operator} {compiler.process(pattern, **kw)} "
            f"ESCAPE '{LIKE_ESCAPE}')"
        )

    return compile_


compiles(contains_text, "sqlite")(_contains_text("LIKE"))
compiles(contains_text, "postgresql")(_contains_text("ILIKE"))


def for_this_dialect(item, name, type_, reflected, compare_to) -> bool:
    """Alembic ``include_object`` filter: leave out of autogenerate (``db migrate``,
    ``db check``, the migrations test) the schema items made on another dialect only, marked
    ``info["only_on"]`` and ``ddl_if`` (the trigram search indexes PostgreSQL gets). Alembic
    does not read ``ddl_if`` and would report them missing on SQLite."""
    only_on = getattr(item, "info", {}).get("only_on")
    if only_on is None:
        return True
    from cs_app.extensions import db

    return db.engine.dialect.name == only_on
