"""Map a CSV export's columns onto the fields of an import, and convert each row to values.

Pure: imports nothing from Flask, SQLAlchemy or the app. The command line gives
``--map COLUMN=FIELD``, ``--default FIELD=VALUE``, ``--value FIELD:FROM=TO`` and
``--lookup FIELD=FILE:KEY_COLUMN:VALUE_COLUMN``; :func:`build_plan` checks them against the
file's header once (an unusable mapping raises :class:`MappingError` before any row is read) and
:meth:`ImportPlan.convert` turns one row into typed values or a list of problems, each naming the
field, the text and the column it came from.

A value goes through: the column's text (stripped) → value map → lookup → the default when it
is still empty → the field's type. Empty means missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from cs_app.imports.csv_reader import (
    DEFAULT_ENCODING,
    US_DATES,
    CsvSource,
    DateOrder,
    infer_property,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    parse_money_minor,
    parse_number,
)

KINDS = ("accounts", "contacts", "events", "metrics")
PROPERTY_PREFIX = "properties."
PROPERTY_TYPES = ("auto", "text", "int", "number", "bool", "date", "datetime")
METRIC_KEY = re.compile(r"^[a-z][a-z0-9_.:-]{0,79}$")  # as the bulk ingestion checks it


class MappingError(Exception):
    """The options cannot describe this file; the message says what to change."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # text, int, money, date, datetime, number, choice, property
    required: bool = False
    description: str = ""


FIELDS: dict[str, tuple[Field, ...]] = {
    "accounts": (
        Field("external_id", "text", True, "the key your other systems use"),
        Field("name", "text", description="needed to create an account"),
        Field("domain", "text"),
        Field("industry", "text"),
        Field("employees", "int"),
        Field("segment", "choice", description="SMB, Mid-Market or Enterprise"),
        Field("engagement_model", "choice", description="high-touch, low-touch, hybrid or joint"),
        Field("arr", "money", description="in major units: 33432 or 33,432.50"),
        Field("currency", "text", description="ISO code, e.g. USD"),
        Field("contract_start", "date"),
        Field("renewal_date", "date"),
        Field("csm_email", "text", description="the owning CSM's sign-in email"),
        Field("lifecycle_stage", "choice"),
        Field("stage_entered_on", "date"),
        Field("product_plan", "text"),
        Field("seats_purchased", "int"),
        Field("trial_ends_on", "date"),
        Field("primary_use_case", "text"),
        Field("purchase_trigger", "text"),
        Field("previous_solutions", "text"),
        Field("strategic_priorities", "text"),
    ),
    "contacts": (
        Field("account", "text", True, "the account's external_id"),
        Field("name", "text", True),
        Field("title", "text"),
        Field("email", "text", description="matches an existing contact of the account"),
        Field("role", "choice"),
        Field("influence", "choice"),
        Field("engagement", "choice", description="high, medium or low"),
        Field("last_contact_on", "date"),
        Field("status", "choice", description="active or departed"),
    ),
    "events": (
        Field("id", "text", True, "unique per event: a re-import skips known ids"),
        Field("account", "text", True, "the account's external_id"),
        Field("type", "text", True, "e.g. login, feature_used, support_ticket"),
        Field("at", "datetime", True, "when it happened"),
        Field("user", "text"),
    ),
    "metrics": (
        Field("account", "text", True, "the account's external_id"),
        Field("key", "text", True, "the metric's name, e.g. seats_used"),
        Field("value", "number", True),
        Field("date", "date", True, "the day measured"),
    ),
}


def field_names(kind: str) -> list[str]:
    names = [f.name for f in FIELDS[kind]]
    return names + ["properties.NAME"] if kind == "events" else names


def resolve_field(kind: str, name: str) -> tuple[Field, str]:
    """``name`` as a field of ``kind`` (with the property type for ``properties.NAME:TYPE``)."""
    name = name.strip()
    if kind == "events" and name.startswith(PROPERTY_PREFIX):
        prop, _, prop_type = name[len(PROPERTY_PREFIX) :].partition(":")
        prop, prop_type = prop.strip(), (prop_type.strip() or "auto")
        if not prop:
            raise MappingError(
                f"'{name}' names no property: write properties.NAME, e.g. properties.feature."
            )
        if prop_type not in PROPERTY_TYPES:
            raise MappingError(f"'{name}': a property type is one of {', '.join(PROPERTY_TYPES)}.")
        return Field(PROPERTY_PREFIX + prop, "property"), prop_type
    for candidate in FIELDS[kind]:
        if candidate.name == name:
            return candidate, "auto"
    raise MappingError(f"{kind} have no field '{name}'. Fields: {', '.join(field_names(kind))}.")


def normalize_choice(text: str) -> str:
    return re.sub(r"[\s_/-]+", "_", text.strip().lower()).strip("_")


def choice_spellings(options: Iterable[str] | Mapping[str, str]) -> dict[str, str]:
    """Every accepted spelling (value or label, any case, spaces or dashes) → the value."""
    pairs = (
        list(options.items())
        if isinstance(options, Mapping)
        else [(option, option) for option in options]
    )
    spellings: dict[str, str] = {}
    for value, label in pairs:
        spellings[normalize_choice(label)] = value
        spellings[normalize_choice(value)] = value
    return spellings


# --- option parsing --------------------------------------------------------------------------


def parse_map_option(text: str) -> tuple[str, str]:
    """``--map COLUMN=FIELD`` → (column, field)."""
    column, sep, name = text.rpartition("=")
    if not sep or not column.strip() or not name.strip():
        raise MappingError(f"--map {text!r}: write COLUMN=FIELD, e.g. account_id=external_id.")
    return column.strip(), name.strip()


def parse_default_option(text: str) -> tuple[str, str]:
    """``--default FIELD=VALUE`` → (field, value)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise MappingError(f"--default {text!r}: write FIELD=VALUE, e.g. currency=USD.")
    return name.strip(), value.strip()


def parse_value_option(text: str) -> tuple[str, str, str]:
    """``--value FIELD:FROM=TO`` → (field, from, to); an empty TO means "missing"."""
    name, sep, rest = text.partition(":")
    source, sep2, target = rest.partition("=")
    if not sep or not sep2 or not name.strip() or not source.strip():
        raise MappingError(f"--value {text!r}: write FIELD:FROM=TO, e.g. segment:Basic=SMB.")
    return name.strip(), source.strip(), target.strip()


def parse_lookup_option(text: str) -> tuple[str, Path, str, str]:
    """``--lookup FIELD=FILE.csv:KEY_COLUMN:VALUE_COLUMN`` → (field, file, key, value)."""
    name, sep, rest = text.partition("=")
    parts = rest.rsplit(":", 2)
    if not sep or not name.strip() or len(parts) != 3 or not all(p.strip() for p in parts):
        raise MappingError(
            f"--lookup {text!r}: write FIELD=FILE.csv:KEY_COLUMN:VALUE_COLUMN, e.g. "
            f"account=subscriptions.csv:subscription_id:account_id."
        )
    return name.strip(), Path(parts[0].strip()), parts[1].strip(), parts[2].strip()


def parse_metric_columns(texts: Iterable[str]) -> list[tuple[str, str]]:
    """``usage_count,errors=error_count`` → [(column, metric key), ...]; the key defaults to
    the column's name in lower case."""
    pairs: list[tuple[str, str]] = []
    for text in texts:
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            column, _, key = item.partition("=")
            column = column.strip()
            key = key.strip() or re.sub(r"[^a-z0-9_.:-]+", "_", column.lower()).strip("_")
            if not METRIC_KEY.match(key):
                raise MappingError(
                    f"--metric-columns {item!r}: a metric key is lowercase letters, digits and "
                    f"_ . : - starting with a letter; write COLUMN=KEY, e.g. {column}=my_metric."
                )
            pairs.append((column, key))
    return pairs


# --- lookups ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """A translation table from another CSV: ``key column`` value → ``value column`` value."""

    label: str
    table: Mapping[str, str | None]  # None: the key has several different values

    def translate(self, text: str) -> str:
        if text not in self.table:
            raise ValueError(f"is not found in {self.label}")
        value = self.table[text]
        if value is None:
            raise ValueError(f"has several different values in {self.label}")
        return value


def load_lookup(
    path: Path, key_column: str, value_column: str, *, encoding: str = DEFAULT_ENCODING
) -> Lookup:
    source = CsvSource(path, encoding=encoding)
    for column in (key_column, value_column):
        if column not in source.header:
            raise MappingError(
                f"--lookup: {path.name} has no column '{column}'; its columns "
                f"are: {', '.join(c for c in source.header if c)}."
            )
    table: dict[str, str | None] = {}
    for row in source.rows():
        if row.problem:  # unreadable, or not a row at all (a repeated header line)
            continue
        key, value = row.values[key_column], row.values[value_column]
        if key:
            table[key] = value if table.get(key, value) == value else None
    return Lookup(f"{path.name} (column {key_column})", table)


# --- the plan --------------------------------------------------------------------------------


@dataclass
class Binding:
    """Where one field's value comes from, and how it is transformed."""

    field: Field
    column: str | None = None
    default: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    folded_values: dict[str, str] = field(default_factory=dict)
    lookup: Lookup | None = None
    property_type: str = "auto"
    explicit: bool = False

    @property
    def name(self) -> str:
        return self.field.name

    def text(self, row: Mapping[str, str]) -> str:
        text = row.get(self.column, "") if self.column else ""
        if text and self.values:
            if text in self.values:
                text = self.values[text]
            else:
                text = self.folded_values.get(text.casefold(), text)
        if text and self.lookup is not None:
            text = self.lookup.translate(text)
        return text or (self.default or "")

    def describe(self) -> str:
        parts = [f"{self.column} → {self.name}" if self.column else f"{self.name}"]
        if self.property_type != "auto":
            parts[0] += f" ({self.property_type})"
        if self.default is not None:
            parts.append(f"default {self.default!r}")
        if self.values:
            parts.append(f"{len(self.values)} value map(s)")
        if self.lookup is not None:
            parts.append(f"looked up in {self.lookup.label}")
        return ", ".join(parts)


@dataclass
class ImportPlan:
    kind: str
    bindings: dict[str, Binding]
    ignored_columns: list[str]
    metric_columns: list[tuple[str, str]] = field(default_factory=list)
    date_order: DateOrder = US_DATES
    zone: tzinfo = UTC
    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def wide(self) -> bool:
        return bool(self.metric_columns)

    def required(self) -> list[Field]:
        skip = ("key", "value") if self.wide else ()
        return [f for f in FIELDS[self.kind] if f.required and f.name not in skip]

    def describe(self) -> list[str]:
        lines = [binding.describe() for binding in self.bindings.values()]
        lines += [f"{column} → metric {key}" for column, key in self.metric_columns]
        return lines

    def source_of(self, name: str, row: Mapping[str, str]) -> str:
        """How a problem names a field's value: ``segment 'Basic' (column plan_tier)``."""
        binding = self.bindings.get(name)
        if binding is None:
            return name
        raw = row.get(binding.column, "") if binding.column else ""
        if not raw:
            return f"{name} {binding.default!r}" if binding.default else name
        where = f" (column {binding.column})" if binding.column.lower() != name.lower() else ""
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw)  # \r\n as such
        return f"{name} '{shown}'{where}"

    def coerce(self, binding: Binding, text: str) -> Any:
        kind = binding.field.type
        if kind == "property":
            return _coerce_property(binding.property_type, text, self)
        if kind == "choice":
            return self.choices.get(binding.name, {}).get(normalize_choice(text), text)
        if kind == "int":
            return parse_int(text)
        if kind == "money":
            return parse_money_minor(text)
        if kind == "number":
            return parse_number(text)
        if kind == "date":
            return parse_date(text, self.date_order)
        if kind == "datetime":
            return parse_datetime(text, self.date_order, self.zone)
        return text

    def convert(self, row: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
        """The records one row gives (one, or one per metric column in wide mode) and the
        problems found; a row with a problem in a common field gives no record."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for binding in self.bindings.values():
            try:
                text = binding.text(row)
                value = self.coerce(binding, text) if text else None
            except ValueError as error:
                problems.append(f"{self.source_of(binding.name, row)} {error}")
                continue
            if value is None:
                continue
            if binding.field.type == "property":
                values.setdefault("properties", {})[binding.name[len(PROPERTY_PREFIX) :]] = value
            else:
                values[binding.name] = value
        for required in self.required():
            if required.name not in values and not any(
                p.startswith(required.name + " ") for p in problems
            ):
                binding = self.bindings[required.name]
                where = f" (column {binding.column})" if binding.column else ""
                problems.append(f"{required.name} is empty{where}")
        if problems:
            return [], problems
        if not self.wide:
            return [values], []
        records = []
        for column, key in self.metric_columns:
            text = row.get(column, "")
            if not text:
                continue
            try:
                records.append({**values, "key": key, "value": parse_number(text)})
            except ValueError as error:
                problems.append(f"{column} '{text}' {error}")
        if not records and not problems:
            columns = ", ".join(column for column, _ in self.metric_columns)
            problems.append(f"has no value in any metric column ({columns})")
        return records, problems


def _coerce_property(prop_type: str, text: str, plan: ImportPlan) -> Any:
    if prop_type == "auto":
        return infer_property(text)
    if prop_type == "int":
        return parse_int(text)
    if prop_type == "number":
        return parse_number(text)
    if prop_type == "bool":
        return parse_bool(text)
    if prop_type == "date":
        return parse_date(text, plan.date_order).isoformat()
    if prop_type == "datetime":
        return parse_datetime(text, plan.date_order, plan.zone).isoformat()
    return text


def _find_column(header: list[str], column: str, option: str) -> str:
    if column in header:
        return column
    matches = [name for name in header if name and name.casefold() == column.casefold()]
    if len(matches) == 1:
        return matches[0]
    columns = ", ".join(name for name in header if name)
    raise MappingError(f"{option}: the file has no column '{column}'; its columns are: {columns}.")


def build_plan(
    kind: str,
    header: list[str],
    *,
    maps: Iterable[tuple[str, str]] = (),
    defaults: Iterable[tuple[str, str]] = (),
    value_maps: Iterable[tuple[str, str, str]] = (),
    lookups: Iterable[tuple[str, Lookup]] = (),
    metric_columns: Iterable[tuple[str, str]] = (),
    date_order: DateOrder = US_DATES,
    zone: tzinfo = UTC,
    choices: Mapping[str, Mapping[str, str]] | None = None,
) -> ImportPlan:
    """Check the options against the header and say where each field comes from.

    Explicit ``--map`` entries first; then a column whose name is a field's name (any case)
    feeds that field unless the column or the field is mapped already. Other columns are
    ignored and listed."""
    if kind not in KINDS:
        raise MappingError(f"Unknown import kind '{kind}'; use one of {', '.join(KINDS)}.")
    plan = ImportPlan(kind, {}, [], list(metric_columns), date_order, zone, choices or {})
    used_columns: set[str] = set()

    def binding_for(name: str, option: str) -> Binding:
        found, prop_type = resolve_field(kind, name)
        binding = plan.bindings.get(found.name)
        if binding is None:
            binding = plan.bindings[found.name] = Binding(found, property_type=prop_type)
        elif prop_type != "auto":
            binding.property_type = prop_type
        if plan.wide and found.name in ("key", "value"):
            raise MappingError(
                f"{option}: --metric-columns gives each value its key; do not "
                f"also map '{found.name}'."
            )
        return binding

    for column, name in maps:
        option = f"--map {column}={name}"
        column = _find_column(header, column, option)
        binding = binding_for(name, option)
        if binding.column is not None:
            raise MappingError(
                f"{option}: {binding.name} already comes from column "
                f"'{binding.column}'; map one column to each field."
            )
        binding.column, binding.explicit = column, True
        used_columns.add(column)
    for column, _key in plan.metric_columns:
        used_columns.add(_find_column(header, column, f"--metric-columns {column}"))
    plan.metric_columns = [
        (_find_column(header, c, "--metric-columns"), k) for c, k in plan.metric_columns
    ]
    for column in header:
        if not column or column in used_columns:
            continue
        name = column.lower()
        if name.startswith(PROPERTY_PREFIX):
            name = PROPERTY_PREFIX + column[len(PROPERTY_PREFIX) :]
        try:
            found, prop_type = resolve_field(kind, name)
        except MappingError:
            continue
        if found.name in plan.bindings or (plan.wide and found.name in ("key", "value")):
            continue  # the field has its column already, or wide mode gives it
        plan.bindings[found.name] = Binding(found, column=column, property_type=prop_type)
        used_columns.add(column)
    for name, value in defaults:
        option = f"--default {name}={value}"
        binding = binding_for(name, option)
        binding.default = value
        _check_default(plan, binding, option)
    for name, source, target in value_maps:
        option = f"--value {name}:{source}={target}"
        binding = binding_for(name, option)
        if binding.column is None:
            raise MappingError(
                f"{option}: no column feeds {binding.name}; map one first "
                f"(--map COLUMN={binding.name})."
            )
        binding.values[source] = target
        binding.folded_values.setdefault(source.casefold(), target)
    for name, lookup in lookups:
        option = f"--lookup {name}=…"
        binding = binding_for(name, option)
        if binding.column is None:
            raise MappingError(
                f"{option}: no column feeds {binding.name}; map one first "
                f"(--map COLUMN={binding.name})."
            )
        binding.lookup = lookup
    _check_columns_once(header, used_columns)
    missing = [
        f.name
        for f in plan.required()
        if f.name not in plan.bindings
        or (plan.bindings[f.name].column is None and plan.bindings[f.name].default is None)
    ]
    if missing:
        columns = ", ".join(name for name in header if name)
        raise MappingError(
            f"{kind} need {_and(missing)}, but nothing feeds "
            f"{'it' if len(missing) == 1 else 'them'}: map a column (--map COLUMN="
            f"{missing[0]}) or give one value for every row (--default {missing[0]}=VALUE). "
            f"Columns in the file: {columns}."
        )
    seen: set[str] = set()
    plan.ignored_columns = [
        c for c in header if c and c not in used_columns and not (c in seen or seen.add(c))
    ]
    return plan


def _check_default(plan: ImportPlan, binding: Binding, option: str) -> None:
    try:
        value = plan.coerce(binding, binding.default or "")
    except ValueError as error:
        raise MappingError(f"{option}: {binding.default!r} {error}.") from None
    spellings = plan.choices.get(binding.name)
    if spellings and value not in spellings.values():
        allowed = ", ".join(dict.fromkeys(spellings.values()))
        raise MappingError(f"{option}: {binding.name} is one of {allowed}.")


def _check_columns_once(header: list[str], used: set[str]) -> None:
    for column in used:
        if header.count(column) > 1:
            raise MappingError(
                f"The header names column '{column}' more than once; rename "
                f"one so the mapping is clear."
            )


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
