"""Reading hostile or broken CSV files: each refusal costs its row (or, for a quoted value
that swallows rows, names them), never the file; memory stays flat whatever a line holds."""

from __future__ import annotations

import tracemalloc

import pytest

from cs_app.imports.csv_reader import (
    MAX_ROW_CHARS,
    MAX_VALUE_CHARS,
    CsvProblem,
    CsvSource,
)


def source(tmp_path, data: bytes, **options) -> CsvSource:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    return CsvSource(path, **options)


def read(tmp_path, data: bytes) -> list[tuple[int, str | None, dict[str, str]]]:
    return [(row.line, row.problem, row.values) for row in source(tmp_path, data).rows()]


def problems(tmp_path, data: bytes) -> dict[int, str | None]:
    return {row.line: row.problem for row in source(tmp_path, data).rows()}


# --- long lines and values ---------------------------------------------------------------------


def test_an_over_long_line_is_refused_and_the_rows_around_it_kept(tmp_path):
    long_line = b"2," + b"x" * (MAX_ROW_CHARS + 10) + b"\r\n"
    rows = read(tmp_path, b"id,name\r\n1,Acme\r\n" + long_line + b"3,Cargo\r\n")
    assert [(line, values.get("name")) for line, _, values in rows] == [
        (2, "Acme"),
        (3, None),
        (4, "Cargo"),
    ]
    assert rows[1][1] == "is longer than 128,000 characters; it was not read"
    assert rows[0][1] is None and rows[2][1] is None


def test_a_line_just_within_the_cap_ending_in_crlf_keeps_later_line_numbers_right(tmp_path):
    """The read limit can split its CR LF; the lone LF left is not a line of its own."""
    line = b"2," + b"x" * 64_000 + b"," + b"y" * (MAX_ROW_CHARS - 64_003) + b"\r\n"
    data = b"id,name,note\r\n" + line + b"3,Cargo,z\r\n"
    assert len(line) == MAX_ROW_CHARS + 2
    assert [(line, problem) for line, problem, _ in read(tmp_path, data)] == [(2, None), (3, None)]
    assert source(tmp_path, data).blank_rows == 0


def test_a_value_over_the_value_cap_is_refused(tmp_path):
    value = b"y" * (MAX_VALUE_CHARS + 1)
    found = problems(tmp_path, b"id,note\n1," + value + b"\n2,fine\n")
    assert found == {
        2: "note holds 65,537 characters; a value may hold at most 65,536",
        3: None,
    }


def test_a_refused_row_keeps_only_the_start_of_a_long_value(tmp_path):
    value = b"y" * (MAX_VALUE_CHARS + 1)
    row = next(source(tmp_path, b"id,note\n1," + value + b"\n").rows())
    assert row.raw == ["1", "y" * 200 + "…"]


def test_memory_stays_flat_whatever_a_line_holds(tmp_path):
    huge = b"2," + b"x" * (50 * 1024 * 1024) + b"\n"
    csv_source = source(tmp_path, b"id,name\n1,Acme\n" + huge + b"3,Cargo\n")
    tracemalloc.start()
    try:
        rows = list(csv_source.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(row.line, row.problem is None) for row in rows] == [(2, True), (3, False), (4, True)]
    assert peak < 20 * 1024 * 1024


def test_an_over_long_header_line_stops_the_file(tmp_path):
    with pytest.raises(CsvProblem, match="line 1, its header line, is longer than 128,000"):
        source(tmp_path, b"id," + b"h" * MAX_ROW_CHARS + b"\n1,2\n")


# --- the header again --------------------------------------------------------------------------


def test_a_repeated_header_line_is_refused(tmp_path):
    found = problems(tmp_path, b"external_id,name\nA-1,Acme\nexternal_id, Name \nA-2,Bolt\n")
    assert found == {
        2: None,
        3: "repeats the header line (were several exports joined into one file?)",
        4: None,
    }


# --- quotes ------------------------------------------------------------------------------------


def test_a_quote_never_closed_costs_its_row_and_the_rows_after_it_are_read(tmp_path):
    rows = read(tmp_path, b'id,name\n1,"Acme\n2,Bolt\n3,Cargo\n')
    assert [(line, values.get("name")) for line, _, values in rows] == [
        (2, None),
        (3, "Bolt"),
        (4, "Cargo"),
    ]
    assert rows[0][1] == (
        "opens a quoted value that is never closed (the file ends inside it); the lines after "
        "line 2 are read as rows of their own"
    )


def test_text_after_a_closing_quote_costs_its_row_and_the_rows_after_it_are_read(tmp_path):
    """The quote opened on line 2 is closed by line 3's first quote, then text follows."""
    rows = read(tmp_path, b'id,name,note\n1,"Acme,x\n2,"Bolt",y\n3,Cargo,z\n')
    assert [(line, values.get("name")) for line, _, values in rows] == [
        (2, None),
        (3, "Bolt"),
        (4, "Cargo"),
    ]
    assert rows[0][1].startswith("has a quoted value that is not closed properly (")
    assert rows[1][1] is None and rows[2][1] is None


def test_a_quoted_value_past_the_row_cap_costs_its_row_and_the_rows_after_it_are_read(tmp_path):
    count = MAX_ROW_CHARS // 30
    body = b"".join(b"%d,%s\n" % (n, b"n" * 32) for n in range(count))
    rows = list(source(tmp_path, b'id,name\n1,"Acme\n' + body + b'9,"closed"\n').rows())
    assert rows[0].line == 2
    assert rows[0].problem == (
        "opens a quoted value that runs past 128,000 characters: a quote left open?; the "
        "lines after line 2 are read as rows of their own"
    )
    assert len(rows) == 1 + count + 1
    assert all(row.problem is None for row in rows[1:])


def test_a_quoted_value_running_into_an_over_long_line_costs_its_row(tmp_path):
    long_line = b"x" * (MAX_ROW_CHARS + 1) + b"\n"
    found = problems(tmp_path, b'id,name\n1,"Acme\n' + long_line + b"3,Cargo\n")
    assert found == {
        2: "opens a quoted value that runs into line 3, a line too long to read: a quote "
        "left open?; the lines after line 2 are read as rows of their own",
        3: "is longer than 128,000 characters; it was not read",
        4: None,
    }


def test_a_quote_closed_by_a_stray_quote_lines_later_is_refused_naming_the_lines(tmp_path):
    """Line 3 would be a row of its own: the rows inside are reported, not silently lost."""
    data = b'id,name,note\n1,"Acme,x\n2,Bolt,y\n3,Cargo 5",z\n4,Dune,w\n'
    rows = list(source(tmp_path, data).rows())
    assert [(row.line, row.values.get("name")) for row in rows] == [
        (2, "Acme,x\n2,Bolt,y\n3,Cargo 5"),
        (5, "Dune"),
    ]
    assert rows[0].problem == (
        "opens a quoted value that closes only on line 4, across line 3, which reads as a "
        "row of its own: a quote left open? Lines 2 to 4 were not imported"
    )
    assert rows[1].problem is None


def test_a_note_over_several_lines_is_kept(tmp_path):
    data = b'id,name,note\n1,Acme,"first line\nsecond, with a comma\nthird"\n2,Bolt,x\n'
    rows = list(source(tmp_path, data).rows())
    assert [(row.line, row.problem) for row in rows] == [(2, None), (5, None)]
    assert rows[0].values["note"] == "first line\nsecond, with a comma\nthird"


# --- encodings ---------------------------------------------------------------------------------


def test_an_encoding_error_names_its_line_and_character(tmp_path):
    data = b"id,name\n1,Acme\n2,Caf\xe9\n3,Bolt\n"
    with pytest.raises(CsvProblem) as problem:
        source(tmp_path, data).count_rows()
    assert str(problem.value) == (
        "export.csv line 3, character 6, is not utf-8-sig text (invalid continuation byte); "
        "give the export's encoding, e.g. --encoding cp1252."
    )


def test_an_encoding_error_in_a_skipped_over_long_line_names_that_line(tmp_path):
    data = b"id,name\n1,Acme\n2," + b"x" * (MAX_ROW_CHARS * 2) + b"\xff\n"
    with pytest.raises(CsvProblem, match=r"export\.csv line 3, character \d+, is not utf-8"):
        source(tmp_path, data).count_rows()


def test_a_utf16_export_reads_with_its_encoding(tmp_path):
    data = "id,name\r\n1,Café\r\n2,Bolt\r\n".encode("utf-16")
    rows = list(source(tmp_path, data, encoding="utf-16").rows())
    assert [(row.line, row.values["name"]) for row in rows] == [(2, "Café"), (3, "Bolt")]
