"""The sandbox's size and time limits: each bomb a lead could write is refused quickly, with a
message, before the huge value is built (one huge C-level operation holds the GIL, so no time
limit could stop it and a threaded server would stall every request meanwhile)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from cs_app.triggers.touchpoints import sandbox
from cs_app.triggers.touchpoints.sandbox import SAMPLE_CONTEXT, TemplateProblem, render

QUICK_SECONDS = 2.5  # generous: the refusals below take milliseconds
BOUNDED_BYTES = 20_000_000

REPEATED_SQUARING = "{% set a = 2**120 %}" + "{% set a = a * a %}" * 22 + "{{ a }}"


def refused_quickly(source: str, context=SAMPLE_CONTEXT) -> str:
    """The refusal's message, after checking it came within QUICK_SECONDS and BOUNDED_BYTES."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TemplateProblem) as caught:
            render(source, context)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < QUICK_SECONDS, f"refused after {elapsed:.1f} s"
    assert peak < BOUNDED_BYTES, f"{peak:,} bytes at peak"
    return caught.value.message


# --- numbers ----------------------------------------------------------------------------------


def test_repeated_squaring_is_refused():
    assert "numbers above 2**256 are not allowed in templates" in refused_quickly(REPEATED_SQUARING)


def test_a_product_is_refused_before_it_is_computed():
    # numbers from the context are not capped: squaring a 100-million-bit one takes seconds
    # and a 25 MB product
    huge = 1 << 100_000_000
    message = refused_quickly("{{ big * big }}", {**SAMPLE_CONTEXT, "big": huge})
    assert "numbers above 2**256" in message


@pytest.mark.parametrize(
    "source",
    [
        # 2**254, then doubled by subtraction and addition past 256 bits
        "{% set a = 2**127 * 2**127 %}{% set a = a - (0 - a) %}{% set a = a - (0 - a) %}{{ a }}",
        "{% set a = 2**127 * 2**127 %}{% set a = a + a %}{% set a = a + a %}{{ a }}",
        "{{ ('9' * 4000)|int }}",
    ],
)
def test_numbers_are_capped_however_they_are_made(source):
    assert "numbers above 2**256 are not allowed in templates" in refused_quickly(source)


def test_numbers_within_the_cap_still_work():
    assert render("{{ 2**120 * 2**120 - 1 > 0 }} {{ [1, 2, 3]|sum }}", SAMPLE_CONTEXT) == ("True 6")


# --- text and lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, limit",
    [
        ("{{ 'x' * 10**9 }}", "repeating that would make more than 100,000 characters"),
        ("{{ '%099999999d' % 1 }}", "the % formatting of text is not available"),
        ("{{ '{:099999999}'.format(1) }}", "'format'"),
        ("{{ 'x'|center(10**9) }}", "there is no filter 'center'"),
        ("{{ 'x'|format(1) }}", "there is no filter 'format'"),
        ("{{ range(10**9)|length }}", "range() is limited to 1,000 items"),
        ("{{ (['x' * 1000] * 99)|join('y' * 1000) }}", "join would make text longer"),
    ],
)
def test_text_bombs_are_refused(source, limit):
    assert limit in refused_quickly(source)


def test_nested_repetition_cannot_share_its_way_past_the_cap():
    # a billion items by reference: printing or joining them would run for minutes
    source = "{% set a = [1] * 1000 %}{% set b = [a] * 1000 %}{% set c = [b] * 1000 %}{{ c }}"
    assert "holding more than 100,000 items and characters in all" in refused_quickly(source)


def test_literals_doubling_a_list_are_weighed_as_they_are_built():
    source = "{% set a = [1] %}" + "{% set a = [a, a] %}" * 24 + "{{ a }}"
    assert "holding more than 100,000 items and characters in all" in refused_quickly(source)


def test_tuples_doubling_are_refused_before_they_are_hashed():
    source = "{% set a = (1,) %}" + "{% set a = (a, a) %}" * 26 + "{{ {a: 1}|length }}"
    assert "holding more than 100,000 items and characters in all" in refused_quickly(source)


@pytest.mark.parametrize(
    "source, limit",
    [
        ("{{ ('\\n' * 90000)|indent(100, true, true) }}", "indent() would make text longer"),
        (
            "{{ ('a ' * 1000)|wordwrap(1, wrapstring='y' * 90000) }}",
            "wordwrap() breaks lines with at most 10 characters",
        ),
        ("{{ ([[1] * 100] * 990)|sum(start=[]) }}", "sum() adds numbers only"),
        ("{{ today.strftime('%0999999Y' * 10000) }}", "strftime() takes a format of at most"),
        ("{{ today.strftime('%099Y') }}", "without widths like %010Y"),
    ],
)
def test_filters_and_methods_that_grow_text_are_checked_first(source, limit):
    assert limit in refused_quickly(source)


def test_the_usual_filters_still_work():
    assert (
        render(
            "{{ 'a b c'|wordwrap(1, wrapstring='<br>') }}|{{ 'x\\ny'|indent(2) }}|"
            "{{ today.strftime('%d %B %Y') }}|{{ [1.5, 2]|sum(start=1) }}",
            SAMPLE_CONTEXT,
        )
        == "a<br>b<br>c|x\n  y|21 November 2026|4.5"
    )


# --- work and time ----------------------------------------------------------------------------


def test_nested_loops_multiplying_iterations_are_stopped():
    source = (
        "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    assert "too much work" in refused_quickly(source)


def test_endless_recursion_through_a_macro_is_stopped():
    source = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"
    assert "the template calls itself too deeply" in refused_quickly(source)


def test_the_time_limit_is_checked_at_every_operation(monkeypatch):
    # each wordwrap is allowed and takes a good fraction of a second; a check every few
    # hundred operations would let dozens of them run
    monkeypatch.setattr(sandbox, "TIME_LIMIT_SECONDS", 0.5)
    source = "{% for i in range(1000) %}{{ ('a ' * 50000)|wordwrap(1)|length }}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateProblem) as caught:
        render(source, SAMPLE_CONTEXT)
    assert time.monotonic() - started < QUICK_SECONDS
    assert "the template took longer than 0.5 s to render" in caught.value.message
