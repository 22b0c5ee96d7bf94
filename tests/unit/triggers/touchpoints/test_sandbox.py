"""The touchpoint template sandbox: what a template may use, and every way out it refuses with
a message that says what and where."""

from __future__ import annotations

from datetime import date

import pytest

from cs_app.money import format_money
from cs_app.triggers.rules.builtin import BUILTIN_TOUCHPOINT_TEMPLATES
from cs_app.triggers.touchpoints.sandbox import (
    SAMPLE_CONTEXT,
    TemplateProblem,
    build_context,
    render,
    render_message,
    validate_template,
)


def refusal(source: str, field: str = "body") -> str:
    with pytest.raises(TemplateProblem) as caught:
        render(source, SAMPLE_CONTEXT, field=field)
    return caught.value.message


# --- what templates can do ------------------------------------------------------------------


def test_fields_of_the_account_contact_and_csm_render():
    text = render(
        "Hi {{ contact.first_name }}, {{ account.name }} renews on "
        "{{ account.renewal_date }} ({{ account.days_to_renewal }} days, "
        "{{ account.arr }}). {{ csm.name }}",
        SAMPLE_CONTEXT,
    )
    assert text == ("Hi Dana, Acme Corp renews on 2027-01-15 (55 days, $24,000). Casey Miller")


def test_jinja_control_flow_filters_and_safe_methods_work():
    source = (
        "{% for key in ['segment', 'industry'] %}{{ loop.index }}:"
        "{{ account[key]|upper }} {% endfor %}{{ account.name.lower() }} "
        "{{ today.strftime('%d %B %Y') }} {{ contact.title|default('-') }}"
        "{% if signals.health_band == 'healthy' %} ok{% endif %}"
    )
    assert render(source, SAMPLE_CONTEXT) == (
        "1:MID-MARKET 2:SOFTWARE acme corp 21 November 2026 Head of Operations ok"
    )


def test_a_field_without_a_value_prints_as_nothing():
    context = build_context(
        account={"name": "Acme"}, contact={"name": "Dana"}, today=date(2026, 11, 21)
    )
    assert (
        render("[{{ contact.title }}|{{ account.renewal_date }}|{{ signals.last_nps }}]", context)
        == "[||]"
    )


def test_a_pooled_account_is_signed_by_the_team():
    context = build_context(account={"name": "Acme"}, csm=None, today=date(2026, 11, 21))
    assert render("{{ csm.name }}", context) == "the Customer Success team"


def test_text_is_not_escaped_but_the_html_version_escapes_every_value():
    context = build_context(account={"name": "Tom & Jerry <Ltd>"}, today=date(2026, 11, 21))
    message = render_message(
        "About {{ account.name }}",
        "Hello <b>{{ account.name }}</b>\nline two\n\nnew paragraph",
        context,
        html=True,
    )
    assert message.subject == "About Tom & Jerry <Ltd>"
    assert message.body == "Hello <b>Tom & Jerry <Ltd></b>\nline two\n\nnew paragraph"
    assert message.body_html == (
        "<p>Hello <b>Tom &amp; Jerry &lt;Ltd&gt;</b><br>\nline two</p>\n<p>new paragraph</p>"
    )


def test_the_subject_is_one_line_of_at_most_300_characters():
    message = render_message(
        "Hello\n  {{ account.name }}\r\nagain" + "x" * 400, "body", SAMPLE_CONTEXT
    )
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.subject.startswith("Hello Acme Corp again")
    assert len(message.subject) == 300 and message.subject.endswith("…")


def test_money_is_formatted_in_its_currency():
    assert format_money(2_400_000, "USD") == "$24,000"
    assert format_money(123_456, "EUR") == "€1,234.56"
    assert format_money(5_000, "CHF") == "50 CHF"
    assert format_money(None, "USD", missing="") == ""
    assert format_money(5_000, None) == "50"


# --- unknown names and fields ---------------------------------------------------------------


def test_an_unknown_field_is_refused_naming_it_and_the_known_ones():
    message = refusal("Hello\n{{ account.nmae }}")
    assert message.startswith("Body, line 2: there is no field 'nmae' here; the fields are: ")
    assert "external_id" in message and "name" in message


def test_an_unknown_name_is_refused_with_the_names_a_template_can_use():
    assert refusal("{{ acount.name }}", field="subject") == (
        "Subject, line 1: 'acount' is unknown; a template can use account, contact, csm, "
        "recipient, rule, signals, matched, today"
    )


def test_a_syntax_error_names_its_line():
    assert refusal("one\ntwo\n{% if account.name %}three") == (
        "Body, line 3: Unexpected end of template. Jinja was looking for the following tags: "
        "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'."
    )


def test_a_filter_off_the_allow_list_is_refused():
    message = refusal("{{ account.name|center(1000000000) }}")
    assert message.startswith(
        "Body, line 1: there is no filter 'center' in templates; available: abs, "
    )


# --- escapes and abuse ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, blocked",
    [
        ("{{ ''.__class__.__mro__ }}", "__class__"),
        ("{{ account.__init__ }}", "__init__"),
        ("{{ account['__class__'] }}", "__class__"),
        ("{{ account._private }}", "_private"),
        ("{{ today.__class__.__subclasses__() }}", "__class__"),
    ],
)
def test_underscored_names_are_refused_before_rendering(source, blocked):
    assert refusal(source) == (
        f"Body, line 1: {blocked!r} cannot be used: names starting with _ are blocked in templates"
    )


@pytest.mark.parametrize(
    "source, blocked",
    [
        ("{% set n = '__cla' ~ 'ss__' %}{{ account[n] }}", "__class__"),
        ("{{ [account]|map(attribute='__class__')|list }}", "__class__"),
        ("{{ [account]|selectattr('__class__')|list }}", "__class__"),
    ],
)
def test_underscored_names_built_at_render_time_are_refused(source, blocked):
    assert refusal(source) == (
        f"Body, line 1: templates cannot use {blocked!r}: names starting with _ are blocked"
    )


@pytest.mark.parametrize(
    "source, method",
    [
        ("{{ '{0.__class__}'.format(account) }}", "format"),
        ("{{ account.name.zfill(1000000000) }}", "zfill"),
        ("{{ today.replace(year=1) }}", "replace"),
        ("{{ account.pop('name') }}", "pop"),
    ],
)
def test_methods_off_the_allow_list_are_refused(source, method):
    assert refusal(source) == (
        f"Body, line 1: templates cannot use {method!r}: it is not a field of the data"
    )


@pytest.mark.parametrize(
    "source, limit",
    [
        ("{{ range(10**9)|list }}", "range() is limited to 1,000 items in templates"),
        ("{% for i in range(10**9) %}x{% endfor %}", "range() is limited to 1,000 items"),
        ("{{ 10**10**10 }}", "that power is too large for a template"),
        ("{{ 'x' * 1000000000 }}", "repeating that would make more than 100,000 characters"),
        ("{{ [1] * 10**6 }}", "repeating that would make more than 1,000 items"),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "the template does too much work (more than 100,000 operations)",
        ),
        # work or time, whichever runs out first on a busy machine
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            "; simplify its loops",
        ),
        ("{{ '%s' % account }}", "the % formatting of text is not available in templates"),
        ("{{ account.name.replace('', 'x' * 50000) }}", "replace() would make text longer"),
        ("{{ ('x' * 90000) ~ ('y' * 90000) }}", "text longer than 100,000 characters"),
        ("{{ ('x' * 90000) + ('y' * 90000) }}", "text longer than 100,000 characters"),
        ("{{ ('x' * 1000)|list|join('y' * 1000) }}", "join would make text longer"),
    ],
)
def test_resource_abuse_is_stopped_with_a_message(source, limit):
    message = refusal(source)
    assert message.startswith("Body, line 1: ") and limit in message


def test_doubling_a_string_by_recursion_is_stopped():
    source = (
        "{% macro double(s, n) %}{% if n %}{{ double(s ~ s, n - 1) }}{% else %}"
        "{{ s|length }}{% endif %}{% endmacro %}{{ double('x', 40) }}"
    )
    assert "text longer than 100,000 characters is not allowed" in refusal(source)


def test_the_output_is_limited():
    assert "the rendered text is longer than 100,000" in refusal(
        "{% for i in range(1000) %}{{ 'x' * 200 }}{% endfor %}"
    )


def test_a_runtime_error_names_its_line():
    assert refusal("a\n\n{{ 1 / 0 }}") == "Body, line 3: ZeroDivisionError: division by zero"


# --- validating a template before it is saved ----------------------------------------------


def test_a_good_template_has_no_problems():
    assert (
        validate_template(
            "Hello {{ account.name }}", "Hi {{ contact.first_name }},\n{{ matched.logins_7d }}"
        )
        == {}
    )


def test_validation_reports_each_field_with_its_line():
    problems = validate_template("Hi {{ contact.nmae }}", "ok\n{% for %}")
    assert problems["subject"].startswith("Subject, line 1: there is no field 'nmae' here")
    assert problems["body"] == "Body, line 2: Expected an expression, got 'end of statement block'"


def test_validation_refuses_escapes_empty_and_oversized_fields():
    assert validate_template("", "{{ ''.__class__ }}") == {
        "subject": "Write the subject.",
        "body": "Body, line 1: '__class__' cannot be used: names starting with _ are blocked "
        "in templates",
    }
    assert validate_template("x" * 301, "y" * 20_001) == {
        "subject": "The subject is at most 300 characters.",
        "body": "The body is at most 20,000 characters.",
    }


def test_every_template_the_app_ships_renders_in_the_sandbox():
    for template in BUILTIN_TOUCHPOINT_TEMPLATES:
        assert validate_template(template["subject"], template["body"]) == {}, template["key"]


@pytest.mark.parametrize("subject", ["Hello\r\nBcc: x@example.com", "Hello\n{{ account.name }}"])
def test_a_subject_with_a_line_break_is_refused(subject):
    assert validate_template(subject, "Hi.") == {
        "subject": "Write the subject on one line, without line breaks or control characters."
    }


def test_a_body_may_have_line_breaks():
    assert validate_template("Hello", "Hi,\r\n\r\nThanks.") == {}
