"""CSV import, the pure parts: reading exports, typed values, and the column mapping."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cs_app.imports.csv_reader import (
    CsvProblem,
    CsvSource,
    DateOrder,
    infer_property,
    parse_bool,
    parse_date,
    parse_date_format,
    parse_datetime,
    parse_int,
    parse_money_minor,
    parse_number,
)
from cs_app.imports.mapping import (
    Lookup,
    MappingError,
    build_plan,
    choice_spellings,
    load_lookup,
    parse_default_option,
    parse_lookup_option,
    parse_map_option,
    parse_metric_columns,
    parse_value_option,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import"
DAY_FIRST = DateOrder("dmy", explicit=True)


def write(tmp_path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- purity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["cs_app.imports.csv_reader", "cs_app.imports.mapping"])
def test_reader_and_mapping_load_no_framework(module):
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = [m for m in ('flask', 'sqlalchemy', 'cs_app.extensions') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


# --- dates and times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-08-27", date(2024, 8, 27)),
        ("10/16/2024", date(2024, 10, 16)),
        ("7/1/2024", date(2024, 7, 1)),
        ("07/01/2024", date(2024, 7, 1)),
        ("2024/8/27", date(2024, 8, 27)),
        ("7/28/2023 0:00", date(2023, 7, 28)),
        ("2023-07-28T03:00:00Z", date(2023, 7, 28)),
    ],
)
def test_dates_iso_and_month_first(text, expected):
    assert parse_date(text) == expected


def test_an_ambiguous_date_is_month_first_unless_the_format_says_day_first():
    assert parse_date("3/4/2024") == date(2024, 3, 4)
    assert parse_date("3/4/2024", DAY_FIRST) == date(2024, 4, 3)
    assert parse_date("28.07.2023", DAY_FIRST) == date(2023, 7, 28)
    assert parse_date("2024-04-03", DAY_FIRST) == date(2024, 4, 3)  # ISO always works


def test_an_impossible_date_says_what_is_expected():
    with pytest.raises(ValueError) as error:
        parse_date("13/45/2024")
    assert str(error.value) == "is not a date (expected M/D/YYYY or YYYY-MM-DD)"


def test_a_day_first_date_gets_a_hint_instead_of_a_silent_swap():
    with pytest.raises(ValueError) as error:
        parse_date("13/1/2024")
    assert "for day-first dates give --date-format D/M/YYYY" in str(error.value)


@pytest.mark.parametrize("text", ["7/28/23", "yesterday", "2024-02-30", "7/28/2023 25:00", ""])
def test_bad_dates_are_refused(text):
    with pytest.raises(ValueError, match="is not a date"):
        parse_date(text)


def test_an_iso_only_format_refuses_slashed_dates():
    with pytest.raises(ValueError, match=r"expected YYYY-MM-DD\)"):
        parse_date("7/28/2023", parse_date_format("YYYY-MM-DD"))


@pytest.mark.parametrize(
    "text, order",
    [
        ("M/D/YYYY", "mdy"),
        ("MM/DD/YYYY", "mdy"),
        ("D/M/YYYY", "dmy"),
        ("DD.MM.YYYY", "dmy"),
        ("%d/%m/%Y", "dmy"),
        ("YYYY-MM-DD", "ymd"),
        ("%Y-%m-%d", "ymd"),
    ],
)
def test_date_formats(text, order):
    assert parse_date_format(text) == DateOrder(order, explicit=True)


@pytest.mark.parametrize(
    "text, message",
    [
        ("D/M/YY", "four-digit years"),
        ("%d/%m/%y", "four-digit years"),
        ("whenever", "is not a date format"),
        ("YYYY/DD/MM", "is not a date format"),
    ],
)
def test_bad_date_formats_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_date_format(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7/28/2023 3:00", datetime(2023, 7, 28, 3, 0, tzinfo=UTC)),
        ("10/17/2024 19:00", datetime(2024, 10, 17, 19, 0, tzinfo=UTC)),
        ("11/1/2024 2:30 PM", datetime(2024, 11, 1, 14, 30, tzinfo=UTC)),
        ("11/1/2024 12:05 am", datetime(2024, 11, 1, 0, 5, tzinfo=UTC)),
        ("7/27/2023", datetime(2023, 7, 27, tzinfo=UTC)),
        ("2023-07-28T03:00:00Z", datetime(2023, 7, 28, 3, 0, tzinfo=UTC)),
        ("2023-07-28 05:00:00+02:00", datetime(2023, 7, 28, 3, 0, tzinfo=UTC)),
        ("2023-07-28T03:00:00.250Z", datetime(2023, 7, 28, 3, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_datetimes_are_utc(text, expected):
    assert parse_datetime(text) == expected


def test_a_time_without_zone_is_read_in_the_zone_given():
    moment = parse_datetime("7/28/2023 3:00", zone=ZoneInfo("Europe/Berlin"))
    assert moment == datetime(2023, 7, 28, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["7/28/2023 25:00", "7/28/2023 13:00 PM", "soon"])
def test_bad_datetimes_are_refused(text):
    with pytest.raises(ValueError, match="is not a date and time"):
        parse_datetime(text)


@pytest.mark.parametrize(
    "text, zone",
    [
        ("12/31/9999 23:59 -01:00", UTC),
        ("12/31/9999 23:59", ZoneInfo("America/New_York")),
        ("1/1/0001 0:30 +01:00", UTC),
    ],
)
def test_a_moment_beyond_the_years_python_holds_is_refused_not_a_crash(text, zone):
    with pytest.raises(ValueError, match="is not a date and time we can store"):
        parse_datetime(text, zone=zone)


# --- booleans, numbers, money ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("TRUE", True),
        ("FALSE", False),
        ("yes", True),
        ("No", False),
        ("1", True),
        ("0", False),
        (" true ", True),
        ("f", False),
    ],
)
def test_booleans(text, expected):
    assert parse_bool(text) is expected


def test_a_non_boolean_is_refused():
    with pytest.raises(ValueError, match="is not true or false"):
        parse_bool("maybe")


@pytest.mark.parametrize(
    "text, minor",
    [
        ("33432", 3343200),
        ("33,432.50", 3343250),
        ("$1,200", 120000),
        ("0.005", 1),
        ("9996.0", 999600),
        ("-12.5", -1250),
        ("€ 7", 700),
        ("100.", 10000),
    ],
)
def test_money_in_major_units_becomes_minor_units(text, minor):
    assert parse_money_minor(text) == minor


@pytest.mark.parametrize("text", ["12,34", "abc", "1.2.3", "$", ""])
def test_bad_money_is_refused(text):
    with pytest.raises(ValueError, match="is not an amount"):
        parse_money_minor(text)


def test_whole_numbers():
    assert parse_int("1,234") == 1234
    assert parse_int("12.0") == 12
    for text in ("12.5", "abc", "1e3"):
        with pytest.raises(ValueError, match="is not a whole number"):
            parse_int(text)
    with pytest.raises(ValueError, match="is too large"):
        parse_int("99999999999")


def test_numbers_accept_booleans_as_one_and_zero():
    assert parse_number("1,234.5") == 1234.5
    assert parse_number("-0.25") == -0.25
    assert parse_number("TRUE") == 1.0
    assert parse_number("FALSE") == 0.0
    with pytest.raises(ValueError, match="is not a number"):
        parse_number("many")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("TRUE", True),
        ("false", False),
        ("12", 12),
        ("-3", -3),
        ("1.5", 1.5),
        ("007", "007"),
        ("high", "high"),
        ("1,000", "1,000"),
    ],
)
def test_property_values_are_inferred(text, expected):
    value = infer_property(text)
    assert value == expected and type(value) is type(expected)


# --- reading files -----------------------------------------------------------------------------


def test_reading_a_crlf_file_with_bom_blank_rows_and_line_numbers():
    source = CsvSource(FIXTURES / "accounts.csv")
    assert source.header[0] == "account_id"  # the byte order mark is gone
    rows = list(source.rows())
    assert [row.line for row in rows] == [2, 3, 4, 6, 7, 8, 9]
    assert source.blank_rows == 1
    assert rows[0].values["arr_usd"] == "33,432.50"
    assert rows[1].values["renewal"] == ""
    assert source.count_rows() == 7


def test_a_quoted_value_over_two_lines_keeps_later_line_numbers_right(tmp_path):
    path = write(
        tmp_path, "notes.csv", b'id,note\r\n1,"first\r\nsecond"\r\n2,plain\r\n3,"x, y"\r\n'
    )
    rows = list(CsvSource(path).rows())
    assert [(r.line, r.values["note"]) for r in rows] == [
        (2, "first\r\nsecond"),
        (4, "plain"),
        (5, "x, y"),
    ]


def test_a_row_with_more_values_than_the_header_is_flagged(tmp_path):
    path = write(tmp_path, "wide.csv", b"a,b\n1,2\n3,4,5\n6\n7,8,\n")
    rows = list(CsvSource(path).rows())
    assert rows[0].problem is None
    assert "has 3 values but the header names 2 columns" in rows[1].problem
    assert rows[2].problem is None and rows[2].values == {"a": "6", "b": ""}
    assert rows[3].problem is None  # a trailing empty value is harmless


def test_semicolon_files_are_recognised(tmp_path):
    path = write(tmp_path, "semi.csv", b"name;amount\nAcme;1.234,5\n")
    source = CsvSource(path)
    assert source.delimiter == ";"
    assert next(source.rows()).values == {"name": "Acme", "amount": "1.234,5"}


def test_a_file_that_is_not_utf8_asks_for_its_encoding():
    with pytest.raises(CsvProblem, match="is not utf-8-sig text .*--encoding cp1252"):
        CsvSource(FIXTURES / "latin1.csv").count_rows()
    source = CsvSource(FIXTURES / "latin1.csv", encoding="cp1252")
    assert next(source.rows()).values["account_name"] == "Café Müller"


def test_an_empty_file_is_refused():
    with pytest.raises(CsvProblem, match="is empty: it needs a header line"):
        CsvSource(FIXTURES / "empty.csv")


# --- options -----------------------------------------------------------------------------------


def test_option_parsing():
    assert parse_map_option("account_id=external_id") == ("account_id", "external_id")
    assert parse_default_option("type=support_ticket") == ("type", "support_ticket")
    assert parse_value_option("segment:Pro=Mid-Market") == ("segment", "Pro", "Mid-Market")
    assert parse_value_option("lifecycle_stage:FALSE=") == ("lifecycle_stage", "FALSE", "")
    assert parse_lookup_option("account=/data/subs.csv:subscription_id:account_id") == (
        "account",
        Path("/data/subs.csv"),
        "subscription_id",
        "account_id",
    )
    assert parse_metric_columns(["usage_count,Error Count=errors", "seats"]) == [
        ("usage_count", "usage_count"),
        ("Error Count", "errors"),
        ("seats", "seats"),
    ]


@pytest.mark.parametrize(
    "parse, text, message",
    [
        (parse_map_option, "account_id", "write COLUMN=FIELD"),
        (parse_default_option, "currency", "write FIELD=VALUE"),
        (parse_value_option, "segment=SMB", "write FIELD:FROM=TO"),
        (parse_lookup_option, "account=subs.csv", "write FIELD=FILE.csv:KEY_COLUMN:VALUE_COLUMN"),
        (lambda text: parse_metric_columns([text]), "9lives", "a metric key is lowercase"),
    ],
)
def test_malformed_options_are_refused(parse, text, message):
    with pytest.raises(MappingError, match=message):
        parse(text)


# --- the plan ----------------------------------------------------------------------------------

ACCOUNT_HEADER = [
    "account_id",
    "account_name",
    "industry",
    "country",
    "signup_date",
    "renewal",
    "plan_tier",
    "seats",
    "arr_usd",
    "is_trial",
    "churn_flag",
]
SEGMENTS = {"segment": choice_spellings(("SMB", "Mid-Market", "Enterprise"))}


def account_plan(**options):
    maps = options.pop(
        "maps",
        [
            ("account_id", "external_id"),
            ("account_name", "name"),
            ("renewal", "renewal_date"),
            ("plan_tier", "segment"),
            ("arr_usd", "arr"),
        ],
    )
    return build_plan("accounts", ACCOUNT_HEADER, maps=maps, choices=SEGMENTS, **options)


def row(**values) -> dict[str, str]:
    return {name: values.get(name, "") for name in ACCOUNT_HEADER} | values


def test_mapped_and_same_name_columns_are_used_and_the_rest_ignored():
    plan = account_plan()
    assert plan.bindings["external_id"].column == "account_id"
    assert plan.bindings["industry"].column == "industry"  # its name is a field's name
    assert plan.ignored_columns == ["country", "signup_date", "seats", "is_trial", "churn_flag"]
    records, problems = plan.convert(
        row(
            account_id="A-1",
            account_name="Acme",
            industry="EdTech",
            renewal="10/16/2025",
            plan_tier="mid market",
            arr_usd="33,432.50",
        )
    )
    assert problems == []
    assert records == [
        {
            "external_id": "A-1",
            "name": "Acme",
            "industry": "EdTech",
            "renewal_date": date(2025, 10, 16),
            "segment": "Mid-Market",
            "arr": 3343250,
        }
    ]


def test_empty_values_are_missing_not_cleared():
    records, problems = account_plan().convert(row(account_id="A-1"))
    assert (records, problems) == ([{"external_id": "A-1"}], [])


def test_one_column_may_feed_two_fields():
    plan = account_plan(
        maps=[
            ("account_id", "external_id"),
            ("plan_tier", "segment"),
            ("plan_tier", "product_plan"),
        ],
        value_maps=[("segment", "Basic", "SMB")],
    )
    records, _ = plan.convert(row(account_id="A-1", plan_tier="Basic"))
    assert records[0]["segment"] == "SMB" and records[0]["product_plan"] == "Basic"


def test_value_maps_exact_then_any_case_and_empty_means_missing():
    plan = account_plan(
        maps=[
            ("account_id", "external_id"),
            ("plan_tier", "segment"),
            ("churn_flag", "lifecycle_stage"),
        ],
        value_maps=[
            ("segment", "Pro", "Mid-Market"),
            ("segment", "pro", "SMB"),
            ("lifecycle_stage", "TRUE", "churned"),
            ("lifecycle_stage", "FALSE", ""),
        ],
    )
    convert = plan.convert
    assert convert(row(account_id="A", plan_tier="Pro"))[0][0]["segment"] == "Mid-Market"
    assert convert(row(account_id="A", plan_tier="pro"))[0][0]["segment"] == "SMB"
    assert convert(row(account_id="A", plan_tier="PRO"))[0][0]["segment"] == "Mid-Market"
    assert convert(row(account_id="A", churn_flag="TRUE"))[0][0]["lifecycle_stage"] == "churned"
    assert "lifecycle_stage" not in convert(row(account_id="A", churn_flag="false"))[0][0]


def test_an_unmapped_choice_passes_through_for_the_service_to_refuse():
    records, problems = account_plan().convert(row(account_id="A", plan_tier="Platinum"))
    assert problems == [] and records[0]["segment"] == "Platinum"


def test_defaults_fill_missing_values_and_unfed_fields():
    plan = account_plan(defaults=[("currency", "USD"), ("name", "Unnamed")])
    records, _ = plan.convert(row(account_id="A-1"))
    assert records[0]["currency"] == "USD" and records[0]["name"] == "Unnamed"
    records, _ = plan.convert(row(account_id="A-1", account_name="Acme"))
    assert records[0]["name"] == "Acme"


def test_each_problem_names_the_field_the_text_and_the_column():
    records, problems = account_plan(
        maps=[
            ("account_id", "external_id"),
            ("renewal", "renewal_date"),
            ("seats", "employees"),
            ("arr_usd", "arr"),
        ]
    ).convert(row(account_id="A-1", renewal="13/45/2024", seats="abc", arr_usd="lots"))
    assert records == []
    assert problems == [
        "renewal_date '13/45/2024' (column renewal) is not a date "
        "(expected M/D/YYYY or YYYY-MM-DD)",
        "employees 'abc' (column seats) is not a whole number",
        "arr 'lots' (column arr_usd) is not an amount (expected a number such as 33432 or "
        "33,432.50)",
    ]


def test_a_required_field_left_empty_is_a_row_problem():
    records, problems = account_plan().convert(row(account_name="Acme"))
    assert (records, problems) == ([], ["external_id is empty (column account_id)"])


def test_the_date_format_applies_to_every_date():
    plan = account_plan(date_order=DAY_FIRST)
    records, _ = plan.convert(row(account_id="A", renewal="3/4/2025"))
    assert records[0]["renewal_date"] == date(2025, 4, 3)


def test_an_unknown_field_is_refused_with_the_list_of_fields():
    with pytest.raises(MappingError) as error:
        account_plan(maps=[("account_id", "external_idx")])
    assert "accounts have no field 'external_idx'. Fields: external_id, name," in str(error.value)


def test_a_column_the_file_lacks_is_refused_with_its_columns():
    with pytest.raises(
        MappingError,
        match="the file has no column 'acct'; its columns are: account_id, account_name",
    ):
        account_plan(maps=[("acct", "external_id")])


def test_column_names_match_in_any_case():
    plan = account_plan(maps=[("ACCOUNT_ID", "external_id")])
    assert plan.bindings["external_id"].column == "account_id"


def test_a_required_field_fed_by_nothing_is_named():
    with pytest.raises(MappingError) as error:
        build_plan(
            "events", ["ticket_id", "account_id", "submitted_at"], maps=[("ticket_id", "id")]
        )
    message = str(error.value)
    assert message.startswith("events need account, type and at, but nothing feeds them")
    assert "Columns in the file: ticket_id, account_id, submitted_at." in message


def test_a_default_can_feed_a_required_field():
    plan = build_plan(
        "events",
        ["ticket_id", "account_id", "submitted_at"],
        maps=[("ticket_id", "id"), ("account_id", "account"), ("submitted_at", "at")],
        defaults=[("type", "support_ticket")],
    )
    records, _ = plan.convert(
        {"ticket_id": "T-1", "account_id": "A-1", "submitted_at": "7/27/2023"}
    )
    assert records == [
        {
            "id": "T-1",
            "account": "A-1",
            "type": "support_ticket",
            "at": datetime(2023, 7, 27, tzinfo=UTC),
        }
    ]


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"maps": [("account_id", "external_id"), ("account_name", "external_id")]},
            "external_id already comes from column 'account_id'",
        ),
        ({"value_maps": [("domain", "x", "y")]}, "no column feeds domain"),
        ({"defaults": [("employees", "many")]}, "--default employees=many: 'many' is not a whole"),
        ({"defaults": [("segment", "Tiny")]}, "segment is one of SMB, Mid-Market, Enterprise"),
        ({"defaults": [("colour", "blue")]}, "accounts have no field 'colour'"),
    ],
)
def test_unusable_mappings_are_refused(options, message):
    with pytest.raises(MappingError, match=message):
        account_plan(**options)


def test_a_repeated_header_name_that_is_used_is_refused():
    with pytest.raises(MappingError, match="names column 'id' more than once"):
        build_plan("metrics", ["id", "id", "key", "value", "date"], maps=[("id", "account")])


EVENT_HEADER = [
    "usage_id",
    "account",
    "usage_date",
    "feature_name",
    "usage_count",
    "is_beta",
    "properties.plan",
]


def test_event_properties_with_inferred_and_declared_types():
    plan = build_plan(
        "events",
        EVENT_HEADER,
        maps=[
            ("usage_id", "id"),
            ("usage_date", "at"),
            ("feature_name", "properties.feature"),
            ("usage_count", "properties.count"),
            ("is_beta", "properties.beta:bool"),
        ],
        defaults=[("type", "feature_used"), ("properties.source", "csv")],
    )
    assert plan.bindings["account"].column == "account"
    assert plan.bindings["properties.plan"].column == "properties.plan"
    records, problems = plan.convert(
        {
            "usage_id": "U-1",
            "account": "A-1",
            "usage_date": "7/27/2023",
            "feature_name": "reports",
            "usage_count": "9",
            "is_beta": "no",
            "properties.plan": "",
        }
    )
    assert problems == []
    assert records[0]["properties"] == {
        "feature": "reports",
        "count": 9,
        "beta": False,
        "source": "csv",
    }


def test_a_bad_property_type_is_refused():
    with pytest.raises(MappingError, match="a property type is one of auto, text, int"):
        build_plan("events", EVENT_HEADER, maps=[("is_beta", "properties.beta:yesno")])
    with pytest.raises(MappingError, match="names no property"):
        build_plan("events", EVENT_HEADER, maps=[("is_beta", "properties.")])


def test_properties_belong_to_events_only():
    with pytest.raises(MappingError, match="accounts have no field 'properties.x'"):
        account_plan(maps=[("account_id", "external_id"), ("country", "properties.x")])


def test_lookups_translate_and_report_unknown_or_ambiguous_keys():
    lookup = Lookup("subs.csv (column subscription_id)", {"S-1": "A-1", "S-2": None})
    plan = build_plan(
        "events",
        EVENT_HEADER,
        maps=[("usage_id", "id"), ("usage_date", "at"), ("account", "account")],
        defaults=[("type", "feature_used")],
        lookups=[("account", lookup)],
    )
    base = {"usage_id": "U-1", "usage_date": "7/27/2023"}
    assert plan.convert(base | {"account": "S-1"})[0][0]["account"] == "A-1"
    assert plan.convert(base | {"account": "S-9"})[1] == [
        "account 'S-9' is not found in subs.csv (column subscription_id)"
    ]
    assert plan.convert(base | {"account": "S-2"})[1] == [
        "account 'S-2' has several different values in subs.csv (column subscription_id)"
    ]


def test_load_lookup_from_another_export():
    lookup = load_lookup(FIXTURES / "subscriptions.csv", "subscription_id", "account_id")
    assert lookup.translate("S-100") == "A-001"
    assert lookup.label == "subscriptions.csv (column subscription_id)"
    with pytest.raises(MappingError, match="subscriptions.csv has no column 'sub'"):
        load_lookup(FIXTURES / "subscriptions.csv", "sub", "account_id")


METRIC_HEADER = ["account_id", "day", "usage_count", "error_count", "key"]


def test_wide_metrics_give_one_value_per_column():
    plan = build_plan(
        "metrics",
        METRIC_HEADER,
        maps=[("account_id", "account"), ("day", "date")],
        metric_columns=parse_metric_columns(["usage_count,error_count=errors"]),
    )
    assert "key" in plan.ignored_columns  # wide mode takes keys from the metric columns
    records, problems = plan.convert(
        {"account_id": "A-1", "day": "11/1/2024", "usage_count": "9", "error_count": "", "key": "x"}
    )
    assert problems == []
    assert records == [
        {"account": "A-1", "date": date(2024, 11, 1), "key": "usage_count", "value": 9.0}
    ]
    records, problems = plan.convert(
        {"account_id": "A-1", "day": "11/1/2024", "usage_count": "lots", "error_count": "2"}
    )
    assert [r["key"] for r in records] == ["errors"]
    assert problems == ["usage_count 'lots' is not a number"]
    records, problems = plan.convert({"account_id": "A-1", "day": "11/1/2024"})
    assert records == [] and problems == [
        "has no value in any metric column (usage_count, error_count)"
    ]


def test_wide_metrics_refuse_a_mapped_key():
    with pytest.raises(MappingError, match="--metric-columns gives each value its key"):
        build_plan(
            "metrics",
            METRIC_HEADER,
            maps=[("account_id", "account"), ("day", "date"), ("key", "key")],
            metric_columns=[("usage_count", "usage_count")],
        )
