"""Delivery workers as real processes, for the concurrency and crash tests.

As a program (``python -m tests.integration.delivery_worker``) it builds the app from the
environment (``DATABASE_URL``, ``CS_APP_SMTP_PORT``…, exactly as ``cs-app`` does) and runs the
``deliver-touchpoints`` job through the same runner as ``cs-app jobs run``: once, or
(``--until-idle``) again and again until a run finds nothing to claim. ``--now`` moves its
clock (a restarted worker "after the lease"); ``--ready FILE`` / ``--gate FILE`` let a test
start two workers at the same instant.

As a module it gives the tests a migrated throwaway database with touchpoints in it, and
``start_worker`` / ``kill`` for the processes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAIL_FROM = "cs@example.test"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", help="ISO time the job runs at (default: the real time)")
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--ready", help="file to create once the app is built")
    parser.add_argument("--gate", help="file to wait for before the first run")
    args = parser.parse_args()

    from cs_app import create_app
    from cs_app.jobs.runner import run_job

    app = create_app()
    with app.app_context():
        if args.ready:
            Path(args.ready).touch()
        if args.gate:
            deadline = time.monotonic() + 120
            while not Path(args.gate).exists():
                if time.monotonic() > deadline:
                    print("the gate never opened", file=sys.stderr)
                    return 3
                time.sleep(0.005)
        now = datetime.fromisoformat(args.now) if args.now else None
        while True:
            run = run_job("deliver-touchpoints", trigger="cli", now=now)
            print(json.dumps(run.counts), flush=True)
            if not args.until_idle or not run.counts.get("claimed"):
                return 0


# --- for the tests --------------------------------------------------------------------------


@contextmanager
def migrated_app(url: str) -> Iterator:
    """An app on ``url`` with every migration run: the tests arrange and read data through
    it. Its connections are closed at the end."""
    from flask_migrate import upgrade

    from cs_app import create_app
    from cs_app.config import TestConfig
    from cs_app.extensions import db

    app = create_app(
        {
            **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
            "SQLALCHEMY_DATABASE_URI": url,
        }
    )
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def seed_touchpoints(app, count: int) -> list[tuple[int, str]]:
    """``count`` email touchpoints due now, each to its own contact: (id, Message-ID) each."""
    from sqlalchemy import insert, select

    from cs_app.accounts.models import Account, Contact
    from cs_app.auth.models import User
    from cs_app.db_types import utcnow
    from cs_app.extensions import db
    from cs_app.triggers.touchpoints.models import Touchpoint, TouchpointTemplate

    now = utcnow()
    with app.app_context():
        csm = User(email="casey@vendor.example", name="Casey Miller", role="csm")
        account = Account(
            external_id="CRASH-1",
            name="Acme Corp",
            segment="SMB",
            renewal_date=date(2027, 1, 15),
            csm=csm,
        )
        template = TouchpointTemplate(
            key="crash-test",
            name="Crash test",
            channel="email",
            subject="Hello {{ account.name }}",
            body="Hi {{ contact.first_name }}.",
        )
        db.session.add_all([csm, account, template])
        db.session.flush()
        contacts = [
            {
                "account_id": account.id,
                "name": f"Contact {n}",
                "email": f"contact{n}@acme.example",
                "role": "champion",
                "status": "active",
            }
            for n in range(count)
        ]
        contact_ids = db.session.scalars(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True), contacts
        ).all()
        db.session.execute(
            insert(Touchpoint),
            [
                {
                    "account_id": account.id,
                    "template_id": template.id,
                    "channel": "email",
                    "recipient_kind": "primary_contact",
                    "recipient_contact_id": contact_id,
                    "recipient_email": f"contact{n}@acme.example",
                    "recipient_name": f"Contact {n}",
                    "message_id": f"<tp-seed-{n}.{os.getpid()}@example.test>",
                    "due_at": now,
                    "next_attempt_at": now,
                    "status": "scheduled",
                    "attempts": 0,
                    "created_at": now,
                }
                for n, contact_id in enumerate(contact_ids)
            ],
        )
        db.session.commit()
        rows = db.session.execute(
            select(Touchpoint.id, Touchpoint.message_id).order_by(Touchpoint.id)
        ).all()
        return [tuple(row) for row in rows]


def statuses(app) -> dict[str, str]:
    """Message-ID → status, read fresh."""
    from sqlalchemy import select

    from cs_app.extensions import db
    from cs_app.triggers.touchpoints.models import Touchpoint

    with app.app_context():
        result = dict(db.session.execute(select(Touchpoint.message_id, Touchpoint.status)).all())
        db.session.remove()
        return result


def start_worker(
    url: str,
    smtp_port: int,
    tmp_path: Path,
    name: str,
    *,
    now: datetime | None = None,
    until_idle: bool = False,
    ready: Path | None = None,
    gate: Path | None = None,
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CS_APP_SMTP_HOST": "127.0.0.1",
        "CS_APP_SMTP_PORT": str(smtp_port),
        "CS_APP_MAIL_FROM": MAIL_FROM,
        "CS_APP_SECRET_KEY": "worker-secret",
        "PGAPPNAME": name,
        "CS_APP_INSTANCE_PATH": str(tmp_path / f"instance-{name}"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "tests.integration.delivery_worker"]
    if now is not None:
        command += ["--now", now.astimezone(UTC).isoformat()]
    if until_idle:
        command.append("--until-idle")
    if ready is not None:
        command += ["--ready", str(ready)]
    if gate is not None:
        command += ["--gate", str(gate)]
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 (the process writes to it)
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    process.log_path = tmp_path / f"{name}.log"
    log.close()
    return process


def output(process: subprocess.Popen) -> str:
    return Path(process.log_path).read_text()


def finish(process: subprocess.Popen, timeout: float = 180) -> str:
    """Wait for a worker to end by itself; its output. Fails (and kills it) on a timeout or
    an error exit."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired as error:
        process.kill()
        process.wait()
        raise AssertionError(
            f"the worker did not finish in {timeout} s:\n{output(process)}"
        ) from error
    assert process.returncode == 0, output(process)
    return output(process)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL: no cleanup, no rollback, no goodbye — a crash."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def wait_until(condition, *, timeout: float = 60, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"still not true after {timeout} s")
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
