"""What may go into an email header: one line, no control characters."""

from __future__ import annotations

import pytest

from cs_app.header_text import breaks_header, one_line, one_line_refusal


@pytest.mark.parametrize(
    "value",
    [
        "Evil\r\nBcc: x@example.com",
        "line\nbreak",
        "carriage\rreturn",
        "trailing\n",
        "nul\x00",
        "tab\there",
        "next\x85line",
        "line\u2028separator",
        "paragraph\u2029separator",
    ],
)
def test_line_breaks_and_control_characters_break_a_header(value):
    assert breaks_header(value)


@pytest.mark.parametrize("value", ["Dana Smith", "Zoë Ångström", "O'Brien, Pat", "李小龍", ""])
def test_ordinary_names_do_not(value):
    assert not breaks_header(value)


def test_one_line_joins_lines_with_a_space_and_drops_control_characters():
    assert one_line("Plan review due: Q1\r\n  Bcc: x@example.com\x00") == (
        "Plan review due: Q1 Bcc: x@example.com"
    )
    assert one_line("Zoë Ångström") == "Zoë Ångström"
    assert not breaks_header(one_line("a\u2028b\x07c"))


def test_the_refusal_names_the_field():
    assert one_line_refusal("name") == (
        "Write the name on one line, without line breaks or control characters."
    )
