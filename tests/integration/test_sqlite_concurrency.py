"""The embedded default holds: on one SQLite file, web requests in threads, a job in this
process and ``cs-app jobs run`` from a shell in another process write at the same time, and
none of them meets "database is locked".

A real file database of its own (not the suite's shared one, whose per-test transaction would
hold the write lock): every transaction here commits for real.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from cs_app import create_app
from cs_app.auth.service import create_token
from cs_app.config import TestConfig
from cs_app.db_types import utcnow
from cs_app.extensions import db
from cs_app.jobs.models import JobRun
from cs_app.jobs.runner import run_job
from tests.conftest import TEST_DATABASE_URL
from tests.factories import AccountFactory, UserFactory
from tests.integration.test_cli import cs_app_command

pytestmark = pytest.mark.skipif(
    TEST_DATABASE_URL.startswith("postgres"), reason="SQLite's single writer is what is tested"
)

CLIENTS = 6
SECONDS = 6


@pytest.fixture
def file_app(tmp_path):
    url = f"sqlite:///{tmp_path / 'concurrent.sqlite3'}"
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app({**config, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        UserFactory.create_batch(CLIENTS, role="admin")
        AccountFactory.create_batch(150, segment="SMB")
        db.session.commit()
    yield app, url
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_requests_a_job_and_a_shell_job_share_one_sqlite_file(file_app, tmp_path):
    app, url = file_app
    with app.app_context():
        users = list(db.session.scalars(select(UserFactory._meta.model)))
        tokens = []
        for user in users:
            _, token = create_token(user, name="load", now=utcnow())
            tokens.append(token)
        emails = [user.email for user in users]
        db.session.commit()

    errors: list[str] = []
    statuses: list[int] = []
    stop = time.monotonic() + SECONDS

    def web_client(index: int) -> None:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        step = 0
        try:
            while time.monotonic() < stop:
                step += 1
                started = time.monotonic()
                responses = [
                    client.post("/login", data={"email": emails[index], "password": "password123"}),
                    client.put(
                        f"/api/v1/accounts/load-{index}-{step % 5}",
                        json={"name": f"Load {index} {step}", "segment": "SMB"},
                        headers=headers,
                    ),
                    client.get("/api/v1/accounts", headers=headers),
                    client.get("/admin/jobs"),
                ]
                client.post("/logout")
                if os.environ.get("CS_APP_REPORT_CONCURRENCY"):
                    print("iteration", index, step, round(time.monotonic() - started, 3))
                for response in responses:
                    statuses.append(response.status_code)
                    if response.status_code >= 500:
                        errors.append(response.get_data(as_text=True)[:300])
        except Exception as error:
            errors.append(repr(error))

    def job_loop() -> None:
        try:
            while time.monotonic() < stop:
                with app.app_context():
                    run_job("recompute-health", trigger="schedule")
                    run_job("evaluate-rules", trigger="schedule")
        except Exception as error:
            errors.append(repr(error))

    env = {
        **os.environ,
        "CS_APP_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": url,
    }
    shell = subprocess.Popen(
        [
            "sh",
            "-c",
            " && ".join(
                [f'"$@" jobs run {name}' for name in ("recompute-health", "check-slas") * 3]
            ),
            "sh",
            *cs_app_command(),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    threads = [threading.Thread(target=web_client, args=(i,)) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=job_loop))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    output, _ = shell.communicate(timeout=180)

    assert shell.returncode == 0, output[-2000:]
    assert errors == []
    assert len(statuses) >= CLIENTS * 4 and set(statuses) <= {200, 201, 302}, sorted(set(statuses))
    with app.app_context():
        runs = list(db.session.scalars(select(JobRun)))
        assert runs and {run.status for run in runs} == {"succeeded"}, [
            (run.job_name, run.status, run.error) for run in runs if run.status != "succeeded"
        ]
