"""Read CSV exports as spreadsheets, CRMs and billing systems write them, and turn their text
into typed values.

Pure: imports nothing from Flask, SQLAlchemy or the app. Handles a byte order mark, CRLF line
ends, quoted fields spanning lines (line numbers are those of the row's first line, the header
being line 1), ``;`` or tab separated files, and Excel's habits: ``M/D/YYYY`` dates, ``7/28/2023
3:00`` times, ``TRUE``/``FALSE``, ``33,432.50`` amounts. Empty text means "missing".
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path

from cs_app.money import to_minor

DEFAULT_ENCODING = "utf-8-sig"  # reads plain UTF-8 too and drops a byte order mark
DELIMITERS = (",", ";", "\t", "|")
MAX_INT = 2**31 - 1  # the widest whole-number column we fill (employees, seats)
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


class CsvProblem(Exception):
    """The file cannot be read as a CSV export (empty, not text in the encoding given)."""


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvRow:
    """One data row: ``values`` by column name, stripped; ``raw`` as the file has them."""

    line: int
    values: dict[str, str]
    raw: list[str]
    problem: str | None = None


@dataclass
class CsvSource:
    """A CSV file with a header line; iterate :meth:`rows` (any number of times)."""

    path: Path
    encoding: str = DEFAULT_ENCODING
    delimiter: str | None = None
    header: list[str] = field(default_factory=list, init=False)
    blank_rows: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        first_line = self._first_line()
        if self.delimiter is None:
            self.delimiter = sniff_delimiter(first_line)
        header = next(csv.reader([first_line], delimiter=self.delimiter), [])
        self.header = [name.strip() for name in header]
        if not any(self.header):
            raise CsvProblem(f"{self.path.name} has no header line naming its columns.")

    def _open(self):
        return self.path.open(encoding=self.encoding, newline="")

    def _first_line(self) -> str:
        try:
            with self._open() as handle:
                for line in handle:
                    if line.strip():
                        return line.rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise _not_text(self, 1, error) from error
        raise CsvProblem(f"{self.path.name} is empty: it needs a header line naming its columns.")

    def count_rows(self) -> int:
        """Data rows (blank ones not counted); also checks the whole file decodes."""
        return sum(1 for _ in self.rows())

    def rows(self) -> Iterator[CsvRow]:
        """Each non-blank data row with the line it starts on; counts blank rows skipped."""
        self.blank_rows = 0
        width = len(self.header)
        with self._open() as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            line = 1
            try:
                header_seen = False
                for record in reader:
                    start, line = line, reader.line_num + 1
                    if not header_seen:
                        if any(value.strip() for value in record):
                            header_seen = True
                        continue
                    if not any(value.strip() for value in record):
                        self.blank_rows += 1
                        continue
                    problem = None
                    extra = record[width:]
                    if any(value.strip() for value in extra):
                        problem = (
                            f"has {len(record)} values but the header names {width} "
                            f"columns (a separator inside a value that is not quoted?)"
                        )
                    values = {
                        name: (record[i].strip() if i < len(record) else "")
                        for i, name in enumerate(self.header)
                        if name
                    }
                    yield CsvRow(line=start, values=values, raw=record, problem=problem)
            except UnicodeDecodeError as error:
                raise _not_text(self, line, error) from error
            except csv.Error as error:
                raise CsvProblem(f"{self.path.name} line {line}: {error}") from error


def _not_text(source: CsvSource, line: int, error: UnicodeDecodeError) -> CsvProblem:
    return CsvProblem(
        f"{source.path.name} near line {line} is not {source.encoding} text ({error.reason}); "
        f"give the export's encoding, e.g. --encoding cp1252."
    )


def sniff_delimiter(header_line: str) -> str:
    """The separator the header uses most (comma when none appears)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


# --- dates and times -------------------------------------------------------------------------


@dataclass(frozen=True)
class DateOrder:
    """How day-month-year dates with slashes (or dots, dashes) are read."""

    order: str  # "mdy", "dmy" or "ymd"
    explicit: bool = False

    @property
    def expected(self) -> str:
        return {
            "mdy": "M/D/YYYY or YYYY-MM-DD",
            "dmy": "D/M/YYYY or YYYY-MM-DD",
            "ymd": "YYYY-MM-DD",
        }[self.order]


US_DATES = DateOrder("mdy")


def parse_date_format(text: str) -> DateOrder:
    """``M/D/YYYY``, ``DD.MM.YYYY``, ``YYYY-MM-DD``, ``%d/%m/%Y`` … → the order of the parts."""
    spec = text.strip()
    if "%" in spec:
        tokens = re.findall(r"%([dmYy])", spec)
        if "y" in tokens:
            raise ValueError("use four-digit years (%Y), not %y")
        letters = "".join(t.lower() for t in tokens)
    else:
        if 0 < spec.upper().count("Y") < 4:
            raise ValueError("use four-digit years (YYYY)")
        letters = "".join(dict.fromkeys(c for c in spec.lower() if c in "dmy"))
    if sorted(letters) != ["d", "m", "y"] or letters not in ("mdy", "dmy", "ymd"):
        raise ValueError(f"{text!r} is not a date format; use M/D/YYYY, D/M/YYYY or YYYY-MM-DD")
    return DateOrder(letters, explicit=True)


DATE_PARTS = re.compile(r"^(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})$")
TIME_PART = re.compile(
    r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?\s*(?:([AaPp])\.?[Mm]\.?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$"
)


def _split_date_time(text: str) -> tuple[str, str | None]:
    text = text.strip()
    if len(text) > 10 and text[:4].isdigit() and text[10:11] in ("T", "t"):
        return text[:10], text[11:]
    date_text, _, time_text = text.partition(" ")
    return date_text, (time_text.strip() or None)


def _date_from_parts(text: str, order: DateOrder) -> date:
    match = DATE_PARTS.match(text)
    if not match:
        raise ValueError
    first, second, third = match.groups()
    if len(first) == 4:
        return date(int(first), int(second), int(third))
    if len(third) != 4 or len(first) > 2 or order.order == "ymd":
        raise ValueError
    if order.order == "dmy":
        return date(int(third), int(second), int(first))
    return date(int(third), int(first), int(second))


def _date_problem(text: str, order: DateOrder, what: str = "a date") -> ValueError:
    hint = ""
    if not order.explicit:
        try:
            _date_from_parts(_split_date_time(text)[0], DateOrder("dmy"))
            hint = "; for day-first dates give --date-format D/M/YYYY"
        except ValueError:
            pass
    return ValueError(f"is not {what} (expected {order.expected}{hint})")


def _parse_time(text: str) -> tuple[time, tzinfo | None]:
    match = TIME_PART.match(text.strip())
    if not match:
        raise ValueError
    hour, minute, second, fraction, half, zone = match.groups()
    hour, minute = int(hour), int(minute)
    if half:
        if not 1 <= hour <= 12:
            raise ValueError
        hour = hour % 12 + (12 if half.lower() == "p" else 0)
    micro = int((fraction or "0").ljust(6, "0"))
    moment = time(hour, minute, int(second or 0), micro)
    if zone is None:
        return moment, None
    if zone.upper() in ("Z", "UTC"):
        return moment, UTC
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return moment, timezone(sign * offset)


def parse_date(text: str, order: DateOrder = US_DATES) -> date:
    """A day: ``YYYY-MM-DD`` always; ``M/D/YYYY`` (or ``D/M/YYYY`` when ``order`` says so).
    A time after the date (``7/28/2023 0:00``) is checked and dropped."""
    date_text, time_text = _split_date_time(text)
    try:
        day = _date_from_parts(date_text, order)
        if time_text is not None:
            _parse_time(time_text)
    except ValueError:
        raise _date_problem(text, order) from None
    return day


def parse_datetime(text: str, order: DateOrder = US_DATES, zone: tzinfo = UTC) -> datetime:
    """A moment in UTC: ``2023-07-28T03:00:00Z``, ``7/28/2023 3:00``, ``7/28/2023 3:00 PM``
    or a bare date (midnight). A time without a zone is read in ``zone``."""
    date_text, time_text = _split_date_time(text)
    try:
        day = _date_from_parts(date_text, order)
        moment, given_zone = _parse_time(time_text) if time_text else (time(0, 0), None)
    except ValueError:
        expected = (
            f"{order.expected.split(' or ')[0]} H:MM or ISO 8601 such as 2026-11-21T09:30:00Z"
        )
        raise ValueError(f"is not a date and time (expected {expected})") from None
    return datetime.combine(day, moment, tzinfo=given_zone or zone).astimezone(UTC)


# --- numbers, money, booleans ----------------------------------------------------------------

NUMBER = re.compile(r"^([+-])?(\d{1,3}(?:,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?$")
MONEY = re.compile(r"^([+-])?\s*[$€£¥]?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d*)?$")


def parse_bool(text: str) -> bool:
    """TRUE/FALSE, yes/no, y/n, 1/0, t/f in any case."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("is not true or false (expected TRUE/FALSE, yes/no or 1/0)")


def parse_int(text: str) -> int:
    """A whole number; thousands separators and a zero fraction (``12.0``) are fine."""
    match = NUMBER.match(text.strip())
    if not match or match.group(2) is None or match.group(4):
        raise ValueError("is not a whole number")
    if match.group(3) and set(match.group(3)[1:]) != {"0"}:
        raise ValueError("is not a whole number")
    value = int((match.group(1) or "") + match.group(2).replace(",", ""))
    if abs(value) > MAX_INT:
        raise ValueError(f"is too large (at most {MAX_INT:,})")
    return value


def parse_number(text: str) -> float:
    """A number (``1,234.5``, ``-0.25``, ``1e3``); ``TRUE``/``FALSE`` count as 1 and 0."""
    stripped = text.strip()
    match = NUMBER.match(stripped)
    if match and (match.group(2) or match.group(3)):
        return float(stripped.replace(",", ""))
    try:
        return 1.0 if parse_bool(stripped) else 0.0
    except ValueError:
        raise ValueError("is not a number") from None


def parse_money_minor(text: str) -> int:
    """An amount in major units (``33432``, ``33,432.50``, ``$1,200``) → integer minor units
    (cents), rounded half up to the cent."""
    match = MONEY.match(text.strip())
    if not match:
        raise ValueError("is not an amount (expected a number such as 33432 or 33,432.50)")
    sign, whole, fraction = match.groups()
    fraction = fraction if fraction and fraction != "." else ""
    amount = Decimal((sign or "") + whole.replace(",", "") + fraction)
    return to_minor(amount)


PROPERTY_INT = re.compile(r"^-?(0|[1-9]\d{0,14})$")
PROPERTY_FLOAT = re.compile(r"^-?(0|[1-9]\d*)\.\d+$")


def infer_property(text: str) -> bool | int | float | str:
    """An event property's value: ``TRUE``/``FALSE`` → bool, ``12`` → int, ``1.5`` → float,
    anything else (including ``007``) stays text."""
    word = text.strip()
    if word.lower() in ("true", "false"):
        return word.lower() == "true"
    if PROPERTY_INT.match(word):
        return int(word)
    if PROPERTY_FLOAT.match(word):
        return float(word)
    return word
