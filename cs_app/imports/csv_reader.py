"""Read CSV exports as spreadsheets, CRMs and billing systems write them, and turn their text
into typed values.

Pure: imports nothing from Flask, SQLAlchemy or the app. Handles a byte order mark, CRLF line
ends, quoted fields spanning lines (line numbers are those of the row's first line, the header
being line 1), ``;`` or tab separated files, and Excel's habits: ``M/D/YYYY`` dates, ``7/28/2023
3:00`` times, ``TRUE``/``FALSE``, ``33,432.50`` amounts. Empty text means "missing".
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import deque
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

MAX_VALUE_CHARS = 64 * 1024  # one value; a longer one refuses its row
# One row, all its lines together. Below the csv module's own limit on a value (131,072), so
# that limit, which is global to the process, is never the one a file meets.
MAX_ROW_CHARS = 128_000
SKIP_CHUNK_CHARS = 64 * 1024  # an over-long line is read past in pieces this size
MARK_BAD_BYTES = "cs_app.mark_bad_bytes"
BAD_BYTE_BASE = 0xDC00  # an undecodable byte b is read as the lone surrogate U+DC00 + b
BAD_BYTE = re.compile("[\udc00-\udcff]")


def _mark_bad_bytes(error: UnicodeError) -> tuple[str | bytes, int]:
    """A codec error handler: like ``surrogateescape``, but for every byte value, so a byte the
    encoding cannot read is found in the line that holds it (the decoder works ahead of the
    lines, a chunk at a time), and can be turned back into that byte to name the problem."""
    if isinstance(error, UnicodeDecodeError):
        bad = error.object[error.start : error.end]
        return "".join(chr(BAD_BYTE_BASE + byte) for byte in bad), error.end
    if isinstance(error, UnicodeEncodeError):
        chars = error.object[error.start : error.end]
        if all(BAD_BYTE.match(char) for char in chars):
            return bytes(ord(char) - BAD_BYTE_BASE for char in chars), error.end
    raise error


codecs.register_error(MARK_BAD_BYTES, _mark_bad_bytes)


@dataclass(frozen=True)
class CsvRow:
    """One data row: ``values`` by column name, stripped; ``raw`` as the file has them.
    A row with a ``problem`` is refused whole (its values may be empty)."""

    line: int
    values: dict[str, str]
    raw: list[str]
    problem: str | None = None


class _LineTooLong(Exception):
    """A physical line longer than ``MAX_ROW_CHARS`` (it was read past, not kept)."""


class _RowTooLong(Exception):
    """A row whose lines together pass ``MAX_ROW_CHARS`` (a quoted value left open?)."""


Line = tuple[int, str | None]  # its number and its text (None: too long, not kept)


class _RowLines:
    """Feeds ``csv.reader`` one physical line at a time and keeps the lines of the row being
    read (at most ``MAX_ROW_CHARS`` of them), so a row refused for its quoting can have the
    lines after its first read again as rows of their own."""

    def __init__(self, lines: Iterator[Line]) -> None:
        self._lines = lines
        self._again: deque[Line] = deque()
        self.taken: list[Line] = []
        self._chars = 0

    def start_row(self) -> None:
        self.taken, self._chars = [], 0

    def read_again_after_first(self) -> None:
        self._again.extendleft(reversed(self.taken[1:]))

    def __iter__(self) -> _RowLines:
        return self

    def __next__(self) -> str:
        number, text = self._again.popleft() if self._again else next(self._lines)
        self.taken.append((number, text))
        if text is None:
            raise _LineTooLong
        if self._chars + len(text.rstrip("\r\n")) > MAX_ROW_CHARS:  # its own line end aside
            raise _RowTooLong
        self._chars += len(text)
        return text


@dataclass
class CsvSource:
    """A CSV file with a header line; iterate :meth:`rows` (any number of times).

    The file is streamed: a line is read with a bounded ``readline``, and one longer than
    ``MAX_ROW_CHARS`` is read past in pieces and refused, so memory stays flat whatever a line
    holds. A byte the encoding cannot read stops the file (:class:`CsvProblem`) naming its
    line and character, before anything is imported. Each refusal below costs its row only:

    * a line over ``MAX_ROW_CHARS``, or a value over ``MAX_VALUE_CHARS``;
    * a row repeating the header line (exports joined into one file);
    * more values than the header has columns;
    * a quote that is not closed properly: the file ends inside it, the quoted value runs past
      ``MAX_ROW_CHARS``, or text follows its closing quote (``"abc"def``). The row is refused
      at the line it starts on, and the lines after that one are read again as rows of their
      own: a quote left open costs one row, not the rows it would have swallowed;
    * a quoted value that closes, but only after running across a whole line that, read on
      its own, has as many values as the header (a quote left open until a stray quote on a
      later line closed it). The lines from the opening to the closing one are refused as
      one refusal at the opening line, naming both; none of them is imported, since they
      might equally be one long note. A value over two lines has no line in between, so it
      is always taken as written: a quote left open that a stray quote closes on the very
      next line cannot be told from a note with a line break.
    """

    path: Path
    encoding: str = DEFAULT_ENCODING
    delimiter: str | None = None
    header: list[str] = field(default_factory=list, init=False)
    blank_rows: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        header_line = self._header_line()
        if self.delimiter is None:
            self.delimiter = sniff_delimiter(header_line)
        header = next(csv.reader([header_line], delimiter=self.delimiter), [])
        self.header = [name.strip() for name in header]
        if not any(self.header):
            raise CsvProblem(f"{self.path.name} has no header line naming its columns.")

    def _open(self):
        return self.path.open(encoding=self.encoding, errors=MARK_BAD_BYTES, newline="")

    def _lines(self, handle) -> Iterator[Line]:
        """Each physical line with its number; ``None`` for one too long to keep."""
        number, after_cr = 0, False
        while piece := handle.readline(MAX_ROW_CHARS + 1):
            if after_cr and piece == "\n":  # a CR LF that the read limit split in two
                after_cr = False
                continue
            number += 1
            self._check_text(number, piece)
            if len(piece) <= MAX_ROW_CHARS or piece.endswith(("\n", "\r")):
                after_cr = piece.endswith("\r")
                yield number, piece
                continue
            while piece and not piece.endswith(("\n", "\r")):
                piece = handle.readline(SKIP_CHUNK_CHARS)
                self._check_text(number, piece)
            after_cr = piece.endswith("\r")
            yield number, None

    def _check_text(self, number: int, text: str) -> None:
        bad = BAD_BYTE.search(text)
        if bad is None:
            return
        try:
            text.encode(self.encoding, MARK_BAD_BYTES).decode(self.encoding)
            reason = f"byte 0x{ord(bad.group()) - BAD_BYTE_BASE:02x}"
        except UnicodeDecodeError as error:
            reason = error.reason
        raise CsvProblem(
            f"{self.path.name} line {number}, character {bad.start() + 1}, is not "
            f"{self.encoding} text ({reason}); give the export's encoding, e.g. "
            f"--encoding cp1252."
        )

    def _header_line(self) -> str:
        with self._open() as handle:
            for number, line in self._lines(handle):
                if line is None:
                    raise CsvProblem(
                        f"{self.path.name} line {number}, its header line, is longer than "
                        f"{MAX_ROW_CHARS:,} characters."
                    )
                if line.strip():
                    return line.rstrip("\r\n")
        raise CsvProblem(f"{self.path.name} is empty: it needs a header line naming its columns.")

    def count_rows(self) -> int:
        """Data rows (blank ones not counted); also checks the whole file decodes."""
        return sum(1 for _ in self.rows())

    def rows(self) -> Iterator[CsvRow]:
        """Each non-blank data row with the line it starts on; counts blank rows skipped."""
        self.blank_rows = 0
        with self._open() as handle:
            lines = self._lines(handle)
            for _number, line in lines:  # up to and including the header line
                if line is not None and line.strip():
                    break
            feed = _RowLines(lines)
            reader = csv.reader(feed, delimiter=self.delimiter, strict=True)
            while True:
                feed.start_row()
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except (csv.Error, _LineTooLong, _RowTooLong) as error:
                    yield self._unreadable(feed, error)
                    feed.read_again_after_first()
                    continue
                if not any(value.strip() for value in record):
                    self.blank_rows += 1
                    continue
                yield self._row(feed.taken, record)

    def _unreadable(self, feed: _RowLines, error: Exception) -> CsvRow:
        first, text = feed.taken[0]
        if text is None:
            problem = f"is longer than {MAX_ROW_CHARS:,} characters; it was not read"
        elif isinstance(error, _LineTooLong):
            problem = (
                f"opens a quoted value that runs into line {feed.taken[-1][0]}, a line too "
                f"long to read: a quote left open?"
            )
        elif isinstance(error, _RowTooLong):
            problem = (
                f"opens a quoted value that runs past {MAX_ROW_CHARS:,} characters: a quote "
                f"left open?"
            )
        elif str(error) == "unexpected end of data":
            problem = "opens a quoted value that is never closed (the file ends inside it)"
        else:
            problem = f"has a quoted value that is not closed properly ({error})"
        if len(feed.taken) > 1 and text is not None:
            problem += f"; the lines after line {first} are read as rows of their own"
        raw = next(csv.reader([text], delimiter=self.delimiter), []) if text else []
        return CsvRow(line=first, values={}, raw=_shortened(raw), problem=problem)

    def _row(self, taken: list[Line], record: list[str]) -> CsvRow:
        first = taken[0][0]
        width = len(self.header)
        values = {
            name: (record[i].strip() if i < len(record) else "")
            for i, name in enumerate(self.header)
            if name
        }
        problem = None
        swallowed = self._row_like_line(taken)
        long_values = [i for i, value in enumerate(record) if len(value) > MAX_VALUE_CHARS]
        if swallowed is not None:
            problem = (
                f"opens a quoted value that closes only on line {taken[-1][0]}, across "
                f"line {swallowed}, which reads as a row of its own: a quote left open? "
                f"Lines {first} to {taken[-1][0]} were not imported"
            )
        elif long_values:
            i = long_values[0]
            column = self.header[i] if i < width and self.header[i] else f"value {i + 1}"
            problem = (
                f"{column} holds {len(record[i]):,} characters; a value may hold at most "
                f"{MAX_VALUE_CHARS:,}"
            )
        elif any(value.strip() for value in record[width:]):
            problem = (
                f"has {len(record)} values but the header names {width} "
                f"columns (a separator inside a value that is not quoted?)"
            )
        elif [v.strip().lower() for v in record[:width]] == [h.lower() for h in self.header]:
            problem = "repeats the header line (were several exports joined into one file?)"
        raw = _shortened(record) if problem else record
        return CsvRow(line=first, values=values, raw=raw, problem=problem)

    def _row_like_line(self, taken: list[Line]) -> int | None:
        """The first line strictly inside a row spanning three lines or more that, read on
        its own, has at least as many values as the header (two or more)."""
        width = len(self.header)
        if width < 2:
            return None
        for number, text in taken[1:-1]:
            if text and len(next(csv.reader([text], delimiter=self.delimiter), [])) >= width:
                return number
        return None


SHOWN_VALUE_CHARS = 200  # a refused row's value beyond this is cut in the refusal and report


def _shortened(values: list[str]) -> list[str]:
    """A refused row as the report shows it: values cut to ``SHOWN_VALUE_CHARS`` (marked …),
    so refusals kept for the report stay small whatever the file holds."""
    return [v if len(v) <= SHOWN_VALUE_CHARS else v[:SHOWN_VALUE_CHARS] + "…" for v in values]


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
    try:
        return datetime.combine(day, moment, tzinfo=given_zone or zone).astimezone(UTC)
    except OverflowError:  # 12/31/9999 23:59 -01:00 is in the year 10000 in UTC
        raise ValueError("is not a date and time we can store (out of range)") from None


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
