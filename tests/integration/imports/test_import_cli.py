"""``cs-app import``: CSV exports shaped like the RavenStack files (CRLF, M/D/YYYY, TRUE/FALSE,
empty fields) load through the services; bad rows are reported by line, good rows kept."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError

from cs_app.accounts.models import Account, Contact, LifecycleStageEntry
from cs_app.accounts.usage_models import MetricValue, UsageEvent
from cs_app.cli import main
from cs_app.extensions import db
from cs_app.imports import importers
from tests.factories import AccountFactory, ContactFactory, UserFactory

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import"
ACCOUNT_OPTIONS = [
    "--map",
    "account_id=external_id",
    "--map",
    "account_name=name",
    "--map",
    "signup_date=contract_start",
    "--map",
    "renewal=renewal_date",
    "--map",
    "plan_tier=segment",
    "--map",
    "seats=seats_purchased",
    "--map",
    "arr_usd=arr",
    "--map",
    "churn_flag=lifecycle_stage",
    "--value",
    "segment:Basic=SMB",
    "--value",
    "segment:Pro=Mid-Market",
    "--value",
    "lifecycle_stage:TRUE=churned",
    "--value",
    "lifecycle_stage:FALSE=",
    "--default",
    "currency=USD",
]
CONTACT_OPTIONS = [
    "--map",
    "Account ID=account",
    "--map",
    "Full Name=name",
    "--map",
    "Job Title=title",
    "--map",
    "Last Contacted=last_contact_on",
]
TICKET_OPTIONS = [
    "--map",
    "ticket_id=id",
    "--map",
    "account_id=account",
    "--map",
    "submitted_at=at",
    "--default",
    "type=support_ticket",
    "--map",
    "priority=properties.severity",
    "--value",
    "properties.severity:medium=normal",
    "--map",
    "closed_at=properties.closed_at:datetime",
    "--map",
    "satisfaction_score=properties.satisfaction",
    "--map",
    "escalation_flag=properties.escalated:bool",
]


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(kind: str, file: str | Path, *options: str):
        path = file if isinstance(file, Path) else FIXTURES / file
        result = runner.invoke(main, ["import", kind, str(path), *options])
        db.session.expire_all()
        return result

    return invoke


def account(external_id: str) -> Account | None:
    return db.session.scalar(select(Account).where(Account.external_id == external_id))


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def summary_line(output: str, label: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(label))


def two_accounts():
    """Committed (to the test's savepoint), as rows another process wrote would be."""
    AccountFactory(external_id="A-001", name="Acme Analytics")
    AccountFactory(external_id="A-002", name="Bolt Freight")
    db.session.commit()


# --- accounts ----------------------------------------------------------------------------------


def test_accounts_import_keeps_good_rows_and_reports_bad_ones_by_line(cli):
    result = cli("accounts", "accounts.csv", *ACCOUNT_OPTIONS)
    assert result.exit_code == 0, result.output
    output = result.output
    assert "accounts: 7/7 rows (100%)" in output  # progress (stderr)
    assert summary_line(output, "rows read:") == "rows read:    7"
    assert summary_line(output, "imported:") == "imported:     4 accounts (created 4, updated 0)"
    assert summary_line(output, "refused:") == "refused:      3 rows"
    assert summary_line(output, "blank rows:") == "blank rows:   1 skipped"
    assert "Columns ignored: country, is_trial" in output
    assert (
        "line 6: renewal_date '13/45/2024' (column renewal) is not a date "
        "(expected M/D/YYYY or YYYY-MM-DD)"
    ) in output
    assert (
        "line 7: segment 'Platinum' (column plan_tier): Choose a segment: SMB, Mid-Market, "
        "Enterprise."
    ) in output
    assert "line 8: seats_purchased 'abc' (column seats) is not a whole number" in output

    acme = account("A-001")
    assert (acme.name, acme.industry, acme.segment, acme.arr_minor, acme.currency) == (
        "Acme Analytics",
        "EdTech",
        "SMB",
        3343250,
        "USD",
    )
    assert (acme.contract_start, acme.renewal_date, acme.seats_purchased) == (
        date(2024, 10, 16),
        date(2025, 10, 16),
        9,
    )
    assert acme.lifecycle_stage == "onboarding"
    bolt = account("A-002")
    assert (bolt.segment, bolt.lifecycle_stage, bolt.renewal_date) == (
        "Mid-Market",
        "churned",
        None,
    )
    cobalt = account("A-003")
    assert (cobalt.segment, cobalt.industry, cobalt.contract_start, cobalt.seats_purchased) == (
        "Enterprise",
        None,
        date(2024, 8, 27),
        None,
    )
    assert account("A-007").arr_minor == 100000
    assert [account(x) for x in ("A-004", "A-005", "A-006")] == [None, None, None]
    assert count(LifecycleStageEntry) == 4


def test_reimporting_accounts_counts_duplicates_and_updates_what_changed(cli):
    cli("accounts", "accounts.csv", *ACCOUNT_OPTIONS)
    again = cli("accounts", "accounts.csv", *ACCOUNT_OPTIONS)
    assert (
        summary_line(again.output, "imported:") == "imported:     0 accounts (created 0, updated 0)"
    )
    assert summary_line(again.output, "duplicates:").startswith("duplicates:   4 ")
    changed = cli(
        "accounts", "accounts.csv", *ACCOUNT_OPTIONS, "--value", "segment:basic=Enterprise"
    )  # exact "Basic" wins over a case-insensitive one
    assert summary_line(changed.output, "imported:").startswith("imported:     0 accounts")
    upgraded = cli(
        "accounts",
        "accounts.csv",
        *[o.replace("Basic=SMB", "Basic=Enterprise") for o in ACCOUNT_OPTIONS],
    )
    assert (
        summary_line(upgraded.output, "imported:") == "imported:     2 accounts (created 0, "
        "updated 2)"
    )
    assert summary_line(upgraded.output, "duplicates:").startswith("duplicates:   2 ")
    assert account("A-001").segment == account("A-007").segment == "Enterprise"
    assert count(Account) == 4


def test_an_account_repeated_in_one_file_is_created_once_then_updated(cli, tmp_path):
    path = tmp_path / "repeats.csv"
    path.write_bytes(
        b"external_id,name,segment\r\nR-1,First,SMB\r\nR-2,Bad,Tiny\r\n"
        b"R-1,Second,SMB\r\nR-2,Good,enterprise\r\nR-1,Second,SMB\r\n"
    )
    result = cli("accounts", path)
    assert result.exit_code == 0, result.output
    assert (
        summary_line(result.output, "imported:") == "imported:     3 accounts (created 2, "
        "updated 1)"
    )
    assert summary_line(result.output, "duplicates:").startswith("duplicates:   1 ")
    assert "line 3: segment 'Tiny': Choose a segment: SMB, Mid-Market, Enterprise." in result.output
    assert (account("R-1").name, account("R-2").name, account("R-2").segment) == (
        "Second",
        "Good",
        "Enterprise",
    )
    assert count(LifecycleStageEntry) == 2


def test_an_empty_value_keeps_what_is_stored(cli):
    AccountFactory(external_id="A-003", name="Old name", industry="Robotics")
    db.session.commit()
    result = cli("accounts", "accounts.csv", *ACCOUNT_OPTIONS)
    assert (
        summary_line(result.output, "imported:") == "imported:     4 accounts (created 3, "
        "updated 1)"
    )
    cobalt = account("A-003")
    assert (cobalt.name, cobalt.industry) == ("Cobalt Labs", "Robotics")


def test_owner_by_email_and_trial_end_are_imported(cli, tmp_path):
    csm = UserFactory(email="nina@vendor.example", role="csm")
    db.session.commit()
    path = tmp_path / "crm.csv"
    path.write_bytes(
        b"Account,Name,Owner,Trial ends\r\nC-1,Cee,NINA@vendor.example,12/31/2026\r\n"
        b"C-2,Dee,nobody@vendor.example,\r\n"
    )
    options = [
        "--map",
        "Account=external_id",
        "--map",
        "Owner=csm_email",
        "--map",
        "Trial ends=trial_ends_on",
    ]
    result = cli("accounts", path, *options)
    assert result.exit_code == 0, result.output
    assert (
        "line 3: csm_email 'nobody@vendor.example' (column Owner): No user has the email "
        "nobody@vendor.example."
    ) in result.output
    created = account("C-1")
    assert (created.csm_id, created.trial_ends_on) == (csm.id, date(2026, 12, 31))
    again = cli("accounts", path, *options)
    assert summary_line(again.output, "duplicates:").startswith("duplicates:   1 ")


def test_a_day_first_date_format(cli, tmp_path):
    path = tmp_path / "eu.csv"
    path.write_bytes(
        b"external_id,name,contract_start\r\nE-1,Euro,3/4/2024\r\n"
        b"E-2,Iso,2024-05-06\r\nE-3,Bad,4/13/2024\r\n"
    )
    result = cli("accounts", path, "--date-format", "D/M/YYYY")
    assert result.exit_code == 0, result.output
    assert account("E-1").contract_start == date(2024, 4, 3)
    assert account("E-2").contract_start == date(2024, 5, 6)
    assert (
        "line 4: contract_start '4/13/2024' is not a date (expected D/M/YYYY or YYYY-MM-DD)"
    ) in result.output


def test_the_default_month_first_reading_hints_at_day_first_files(cli, tmp_path):
    path = tmp_path / "eu.csv"
    path.write_bytes(b"external_id,name,contract_start\r\nE-1,Euro,13/4/2024\r\n")
    result = cli("accounts", path)
    assert (
        "line 2: contract_start '13/4/2024' is not a date (expected M/D/YYYY or "
        "YYYY-MM-DD; for day-first dates give --date-format D/M/YYYY)"
    ) in result.output
    assert account("E-1") is None


# --- contacts ----------------------------------------------------------------------------------


def test_contacts_import_matches_by_email_and_refuses_bad_rows(cli):
    two_accounts()
    ContactFactory(
        account=account("A-001"), name="Dana Diaz", email="DANA@acme.example", title="Director"
    )
    db.session.commit()
    result = cli("contacts", "contacts.csv", *CONTACT_OPTIONS)
    assert result.exit_code == 0, result.output
    assert (
        summary_line(result.output, "imported:") == "imported:     3 contacts (created 2, "
        "updated 1)"
    )
    assert "line 5: no account has the external_id 'A-999'" in result.output
    assert (
        "line 6: email 'not-an-email': Enter an email address like name@example.com."
        in result.output
    )
    dana = db.session.scalar(select(Contact).where(Contact.name == "Dana Diaz"))
    assert (dana.title, dana.role, dana.influence, dana.engagement, dana.last_contact_on) == (
        "VP Operations",
        "executive_sponsor",
        "decision_maker",
        "high",
        date(2024, 9, 30),
    )
    fay = db.session.scalar(select(Contact).where(Contact.name == "Fay Lin"))
    assert (fay.status, fay.role, fay.last_contact_on) == ("departed", "billing", None)
    assert count(Contact) == 3
    again = cli("contacts", "contacts.csv", *CONTACT_OPTIONS)
    assert summary_line(again.output, "duplicates:").startswith("duplicates:   3 ")
    assert count(Contact) == 3


def test_a_contact_row_with_a_line_break_in_its_name_is_refused_and_the_others_kept(cli, tmp_path):
    two_accounts()
    path = tmp_path / "contacts.csv"
    path.write_bytes(
        b"Account ID,Full Name,Email\r\n"
        b"A-001,Dana Diaz,dana@acme.example\r\n"
        b'A-001,"Evil\r\nBcc: x@example.com",eve@acme.example\r\n'
        b"A-002,Fay Lin,fay@bolt.example\r\n"
    )
    result = cli("contacts", path, "--map", "Account ID=account", "--map", "Full Name=name")
    assert result.exit_code == 0, result.output
    assert summary_line(result.output, "imported:").startswith("imported:     2 contacts")
    assert (
        "line 3: name 'Evil\\r\\nBcc: x@example.com' (column Full Name): Write the name on one "
        "line, without line breaks or control characters."
    ) in result.output
    assert sorted(db.session.scalars(select(Contact.name))) == ["Dana Diaz", "Fay Lin"]


# --- events ------------------------------------------------------------------------------------


def test_ticket_events_import_and_a_reimport_counts_duplicates(cli):
    two_accounts()
    result = cli("events", "tickets.csv", *TICKET_OPTIONS)
    assert result.exit_code == 0, result.output
    assert summary_line(result.output, "imported:") == "imported:     3 events"
    assert summary_line(result.output, "refused:") == "refused:      3 rows"
    assert "line 5: no account has the external_id 'A-404'" in result.output
    assert "line 6: at '10/32/2024' (column submitted_at) is not a date and time" in result.output
    assert (
        "line 7: properties.severity 'critical' (column priority) must be one of low, "
        "normal, high, urgent (translate values with --value properties.severity:FROM=TO)"
        in result.output
    )
    assert "Columns ignored: resolution_time_hours, first_response_time_minutes" in result.output
    ticket = db.session.scalar(select(UsageEvent).where(UsageEvent.event_id == "T-002"))
    assert ticket.event_type == "support_ticket"
    assert ticket.occurred_at == datetime(2024, 7, 8, tzinfo=UTC)
    assert ticket.properties == {
        "severity": "normal",
        "closed_at": "2024-07-09T03:00:00+00:00",
        "satisfaction": 4,
        "escalated": True,
    }
    first = db.session.scalar(select(UsageEvent).where(UsageEvent.event_id == "T-001"))
    assert "satisfaction" not in first.properties  # empty = missing

    again = cli("events", "tickets.csv", *TICKET_OPTIONS)
    assert again.exit_code == 0, again.output
    assert summary_line(again.output, "imported:") == "imported:     0 events"
    assert summary_line(again.output, "duplicates:").startswith("duplicates:   3 ")
    assert count(UsageEvent) == 3


def test_small_batches_give_the_same_result(cli):
    two_accounts()
    result = cli("events", "tickets.csv", *TICKET_OPTIONS, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "events: 6/6 rows (100%)" in result.output
    assert summary_line(result.output, "imported:") == "imported:     3 events"
    assert (
        "line 7: properties.severity 'critical' (column priority) must be one of" in result.output
    )
    assert count(UsageEvent) == 3


def test_feature_usage_loads_through_a_subscription_lookup(cli):
    two_accounts()
    result = cli(
        "events",
        "feature_usage.csv",
        "--map",
        "usage_id=id",
        "--map",
        "subscription_id=account",
        "--lookup",
        f"account={FIXTURES / 'subscriptions.csv'}:subscription_id:account_id",
        "--map",
        "usage_date=at",
        "--default",
        "type=feature_used",
        "--map",
        "feature_name=properties.feature",
        "--map",
        "usage_count=properties.count",
        "--map",
        "is_beta_feature=properties.beta:bool",
    )
    assert result.exit_code == 0, result.output
    assert summary_line(result.output, "imported:") == "imported:     2 events"
    assert (
        "line 4: account 'S-999' (column subscription_id) is not found in "
        "subscriptions.csv (column subscription_id)"
    ) in result.output
    used = db.session.scalar(select(UsageEvent).where(UsageEvent.event_id == "U-002"))
    assert used.account_id == account("A-002").id
    assert used.properties == {"feature": "feature_5", "count": 9, "beta": True}


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_one_value_per_row(cli):
    two_accounts()
    result = cli(
        "metrics",
        "metrics_long.csv",
        "--map",
        "metric=key",
        "--map",
        "amount=value",
        "--map",
        "day=date",
    )
    assert result.exit_code == 0, result.output
    assert summary_line(result.output, "imported:") == "imported:     2 metric values"
    assert "line 4: value 'many' (column amount) is not a number" in result.output
    assert (
        "line 5: key 'Seats Used' (column metric) is required: lowercase letters" in result.output
    )
    values = {
        (m.metric_key, m.measured_on): m.value for m in db.session.scalars(select(MetricValue))
    }
    assert values == {
        ("seats_used", date(2024, 11, 1)): 12.0,
        ("quota_used_pct", date(2024, 11, 1)): 81.5,
    }


def test_wide_metrics_turn_columns_into_keys(cli):
    two_accounts()
    result = cli(
        "metrics",
        "subscriptions.csv",
        "--map",
        "account_id=account",
        "--map",
        "start_date=date",
        "--metric-columns",
        "mrr_amount=mrr,seats",
    )
    assert result.exit_code == 0, result.output
    assert summary_line(result.output, "imported:") == "imported:     5 metric values"
    rows = db.session.execute(
        select(MetricValue.metric_key, MetricValue.measured_on, MetricValue.value)
    ).all()
    assert sorted(rows) == [
        ("mrr", date(2023, 12, 23), 2786.0),
        ("mrr", date(2024, 6, 11), 833.0),
        ("mrr", date(2024, 6, 12), 0.0),
        ("seats", date(2023, 12, 23), 14.0),
        ("seats", date(2024, 6, 11), 17.0),
    ]


# --- unusable input: exit code 2, nothing written -------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--map", "account_id=external_idx"],
            "accounts have no field 'external_idx'. Fields: external_id, name,",
        ),
        (
            ["--map", "acct=external_id"],
            "the file has no column 'acct'; its columns are: account_id, account_name",
        ),
        (
            ["--map", "account_name=name"],
            "accounts need external_id, but nothing feeds it: map a "
            "column (--map COLUMN=external_id)",
        ),
        (["--map", "account_id=external_id", "--value", "segment=SMB"], "write FIELD:FROM=TO"),
        (
            ["--map", "account_id=external_id", "--date-format", "D/M/YY"],
            "--date-format: use four-digit years",
        ),
        (
            ["--map", "account_id=external_id", "--timezone", "Mars/Olympus"],
            "--timezone: unknown zone 'Mars/Olympus'",
        ),
        (
            ["--map", "account_id=external_id", "--lookup", "name=nowhere.csv:a:b"],
            "there is no file nowhere.csv",
        ),
    ],
)
def test_unusable_options_exit_2_and_write_nothing(cli, options, message):
    result = cli("accounts", "accounts.csv", *options)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert count(Account) == 0


def test_a_required_event_field_left_unmapped_is_named(cli):
    result = cli("events", "tickets.csv", "--map", "ticket_id=id", "--map", "account_id=account")
    assert result.exit_code == 2
    assert "events need type and at, but nothing feeds them" in " ".join(result.output.split())


@pytest.mark.parametrize(
    "file, options, message",
    [
        ("empty.csv", [], "empty.csv is empty: it needs a header line"),
        (
            "latin1.csv",
            ["--map", "account_id=external_id"],
            "is not utf-8-sig text (invalid continuation byte); give the export's encoding, e.g. "
            "--encoding cp1252",
        ),
        ("no-such-file.csv", [], "does not exist"),
    ],
)
def test_unusable_files_exit_2(cli, file, options, message):
    result = cli("accounts", file, *options)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_an_unknown_kind_exits_2(cli):
    result = cli("invoices", "accounts.csv")
    assert result.exit_code == 2
    assert "No such command 'invoices'" in result.output


def test_the_encoding_option_reads_a_legacy_export(cli):
    result = cli(
        "accounts",
        "latin1.csv",
        "--map",
        "account_id=external_id",
        "--map",
        "account_name=name",
        "--encoding",
        "cp1252",
    )
    assert result.exit_code == 0, result.output
    assert account("A-1").name == "Café Müller"


# --- dry run and report ------------------------------------------------------------------------


def test_a_dry_run_reports_everything_and_writes_nothing(cli):
    two_accounts()
    result = cli("accounts", "accounts.csv", *ACCOUNT_OPTIONS, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run of accounts from accounts.csv: nothing was written." in result.output
    assert (
        summary_line(result.output, "imported:") == "imported:     4 accounts (created 2, "
        "updated 2)"
    )
    assert "line 6: renewal_date '13/45/2024'" in result.output
    assert count(Account) == 2
    assert account("A-001").segment == "Mid-Market"  # the factory's, untouched
    events = cli("events", "tickets.csv", *TICKET_OPTIONS, "--dry-run")
    assert summary_line(events.output, "imported:") == "imported:     3 events"
    assert count(UsageEvent) == 0


def test_the_report_holds_each_refused_row_with_line_reason_and_values(cli, tmp_path):
    report = tmp_path / "refused.csv"
    result = cli("accounts", "accounts.csv", *ACCOUNT_OPTIONS, "--report", str(report))
    assert result.exit_code == 0, result.output
    assert f"All refused rows are in {report}." in result.output
    with report.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:4] == ["line", "reason", "account_id", "account_name"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("6", "A-004"), ("7", "A-005"), ("8", "A-006")]
    assert rows[1][1] == (
        "renewal_date '13/45/2024' (column renewal) is not a date (expected M/D/YYYY or YYYY-MM-DD)"
    )
    assert rows[1][7] == "13/45/2024"  # the row as the file has it, ready to fix
    assert len(rows[1]) == 2 + 11


def test_a_database_refusal_costs_only_the_offending_row(cli, monkeypatch):
    """A batch the database refuses is rolled back and retried row by row."""
    two_accounts()
    real_ingest = importers.ingest_events

    def ingest_refusing_t002(items, *, now):
        result = real_ingest(items, now=now)  # rows really written, then the batch fails
        if any(item["id"] == "T-002" for item in items):
            raise DataError("INSERT …", {}, Exception("value out of range"))
        return result

    monkeypatch.setattr(importers, "ingest_events", ingest_refusing_t002)
    result = cli("events", "tickets.csv", *TICKET_OPTIONS)
    assert result.exit_code == 0, result.output
    assert summary_line(result.output, "imported:") == "imported:     2 events"
    assert "line 3: the database refused this row (value out of range)" in result.output
    ids = set(db.session.scalars(select(UsageEvent.event_id)))
    assert ids == {"T-001", "T-003"}


def test_a_database_failure_stops_the_import_and_keeps_earlier_batches(cli, monkeypatch):
    two_accounts()
    real_ingest = importers.ingest_events

    def ingest_failing_on_t003(items, *, now):
        if any(item["id"] == "T-003" for item in items):
            raise OperationalError("INSERT …", {}, Exception("server closed the connection"))
        return real_ingest(items, now=now)

    monkeypatch.setattr(importers, "ingest_events", ingest_failing_on_t003)
    result = cli("events", "tickets.csv", *TICKET_OPTIONS, "--batch-size", "2")
    assert result.exit_code == 1
    assert (
        "The database failed on the batch starting at line 4 (server closed the "
        "connection); the 2 rows before it were processed and are kept."
    ) in result.output
    assert set(db.session.scalars(select(UsageEvent.event_id))) == {"T-001", "T-002"}


# --- hostile files -----------------------------------------------------------------------------

NAME_OPTIONS = ["--map", "account_id=external_id", "--map", "account_name=name"]


def write_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    return path


def test_the_report_never_writes_a_cell_a_spreadsheet_would_run(cli, tmp_path):
    path = write_file(
        tmp_path,
        b"account_id,account_name,renewal\n"
        b'A-1,"=HYPERLINK(""http://evil.example"",""Fix"")",13/45/2024\n'
        b"A-2,@SUM(A1),13/45/2024\n",
    )
    report = tmp_path / "refused.csv"
    options = [*NAME_OPTIONS, "--map", "renewal=renewal_date", "--report", str(report)]
    result = cli("accounts", path, *options)
    assert result.exit_code == 0, result.output
    with report.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[3] for row in rows[1:]] == [
        '\'=HYPERLINK("http://evil.example","Fix")',
        "'@SUM(A1)",
    ]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_an_impossible_event_time_refuses_its_row_not_the_file(cli, tmp_path):
    two_accounts()
    path = write_file(
        tmp_path,
        b"ticket_id,account_id,submitted_at\n"
        b"T-1,A-001,7/27/2023 3:00\n"
        b"T-2,A-001,12/31/9999 23:59 -01:00\n"
        b"T-3,A-002,7/28/2023 4:00\n",
    )
    options = ["--map", "ticket_id=id", "--map", "account_id=account"]
    result = cli("events", path, *options, "--map", "submitted_at=at", "--default", "type=login")
    assert result.exit_code == 0, result.output
    assert (
        "line 3: at '12/31/9999 23:59 -01:00' (column submitted_at) is not a date and time we "
        "can store (out of range)"
    ) in result.output
    assert set(db.session.scalars(select(UsageEvent.event_id))) == {"T-1", "T-3"}


def test_an_over_long_line_refuses_its_row_and_the_good_rows_are_kept(cli, tmp_path):
    long_line = b"A-2," + b"x" * 200_000 + b"\n"
    path = write_file(tmp_path, b"account_id,account_name\nA-1,Acme\n" + long_line + b"A-3,Cargo\n")
    result = cli("accounts", path, *NAME_OPTIONS)
    assert result.exit_code == 0, result.output
    assert "line 3: is longer than 128,000 characters; it was not read" in result.output
    assert sorted(db.session.scalars(select(Account.external_id))) == ["A-1", "A-3"]


def test_a_repeated_header_line_is_refused_not_imported_as_an_account(cli, tmp_path):
    path = write_file(tmp_path, b"external_id,name\nA-1,Acme\nexternal_id,name\nA-2,Bolt\n")
    result = cli("accounts", path)
    assert result.exit_code == 0, result.output
    assert "line 3: repeats the header line" in result.output
    assert sorted(db.session.scalars(select(Account.external_id))) == ["A-1", "A-2"]


def test_an_unterminated_quote_is_reported_at_its_line_and_later_rows_kept(cli, tmp_path):
    path = write_file(tmp_path, b'account_id,account_name\nA-1,"Acme\nA-2,Bolt\nA-3,Cargo\n')
    result = cli("accounts", path, *NAME_OPTIONS)
    assert result.exit_code == 0, result.output
    assert "line 2: opens a quoted value that is never closed" in result.output
    assert sorted(db.session.scalars(select(Account.external_id))) == ["A-2", "A-3"]


def test_an_encoding_error_names_its_line_and_writes_nothing(cli, tmp_path):
    path = write_file(tmp_path, b"account_id,account_name\nA-1,Acme\nA-2,Caf\xe9\nA-3,Cargo\n")
    result = cli("accounts", path, *NAME_OPTIONS)
    assert result.exit_code == 2
    assert "export.csv line 3, character 8, is not utf-8-sig text" in " ".join(
        result.output.split()
    )
    assert count(Account) == 0
