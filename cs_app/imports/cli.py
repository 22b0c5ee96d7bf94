"""``cs-app import accounts|contacts|events|metrics FILE.csv``: load a CRM or billing export
as it is, with a column mapping.

Unusable input (a missing file, an unknown field, a required field nothing feeds, a column
the file lacks) stops before anything is read, with exit code 2 and a message saying what to
change. Bad rows do not stop the import: they are listed with their line and reason (all of
them with ``--report``) and the command exits 0.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask.cli import with_appcontext

from cs_app.csv_cells import neutralise_formula
from cs_app.db_types import utcnow
from cs_app.imports.csv_reader import US_DATES, CsvProblem, CsvSource, parse_date_format
from cs_app.imports.importers import (
    CHOICES,
    DEFAULT_BATCH,
    MAX_BATCH,
    ImportStopped,
    ImportSummary,
    run_import,
)
from cs_app.imports.mapping import (
    FIELDS,
    KINDS,
    MappingError,
    build_plan,
    load_lookup,
    parse_default_option,
    parse_lookup_option,
    parse_map_option,
    parse_metric_columns,
    parse_value_option,
)
from cs_app.jobs.catch_up import CATCH_UP_JOB
from cs_app.jobs.status import describe_schedule
from cs_app.scheduler import job_by_name

SHOWN_REFUSALS = 20
GROUP_HELP = """Load accounts, contacts, events or metric values from a CSV export.

\b
  cs-app import accounts accounts.csv --map account_id=external_id \\
      --map account_name=name --map plan_tier=segment --value segment:Basic=SMB \\
      --value segment:Pro=Mid-Market --default currency=USD
  cs-app import events tickets.csv --map ticket_id=id --map account_id=account \\
      --map submitted_at=at --default type=support_ticket \\
      --map priority=properties.severity --value properties.severity:medium=normal

A column whose name is already a field's name is used as is; other columns are ignored and
listed. Run `cs-app import KIND --help` for the fields of each kind.
"""

OPTIONS_HELP = {
    "map": "Read FIELD from COLUMN (repeatable; one column may feed several fields). Events "
    "take properties.NAME, or properties.NAME:TYPE with TYPE one of int, number, bool, "
    "date, datetime, text (default: inferred).",
    "default": "The value of FIELD when the row has none, or when no column feeds FIELD "
    "(repeatable).",
    "value": "Translate a column's value, e.g. segment:Pro=Mid-Market; an empty TO means "
    "missing (repeatable; exact match first, then any case).",
    "lookup": "Replace FIELD's value by the VALUE column of the row of FILE (a CSV) whose "
    "KEY column equals it, e.g. account=subscriptions.csv:subscription_id:account_id "
    "(repeatable).",
    "date_format": "How dates with slashes are read: M/D/YYYY (the default, as US Excel "
    "writes them) or D/M/YYYY (also DD.MM.YYYY, %d/%m/%Y). YYYY-MM-DD is always "
    "accepted. Without this option a date such as 3/4/2024 is March 4.",
    "timezone": "Zone of times written without one (e.g. 7/28/2023 3:00).",
    "encoding": "The file's text encoding (a byte order mark is always dropped).",
    "delimiter": "The column separator (default: the one the header uses, of , ; tab |).",
    "batch_size": "Rows per batch; each batch is committed on its own.",
    "dry_run": "Check every row against the database and report, but write nothing.",
    "report": "Write the refused rows (line, reason, the row as read) to this CSV file.",
    "metric_columns": "Wide files: each of these columns is a metric value (key = the "
    "column's name unless given); account and date come from the mapping "
    "(repeatable).",
}


def _kind_help(kind: str) -> str:
    lines = [f"Import {kind} from FILE (a CSV export with a header line).", "", "\b", "Fields:"]
    for f in FIELDS[kind]:
        note = (" (required)" if f.required else "") + (
            f" — {f.description}" if f.description else ""
        )
        lines.append(f"  {f.name:<20} {f.type}{note}")
    if kind == "events":
        lines.append(f"  {'properties.NAME':<20} any other value of the event")
    extra = {
        "accounts": "Rows create or update the account with that external_id; fields left "
        "empty keep their value. Rows equal to what is stored count as duplicates.",
        "contacts": "A row updates the account's contact with the same email (or, without an "
        "email, the same name) or adds one.",
        "events": "Re-importing is harmless: known ids count as duplicates.",
        "metrics": "One value per account, key and day; a new value replaces the old one.",
    }[kind]
    dates = (
        "Dates: YYYY-MM-DD or M/D/YYYY (day first only with --date-format D/M/YYYY); "
        "times such as 7/28/2023 3:00 or 2023-07-28T03:00:00Z; empty values are missing."
    )
    return "\n".join([*lines, "", extra, "", dates])


def _options(kind: str) -> list[Callable]:
    options = [
        click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        click.option(
            "--map", "maps", multiple=True, metavar="COLUMN=FIELD", help=OPTIONS_HELP["map"]
        ),
        click.option(
            "--default",
            "defaults",
            multiple=True,
            metavar="FIELD=VALUE",
            help=OPTIONS_HELP["default"],
        ),
        click.option(
            "--value",
            "value_maps",
            multiple=True,
            metavar="FIELD:FROM=TO",
            help=OPTIONS_HELP["value"],
        ),
        click.option(
            "--lookup",
            "lookups",
            multiple=True,
            metavar="FIELD=FILE:KEY:VALUE",
            help=OPTIONS_HELP["lookup"],
        ),
        click.option("--date-format", metavar="FORMAT", help=OPTIONS_HELP["date_format"]),
        click.option("--timezone", default="UTC", show_default=True, help=OPTIONS_HELP["timezone"]),
        click.option(
            "--encoding", default="utf-8-sig", show_default=True, help=OPTIONS_HELP["encoding"]
        ),
        click.option("--delimiter", default=None, help=OPTIONS_HELP["delimiter"]),
        click.option(
            "--batch-size",
            default=DEFAULT_BATCH,
            show_default=True,
            type=click.IntRange(1, MAX_BATCH),
            help=OPTIONS_HELP["batch_size"],
        ),
        click.option("--dry-run", is_flag=True, help=OPTIONS_HELP["dry_run"]),
        click.option(
            "--report",
            type=click.Path(dir_okay=False, writable=True, path_type=Path),
            metavar="FILE.csv",
            help=OPTIONS_HELP["report"],
        ),
    ]
    if kind == "metrics":
        options.append(
            click.option(
                "--metric-columns",
                multiple=True,
                metavar="COLUMN[=KEY],…",
                help=OPTIONS_HELP["metric_columns"],
            )
        )
    return options


@click.group("import", help=GROUP_HELP)
def import_group() -> None:
    pass


def _make_command(kind: str) -> click.Command:
    def command(**options) -> None:
        _import(kind, **options)

    command.__name__ = f"import_{kind}"
    command = with_appcontext(command)
    for option in reversed(_options(kind)):
        command = option(command)
    return click.command(kind, help=_kind_help(kind))(command)


for _kind in KINDS:
    import_group.add_command(_make_command(_kind))


def _usage(error: Exception) -> click.UsageError:
    return click.UsageError(str(error).strip())


def _prepare(kind: str, file: Path, options: dict):
    """The source and the plan, or a usage error (exit code 2) saying what to change."""
    try:
        date_order = (
            parse_date_format(options["date_format"]) if options["date_format"] else US_DATES
        )
    except ValueError as error:
        raise _usage(f"--date-format: {error}.") from error
    try:
        zone = ZoneInfo(options["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise _usage(
            f"--timezone: unknown zone {options['timezone']!r}; use a name such "
            f"as UTC or Europe/Berlin."
        ) from error
    delimiter = options["delimiter"]
    if delimiter is not None:
        delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
        if len(delimiter) != 1:
            raise _usage("--delimiter: give one character, e.g. ';' (or tab).")
    try:
        source = CsvSource(file, encoding=options["encoding"], delimiter=delimiter)
        lookups = []
        for text in options["lookups"]:
            name, path, key_column, value_column = parse_lookup_option(text)
            if not path.is_file():
                raise MappingError(f"--lookup {text!r}: there is no file {path}.")
            lookups.append(
                (name, load_lookup(path, key_column, value_column, encoding=options["encoding"]))
            )
        plan = build_plan(
            kind,
            source.header,
            maps=[parse_map_option(text) for text in options["maps"]],
            defaults=[parse_default_option(text) for text in options["defaults"]],
            value_maps=[parse_value_option(text) for text in options["value_maps"]],
            lookups=lookups,
            metric_columns=parse_metric_columns(options.get("metric_columns") or ()),
            date_order=date_order,
            zone=zone,
            choices=CHOICES.get(kind),
        )
        total = source.count_rows()
    except (MappingError, CsvProblem) as error:
        raise _usage(error) from error
    except LookupError as error:  # an unknown --encoding
        raise _usage(f"--encoding: {error}.") from error
    return source, plan, total


class _LineProgress:
    """``n/total rows`` on stderr at most once a second (for logs and pipes)."""

    def __init__(self, kind: str, total: int) -> None:
        self.kind, self.total, self.done, self.shown_at = kind, total, 0, 0.0

    def __call__(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.done >= self.total or now - self.shown_at >= 1.0:
            self.shown_at = now
            percent = 100 * self.done // max(self.total, 1)
            click.echo(f"{self.kind}: {self.done:,}/{self.total:,} rows ({percent}%)", err=True)


def _import(kind: str, file: Path, **options) -> None:
    source, plan, total = _prepare(kind, file, options)
    run = {"now": utcnow(), "batch_size": options["batch_size"], "dry_run": options["dry_run"]}
    try:
        if sys.stderr.isatty():
            with click.progressbar(
                length=total, label=f"Importing {kind}", file=sys.stderr, show_pos=True
            ) as bar:
                summary = run_import(plan, source, progress=bar.update, **run)
        else:
            summary = run_import(plan, source, progress=_LineProgress(kind, total), **run)
    except ImportStopped as stopped:
        kept = (
            "nothing was written"
            if options["dry_run"]
            else (f"the {stopped.summary.rows_read:,} rows before it were processed and are kept")
        )
        raise click.ClickException(
            f"The database failed on the batch starting at line {stopped.line} ({stopped}); "
            f"{kept}. Is the schema up to date (cs-app db upgrade)?"
        ) from stopped
    if options["report"] is not None:
        _write_report(options["report"], source, summary)
    _print_summary(summary, options["report"])


def _write_report(path: Path, source: CsvSource, summary: ImportSummary) -> None:
    """The refused rows, for a person to open in a spreadsheet: no cell runs as a formula."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason", *map(neutralise_formula, source.header)])
        for refusal in summary.counts.refused:
            cells = [refusal.reason, *refusal.raw]
            writer.writerow([refusal.line, *map(neutralise_formula, cells)])


def _print_summary(summary: ImportSummary, report: Path | None) -> None:
    counts = summary.counts
    what = {
        "accounts": "accounts",
        "contacts": "contacts",
        "events": "events",
        "metrics": "metric values",
    }[summary.kind]
    if summary.dry_run:
        click.echo(
            f"Dry run of {summary.kind} from {summary.file}: nothing was written. "
            f"Had it run ({summary.seconds:.1f} s):"
        )
    else:
        click.echo(f"Imported {summary.kind} from {summary.file} in {summary.seconds:.1f} s.")
    click.echo(f"  rows read:    {summary.rows_read:,}")
    if summary.kind in ("accounts", "contacts"):
        click.echo(
            f"  imported:     {summary.imported:,} {what} (created {counts.created:,}, "
            f"updated {counts.updated:,})"
        )
        click.echo(f"  duplicates:   {counts.duplicates:,} (already stored as in the file)")
    else:
        click.echo(f"  imported:     {counts.accepted:,} {what}")
        known = (
            "ids already stored or repeated"
            if summary.kind == "events"
            else "same value already stored, or a later row for the same account, key and day"
        )
        click.echo(f"  duplicates:   {counts.duplicates:,} ({known})")
    click.echo(f"  refused:      {summary.refused_rows:,} rows")
    if summary.blank_rows:
        click.echo(f"  blank rows:   {summary.blank_rows:,} skipped")
    click.echo("Mapping: " + "; ".join(summary.mapping))
    if summary.ignored_columns:
        click.echo("Columns ignored: " + ", ".join(summary.ignored_columns))
    if counts.refused:
        shown = counts.refused[:SHOWN_REFUSALS]
        more = len(counts.refused) - len(shown)
        tail = f" (first {len(shown)} of {len(counts.refused):,})" if more else ""
        click.echo(f"Refused rows{tail}:")
        for refusal in shown:
            click.echo(f"  line {refusal.line}: {refusal.reason}")
        if report is not None:
            click.echo(f"All refused rows are in {report}.")
        elif more:
            click.echo("Give --report FILE.csv to get them all.")
    if summary.kind != "contacts" and summary.imported and not summary.dry_run:
        click.echo(
            "Health scores take the new data in at the next catch-up run "
            f"({describe_schedule(job_by_name(CATCH_UP_JOB))} while a scheduler runs; "
            f"`cs-app jobs run {CATCH_UP_JOB}` runs it now)."
        )
