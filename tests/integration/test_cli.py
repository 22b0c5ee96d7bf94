"""The ``cs-app`` command: users, tokens, and ``serve`` really serving."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cs_app.auth.service import find_user, user_for_token
from cs_app.cli import main
from cs_app.demo import DEMO_PASSWORD, DEMO_USERS
from cs_app.extensions import db
from tests.factories import UserFactory


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input)

    return invoke


def test_users_create_makes_a_user_who_can_sign_in(cli, client):
    result = cli(
        "users",
        "create",
        "Nina@Example.com",
        "--role",
        "csm",
        "--name",
        "Nina Ng",
        "--password",
        "long-enough-1",
    )
    assert result.exit_code == 0, result.output
    assert "Created csm nina@example.com (Nina Ng)." in result.output
    db.session.expire_all()
    user = find_user("nina@example.com")
    assert (user.role, user.name) == ("csm", "Nina Ng")
    response = client.post(
        "/login", data={"email": "nina@example.com", "password": "long-enough-1"}
    )
    assert response.status_code == 302


def test_users_create_reads_the_password_from_standard_input(cli):
    result = cli(
        "users", "create", "piped@example.com", "--role", "viewer", input="piped-password\n"
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert find_user("piped@example.com").role == "viewer"


def test_users_create_refuses_a_duplicate_email(cli):
    UserFactory(email="taken@example.com")
    result = cli(
        "users", "create", "TAKEN@example.com", "--role", "csm", "--password", "long-enough-1"
    )
    assert result.exit_code == 1
    assert "A user with the email TAKEN@example.com already exists." in result.output


def test_users_create_refuses_an_unknown_role(cli):
    result = cli(
        "users", "create", "boss@example.com", "--role", "boss", "--password", "long-enough-1"
    )
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert find_user("boss@example.com") is None


def test_users_create_refuses_a_short_password(cli):
    result = cli("users", "create", "short@example.com", "--role", "csm", "--password", "short")
    assert result.exit_code == 1
    assert "Use at least 8 characters." in result.output
    assert find_user("short@example.com") is None


def test_users_create_refuses_a_malformed_email(cli):
    result = cli("users", "create", "not-an-email", "--role", "csm", "--password", "long-enough-1")
    assert result.exit_code == 1
    assert "Enter an email address like name@example.com." in result.output


def test_users_token_prints_a_working_token_as_its_last_line(cli, now):
    user = UserFactory(email="robot@example.com", role="lead")
    result = cli("users", "token", "robot@example.com", "--name", "CRM sync")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert " " not in token
    db.session.expire_all()
    assert user_for_token(token, now=now).id == user.id
    assert user_for_token(token + "x", now=now) is None


def test_users_token_refuses_an_unknown_email(cli):
    result = cli("users", "token", "nobody@example.com")
    assert result.exit_code == 1
    assert "No user has the email nobody@example.com." in result.output


# --- `cs-app serve` as a real process --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cs_app_command() -> list[str]:
    """The installed console script beside this Python, or the same entry point via -c."""
    script = shutil.which("cs-app", path=str(Path(sys.executable).parent))
    if script:
        return [script]
    return [sys.executable, "-c", "import sys; from cs_app.cli import main; sys.exit(main())"]


def start_server(
    tmp_path: Path, *extra: str, smtp_host: str | None = None
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "CS_APP_SMTP_HOST"},
        "CS_APP_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
        **({"CS_APP_SMTP_HOST": smtp_host} if smtp_host else {}),
    }
    process = subprocess.Popen(
        [*cs_app_command(), "serve", "--port", str(port), "--threads", "2", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        encoding="utf-8",
        errors="replace",
    )
    return process, port


def wait_for_port(process: subprocess.Popen, port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"cs-app serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"cs-app serve did not listen on port {port} in {timeout} s")


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_serve_no_demo_migrates_an_empty_database_and_serves_the_sign_in_page(tmp_path):
    process, port = start_server(tmp_path, "--no-demo")
    try:
        wait_for_port(process, port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
            assert response.status == 200
            assert 'name="password"' in response.read().decode()
    finally:
        output = stop(process)
    assert f"cs_app is running on http://127.0.0.1:{port}/" in output
    assert "Demo sign-ins" not in output
    assert (tmp_path / "serve.sqlite3").exists()
    assert "Email: development outbox (/admin/outbox) — set CS_APP_SMTP_HOST to send" in output


def test_serve_says_when_email_goes_over_smtp(tmp_path):
    process, port = start_server(
        tmp_path, "--no-demo", "--no-scheduler", smtp_host="mail.example.test"
    )
    try:
        wait_for_port(process, port)
    finally:
        output = stop(process)
    assert "Email: SMTP mail.example.test:25" in output
    assert "Email: development outbox" not in output


def test_serve_loads_the_demo_into_an_empty_database_and_prints_the_sign_ins(tmp_path):
    process, port = start_server(tmp_path)
    try:
        wait_for_port(process, port)
    finally:
        output = stop(process)
    assert f"Demo sign-ins (password for all: {DEMO_PASSWORD})" in output
    lines = output.splitlines()
    for email, role, name in DEMO_USERS:
        assert any(role in line and email in line and name in line for line in lines)
    assert output.index("Demo sign-ins") < output.index("cs_app is running on")


# --- `cs-app check` and the demo on a shared database ----------------------------------------


def test_check_warns_about_demo_users_only_on_a_shared_database(cli, app):
    UserFactory(email=DEMO_USERS[0][0])
    result = cli("check")
    assert result.exit_code == 0, result.output
    on_sqlite = db.engine.dialect.name == "sqlite"
    assert ("1 demo user(s)" in result.output) is not on_sqlite
    assert "CS_APP_SECURE_COOKIES=1" in result.output  # the test config sends them plainly
    assert cli("check", "--strict").exit_code == 1


def run_cs_app(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cs_app_command(), *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("CS_APP_", "FLASK_"))},
            "CS_APP_INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
            "PYTHONIOENCODING": "utf-8",
            **env,
        },
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )


def test_check_warns_about_a_generated_secret_key_plain_cookies_and_debug(tmp_path):
    assert run_cs_app(tmp_path, "db", "upgrade").returncode == 0
    unsafe = run_cs_app(tmp_path, "check", FLASK_DEBUG="1")
    assert unsafe.returncode == 0, unsafe.stderr
    assert "The secret key was generated" in unsafe.stdout
    assert "CS_APP_SECURE_COOKIES=1" in unsafe.stdout
    assert "Debug mode is on" in unsafe.stdout
    safe = run_cs_app(
        tmp_path, "check", "--strict", CS_APP_SECRET_KEY="k" * 40, CS_APP_SECURE_COOKIES="1"
    )
    assert safe.returncode == 0, safe.stdout + safe.stderr
    assert "No warnings" in safe.stdout


def test_check_on_a_database_not_migrated_says_so(tmp_path):
    result = run_cs_app(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert "cs-app db upgrade" in result.stdout


def test_serve_prints_the_self_check_as_it_starts(tmp_path):
    process, port = start_server(tmp_path, "--no-demo", "--no-scheduler")
    try:
        wait_for_port(process, port)
    finally:
        output = stop(process)
    assert "Warning: The secret key was generated" in output
    assert output.index("Warning:") < output.index("cs_app is running on")


@pytest.mark.skipif(
    not os.environ.get("CS_APP_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (CS_APP_TEST_DATABASE_URL)",
)
def test_serve_never_loads_the_demo_into_an_empty_postgresql_database(
    tmp_path, throwaway_database, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", throwaway_database())
    process = subprocess.Popen(
        [*cs_app_command(), "serve", "--port", str(port := free_port()), "--no-scheduler"],
        env={
            **os.environ,
            "CS_APP_INSTANCE_PATH": str(tmp_path / "instance"),
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        encoding="utf-8",
        errors="replace",
    )
    try:
        wait_for_port(process, port)
    finally:
        output = stop(process)
    assert "Demo sign-ins" not in output and "Loading the demo" not in output
    assert "pass --demo to load it" in output
