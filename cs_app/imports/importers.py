"""Feed converted CSV rows, a batch at a time, through the accounts services and the bulk
ingestion, and count what happened.

Each batch runs in a savepoint and is committed on its own (unless it is a dry run), so a bad
row late in a file loses nothing imported before it. Good rows are kept; each bad row is
reported with its line and every reason. New accounts are created together
(``create_accounts``), known ones changed through ``update_account`` with one flush per batch;
contacts go row by row through ``add_contact`` / ``update_contact``; the batch's existing rows
are read in one query and rows that would change nothing count as duplicates. Events and metric
values go through ``ingest_events`` / ``ingest_metrics`` once per batch. If the database
refuses a batch over a row's data (which the checks should prevent), the batch is retried row
by row so only the offending rows are lost; any other database failure stops the import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from cs_app.accounts import service as account_service
from cs_app.accounts.ingest import ingest_events, ingest_metrics
from cs_app.accounts.models import (
    CONTACT_ROLES,
    CONTACT_STATUSES,
    ENGAGEMENT_LEVELS,
    ENGAGEMENT_MODELS,
    INFLUENCE_LEVELS,
    LIFECYCLE_STAGES,
    SEGMENTS,
    Account,
    Contact,
)
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.imports.csv_reader import CsvRow, CsvSource
from cs_app.imports.mapping import ImportPlan, choice_spellings
from cs_app.sql import chunks

DEFAULT_BATCH = 1000
MAX_BATCH = 10_000  # what one call of the bulk ingestion accepts
# Service field names → ours, so a refusal names the field the mapping used.
SERVICE_FIELD_NAMES = {"arr_minor": "arr", "csm_id": "csm_email"}

CHOICES = {
    "accounts": {
        "segment": choice_spellings(SEGMENTS),
        "engagement_model": choice_spellings(ENGAGEMENT_MODELS),
        "lifecycle_stage": choice_spellings(LIFECYCLE_STAGES),
    },
    "contacts": {
        "role": choice_spellings(CONTACT_ROLES),
        "influence": choice_spellings(INFLUENCE_LEVELS),
        "engagement": choice_spellings(ENGAGEMENT_LEVELS),
        "status": choice_spellings(CONTACT_STATUSES),
    },
}


@dataclass
class Refusal:
    line: int
    reason: str
    raw: list[str]


@dataclass
class Counts:
    """What one batch (or the whole file) did."""

    created: int = 0
    updated: int = 0
    accepted: int = 0  # events or metric values stored
    duplicates: int = 0  # already there, unchanged
    refused: list[Refusal] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.refused.extend(other.refused)

    def refuse(self, row: CsvRow, reasons: Iterable[str]) -> None:
        self.refused.append(Refusal(row.line, "; ".join(reasons), row.raw))


@dataclass
class ImportSummary:
    kind: str
    file: str
    dry_run: bool
    rows_read: int = 0
    blank_rows: int = 0
    seconds: float = 0.0
    counts: Counts = field(default_factory=Counts)
    ignored_columns: list[str] = field(default_factory=list)
    mapping: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.counts.created + self.counts.updated + self.counts.accepted

    @property
    def refused_rows(self) -> int:
        return len({refusal.line for refusal in self.counts.refused})


@dataclass(frozen=True)
class Planned:
    """A row with the records its conversion gave."""

    row: CsvRow
    records: list[dict[str, Any]]


def _batches(rows: Iterable[CsvRow], size: int) -> Iterator[list[CsvRow]]:
    batch: list[CsvRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _describe_refusal(error: ValidationError, plan: ImportPlan, row: CsvRow) -> list[str]:
    if not error.fields:
        return [error.message]
    reasons = []
    for name, message in error.fields.items():
        ours = SERVICE_FIELD_NAMES.get(name, name)
        reasons.append(f"{plan.source_of(ours, row.values)}: {message}")
    return reasons


# --- accounts --------------------------------------------------------------------------------


def _account_unchanged(account: Account, values: dict[str, Any]) -> bool:
    """Whether applying ``values`` would change nothing (then the row is a duplicate)."""
    for name, value in values.items():
        if name == "external_id":
            continue
        if name == "csm_email":
            current = account.csm.email.lower() if account.csm is not None else None
            if current != value.lower():
                return False
        elif name == "currency":
            if account.currency != value.upper():
                return False
        elif getattr(account, name) != value:
            return False
    return True


def import_accounts(batch: list[Planned], plan: ImportPlan, *, now: datetime) -> Counts:
    """New external ids (first time in the batch) are created together by
    ``create_accounts``; the other rows go one by one through ``update_account`` with one flush
    for the batch, and are skipped when nothing would change."""
    counts = Counts()
    wanted = sorted({p.records[0]["external_id"] for p in batch})
    existing: dict[str, Account] = {}
    for chunk in chunks(wanted):
        existing.update(
            (a.external_id, a)
            for a in db.session.scalars(select(Account).where(Account.external_id.in_(chunk)))
        )
    new_rows: dict[str, tuple[Planned, dict[str, Any]]] = {}
    later: list[tuple[Planned, dict[str, Any]]] = []
    for planned in batch:
        values = dict(planned.records[0])
        if "arr" in values:
            values["arr_minor"] = values.pop("arr")
        external_id = values["external_id"]
        if external_id in existing or external_id in new_rows:
            later.append((planned, values))
        else:
            new_rows[external_id] = (planned, values)
    created = list(new_rows.values())
    answers = account_service.create_accounts([dict(v) for _, v in created], now=now)
    for (planned, _values), error in zip(created, answers, strict=True):
        if error is None:
            counts.created += 1
        else:
            counts.refuse(planned.row, _describe_refusal(error, plan, planned.row))
    if any(values["external_id"] not in existing for _, values in later):
        repeated = sorted({v["external_id"] for _, v in later} - set(existing))
        for chunk in chunks(repeated):  # created just above, repeated later in the batch
            existing.update(
                (a.external_id, a)
                for a in db.session.scalars(select(Account).where(Account.external_id.in_(chunk)))
            )
    with db.session.no_autoflush:  # one flush for the batch's updates, not one per row
        for planned, values in later:
            current = existing.get(values["external_id"])
            if current is not None and _account_unchanged(current, values):
                counts.duplicates += 1
                continue
            try:
                if current is None:  # an earlier row creating it was refused: try this one
                    current, _ = account_service.upsert_account(values, now=now)
                    existing[current.external_id] = current
                    counts.created += 1
                    continue
                account_service.update_account(current, values, user=None, now=now, flush=False)
            except ValidationError as error:
                counts.refuse(planned.row, _describe_refusal(error, plan, planned.row))
                continue
            counts.updated += 1
    db.session.flush()
    return counts


# --- contacts --------------------------------------------------------------------------------


class _ContactIndex:
    """The batch's accounts and their contacts, to match rows to existing contacts: by email,
    or by name (any case) among contacts that have no email yet."""

    def __init__(self, external_ids: list[str]) -> None:
        self.accounts: dict[str, Account] = {}
        for chunk in chunks(external_ids):
            self.accounts.update(
                (a.external_id, a)
                for a in db.session.scalars(select(Account).where(Account.external_id.in_(chunk)))
            )
        self.contacts: dict[int, list[Contact]] = {}
        ids = [a.id for a in self.accounts.values()]
        for chunk in chunks(ids):
            for contact in db.session.scalars(
                select(Contact).where(Contact.account_id.in_(chunk)).order_by(Contact.id)
            ):
                self.contacts.setdefault(contact.account_id, []).append(contact)

    def match(self, account: Account, values: dict[str, Any]) -> tuple[Contact | None, str]:
        contacts = self.contacts.get(account.id, [])
        email = values.get("email")
        if email:
            for contact in contacts:
                if contact.email and contact.email.lower() == email.lower():
                    return contact, ""
        named = [
            c
            for c in contacts
            if c.name.lower() == values["name"].lower() and not (email and c.email)
        ]
        if len(named) > 1:
            return None, (
                f"{account.external_id} has {len(named)} contacts named "
                f"'{values['name']}'; give an email to tell them apart"
            )
        return (named[0] if named else None), ""

    def add(self, contact: Contact) -> None:
        self.contacts.setdefault(contact.account_id, []).append(contact)


def import_contacts(batch: list[Planned], plan: ImportPlan, *, now: datetime) -> Counts:
    counts = Counts()
    index = _ContactIndex(sorted({p.records[0]["account"] for p in batch}))
    for planned in batch:
        values = dict(planned.records[0])
        external_id = values.pop("account")
        account = index.accounts.get(external_id)
        if account is None:
            counts.refuse(planned.row, [f"no account has the external_id '{external_id}'"])
            continue
        contact, problem = index.match(account, values)
        if problem:
            counts.refuse(planned.row, [problem])
            continue
        if contact is not None and all(getattr(contact, k) == v for k, v in values.items()):
            counts.duplicates += 1
            continue
        try:
            if contact is None:
                index.add(account_service.add_contact(account, values, user=None, now=now))
                counts.created += 1
            else:
                account_service.update_contact(contact, values, user=None, now=now)
                counts.updated += 1
        except ValidationError as error:
            counts.refuse(planned.row, _describe_refusal(error, plan, planned.row))
    return counts


# --- events and metrics ----------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _ingest_message(message: str, plan: ImportPlan, row: CsvRow) -> str:
    """The ingestion's message with the value and column it came from, and how to translate
    values when only some are allowed."""
    for name in sorted(plan.bindings, key=len, reverse=True):
        if message.startswith(name + " "):
            binding = plan.bindings[name]
            message = f"{plan.source_of(name, row.values)}{message[len(name) :]}"
            if "must be one of" in message and binding.column:
                message += f" (translate values with --value {name}:FROM=TO)"
            break
    return message


def import_events(batch: list[Planned], plan: ImportPlan, *, now: datetime) -> Counts:
    counts = Counts()
    items = [{k: _json_value(v) for k, v in p.records[0].items()} for p in batch]
    result = ingest_events(items, now=now)
    counts.accepted, counts.duplicates = result.accepted, result.duplicates
    for error in result.errors:
        row = batch[error["index"]].row
        counts.refuse(row, [_ingest_message(error["message"], plan, row)])
    return counts


def import_metrics(batch: list[Planned], plan: ImportPlan, *, now: datetime) -> Counts:
    counts = Counts()
    items, owners = [], []
    for planned in batch:
        for record in planned.records:
            items.append(record)
            owners.append(planned)
    result = ingest_metrics(items, now=now)
    counts.accepted, counts.duplicates = result.accepted, result.duplicates
    reasons: dict[int, list[str]] = {}
    for error in result.errors:
        planned = owners[error["index"]]
        prefix = f"{items[error['index']]['key']}: " if plan.wide else ""
        message = _ingest_message(error["message"], plan, planned.row)
        reasons.setdefault(id(planned), []).append(prefix + message)
    for planned in batch:
        if id(planned) in reasons:
            counts.refuse(planned.row, reasons[id(planned)])
    return counts


IMPORTERS: dict[str, Callable[..., Counts]] = {
    "accounts": import_accounts,
    "contacts": import_contacts,
    "events": import_events,
    "metrics": import_metrics,
}


def run_import(
    plan: ImportPlan,
    source: CsvSource,
    *,
    now: datetime,
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import every row of ``source`` as ``plan`` says; commit after each batch (or, for a dry
    run, roll everything back at the end)."""
    started = time.monotonic()
    summary = ImportSummary(
        plan.kind,
        source.path.name,
        dry_run,
        ignored_columns=list(plan.ignored_columns),
        mapping=plan.describe(),
    )
    importer = IMPORTERS[plan.kind]
    batch_size = max(1, min(batch_size, MAX_BATCH))
    try:
        for rows in _batches(source.rows(), batch_size):
            summary.rows_read += len(rows)
            counts = Counts()
            batch: list[Planned] = []
            for row in rows:
                if row.problem:
                    counts.refuse(row, [row.problem])
                    continue
                records, problems = plan.convert(row.values)
                if problems:
                    counts.refuse(row, problems)
                if records:
                    batch.append(Planned(row, records))
            if batch:
                try:
                    counts.add(_run_batch(importer, batch, plan, now))
                except SQLAlchemyError as error:
                    db.session.rollback()
                    summary.rows_read -= len(rows)
                    summary.seconds = time.monotonic() - started
                    raise ImportStopped(summary, rows[0].line, error) from error
            counts.refused = _one_per_line(counts.refused)
            summary.counts.add(counts)
            if not dry_run:
                db.session.commit()
            if progress is not None:
                progress(len(rows))
    finally:
        if dry_run:
            db.session.rollback()
    summary.blank_rows = source.blank_rows
    summary.seconds = time.monotonic() - started
    return summary


class ImportStopped(Exception):
    """The database failed in a way no row explains (no schema, connection lost): the import
    stops; batches committed before stay."""

    def __init__(self, summary: ImportSummary, line: int, error: SQLAlchemyError) -> None:
        self.summary, self.line = summary, line
        super().__init__(_short(error))


def _short(error: SQLAlchemyError) -> str:
    return str(getattr(error, "orig", None) or error).splitlines()[0][:200]


ROW_ERRORS = (DataError, IntegrityError)  # what a row's values can cause


def _run_batch(importer, batch: list[Planned], plan: ImportPlan, now: datetime) -> Counts:
    try:
        with db.session.begin_nested():
            return importer(batch, plan, now=now)
    except ROW_ERRORS:
        pass
    counts = Counts()
    for planned in batch:
        try:
            with db.session.begin_nested():
                counts.add(importer([planned], plan, now=now))
        except ROW_ERRORS as error:
            counts.refuse(planned.row, [f"the database refused this row ({_short(error)})"])
    return counts


def _one_per_line(refusals: list[Refusal]) -> list[Refusal]:
    """A row refused at several stages (a bad metric column, then the ingestion) is one
    refusal with every reason."""
    by_line: dict[int, Refusal] = {}
    for refusal in refusals:
        if refusal.line in by_line:
            by_line[refusal.line].reason += "; " + refusal.reason
        else:
            by_line[refusal.line] = refusal
    return [by_line[line] for line in sorted(by_line)]
