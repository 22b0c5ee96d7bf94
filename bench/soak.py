"""Soak: the app left running with every job ticking while many clients use it.

SQLite (the embedded default): ``cs-app serve`` with its scheduler. PostgreSQL: gunicorn with
several workers and two ``cs-app scheduler`` processes, so jobs must run once per tick and each
message must be sent once although several processes could. Every job is due every minute
(``CS_APP_JOBS_EVERY_SECONDS``); email goes to an SMTP sink in this process.

The clients, each a thread for the whole run:
- browser users sign in (a CSM or the lead) and read pages: home, accounts, an account, plans,
  the dashboard, the queue, alerts, rules, touchpoints;
- API readers page through accounts and read single accounts and their plans;
- API writers push usage events in batches (and now and then the same batch again, which must
  store nothing twice).

It prints the responses by status (a 5xx is a failure), latency medians and 95th percentiles,
the job runs by job and status (a failed run is a failure), events sent, accepted and stored,
and the messages the sink received (a Message-ID twice is a failure), then exits 1 if any
failure was seen.

    python bench/soak.py --minutes 10 --clients 20
    python bench/soak.py --minutes 10 --clients 20 \\
        --postgres postgresql://postgres@127.0.0.1:5432/postgres --web-workers 4 --schedulers 2
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).parent
PAGES = (
    "/",
    "/accounts",
    "/accounts/CRM-10001",
    "/plans",
    "/dashboard",
    "/queue",
    "/alerts",
    "/rules",
    "/touchpoints",
)
BROWSER_USERS = (
    "maya@demo.cs-app.example",
    "daniel@demo.cs-app.example",
    "sofia@demo.cs-app.example",
    "lead@demo.cs-app.example",
)
PASSWORD = "demo-pass-2026"
EVENT_TYPES = ("login", "feature_used", "page_view")
BATCH = 100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a throwaway database is made")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (PostgreSQL)")
    parser.add_argument("--schedulers", type=int, default=2, help="cs-app scheduler processes")
    parser.add_argument("--job-seconds", type=int, default=60, help="every job's interval")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """An SMTP server on loopback that keeps each message's Message-ID."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.message_ids: list[str] = []
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                found = re.search(rb"^Message-ID:\s*(\S+)", envelope.content, re.M | re.I)
                with sink.lock:
                    sink.message_ids.append(found.group(1).decode() if found else "")
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.events_accepted = 0
        self.event_ids: set[str] = set()

    def record(self, kind: str, status: int, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies[kind].append(seconds)
            if status >= 500 and len(self.errors) < 20:
                self.errors.append(f"{status} {kind} {detail}")


def request(opener, url: str, *, data: bytes | None = None, headers: dict | None = None):
    started = time.perf_counter()
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(req, timeout=60) as response:
            body = response.read()
            return response.status, body, time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read(), time.perf_counter() - started
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        return 599, str(error).encode(), time.perf_counter() - started


def browser_client(base: str, email: str, deadline: float, results: Results) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, body, seconds = request(opener, base + "/login")
    results.record("login page", status, seconds)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body)
    form = {"email": email, "password": PASSWORD}
    if token:
        form["csrf_token"] = token.group(1).decode()
    status, _, seconds = request(
        opener, base + "/login", data=urllib.parse.urlencode(form).encode()
    )
    results.record("sign in", status, seconds)
    rng = random.Random(email)
    while time.time() < deadline:
        path = rng.choice(PAGES)
        status, _, seconds = request(opener, base + path)
        results.record("page", status, seconds, path)


def api_reader(base: str, token: str, deadline: float, results: Results, accounts: list[str]):
    opener = urllib.request.build_opener()
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(token[-6:])
    while time.time() < deadline:
        choice = rng.random()
        if choice < 0.4:
            path = f"/api/v1/accounts?page={rng.randint(1, 3)}&per_page=20"
        elif choice < 0.7:
            path = f"/api/v1/accounts/{rng.choice(accounts)}"
        else:
            path = f"/api/v1/accounts/{rng.choice(accounts)}/plans"
        status, _, seconds = request(opener, base + path, headers=headers)
        results.record("api read", status, seconds, path)


def api_writer(
    base: str, token: str, deadline: float, results: Results, accounts: list[str], number: int
):
    opener = urllib.request.build_opener()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rng = random.Random(number)
    sequence = 0
    previous: tuple[bytes, list[str]] | None = None
    while time.time() < deadline:
        if previous is not None and rng.random() < 0.1:
            body, ids = previous  # the same batch again: nothing may be stored twice
        else:
            now = datetime.now(UTC).isoformat()
            events = []
            for _ in range(BATCH):
                sequence += 1
                event_type = rng.choice(EVENT_TYPES)
                events.append(
                    {
                        "id": f"soak-{number}-{sequence}",
                        "account": rng.choice(accounts),
                        "type": event_type,
                        "at": now,
                        "user": f"user{rng.randint(1, 30)}@example.com",
                        "properties": {"feature": "reports"}
                        if event_type == "feature_used"
                        else {},
                    }
                )
            body, ids = json.dumps({"events": events}).encode(), [e["id"] for e in events]
            previous = (body, ids)
        status, reply, seconds = request(
            opener, base + "/api/v1/events", data=body, headers=headers
        )
        results.record("api events", status, seconds, reply[:300].decode(errors="replace"))
        if status == 200:
            accepted = json.loads(reply).get("accepted", 0)
            with results.lock:
                results.events_accepted += accepted
                results.event_ids.update(ids)


def wait_for(base: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(base + "/login", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise SystemExit(f"the app did not answer at {base} within {seconds:.0f} s")


def cs_app(env: dict, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "cs-app"), *args], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cs-app-soak-"))
    env = {
        **os.environ,
        "CS_APP_INSTANCE_PATH": str(workdir / "instance"),
        "CS_APP_JOBS_EVERY_SECONDS": str(args.job_seconds),
        "CS_APP_SECRET_KEY": "soak",
    }
    database = None
    if args.postgres:
        server = make_url(args.postgres).set(drivername="postgresql+psycopg")
        name = f"cs_app_soak_{os.getpid()}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        database = server.set(database=name)
        env["DATABASE_URL"] = database.render_as_string(hide_password=False)
    processes: list[subprocess.Popen] = []
    results = Results()
    try:
        with Sink() as sink:
            env.update(CS_APP_SMTP_HOST="127.0.0.1", CS_APP_SMTP_PORT=str(sink.port))
            cs_app(env, "db", "upgrade")
            cs_app(env, "demo")
            token = cs_app(env, "users", "token", "admin@demo.cs-app.example").split()[-1]
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            logs = workdir / "logs"
            logs.mkdir()
            if args.postgres:
                if shutil.which("gunicorn", path=str(BIN)) is None:
                    raise SystemExit("PostgreSQL soak needs gunicorn: pip install gunicorn")
                web = [str(BIN / "gunicorn"), "--workers", str(args.web_workers)]
                web += ["--bind", f"127.0.0.1:{port}", "cs_app:create_app()"]
                commands = [web] + [[str(BIN / "cs-app"), "scheduler"]] * args.schedulers
            else:
                commands = [[str(BIN / "cs-app"), "serve", "--port", str(port), "--no-demo"]]
            for index, command in enumerate(commands):
                log = (logs / f"process-{index}.log").open("w")
                processes.append(
                    subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                )
            wait_for(base)
            opener = urllib.request.build_opener()
            _, body, _ = request(
                opener,
                base + "/api/v1/accounts?per_page=100",
                headers={"Authorization": f"Bearer {token}"},
            )
            accounts = [a["external_id"] for a in json.loads(body)["items"]]
            deadline = time.time() + args.minutes * 60
            threads = []
            for number in range(args.clients):
                kind = number % 4
                if kind == 0:
                    target, extra = api_writer, (base, token, deadline, results, accounts, number)
                elif kind == 1:
                    target, extra = api_reader, (base, token, deadline, results, accounts)
                else:
                    email = BROWSER_USERS[number % len(BROWSER_USERS)]
                    target, extra = browser_client, (base, email, deadline, results)
                threads.append(threading.Thread(target=target, args=extra, daemon=True))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            time.sleep(min(args.job_seconds + 10, 90))  # let the last tick finish
            load = os.getloadavg()
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            report = report_database(env, args.job_seconds)
            received = list(sink.message_ids)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        if database is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database.database}"'))
        shutil.rmtree(workdir, ignore_errors=True)
    return print_report(args, results, report, received, load)


def report_database(env: dict, job_seconds: int) -> dict:
    url = env.get("DATABASE_URL") or f"sqlite:///{env['CS_APP_INSTANCE_PATH']}/cs_app.sqlite3"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.connect() as connection:
        runs = connection.execute(
            text("SELECT job_name, status, COUNT(*) FROM job_runs GROUP BY job_name, status")
        ).all()
        failures = connection.execute(
            text(
                "SELECT job_name, status, error FROM job_runs "
                "WHERE status NOT IN ('succeeded', 'running') ORDER BY id LIMIT 10"
            )
        ).all()
        starts = connection.execute(
            text("SELECT job_name, started_at FROM job_runs WHERE trigger = 'schedule'")
        ).all()
        stored, distinct = connection.execute(
            text(
                "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM usage_events "
                "WHERE event_id LIKE 'soak-%'"
            )
        ).one()
    engine.dispose()
    by_job: dict[str, list[datetime]] = defaultdict(list)
    for job, moment in starts:
        by_job[job].append(
            moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
        )
    # a tick run twice shows as two starts of one job much closer than its interval
    doubled = [
        (job, later)
        for job, moments in by_job.items()
        for earlier, later in zip(sorted(moments), sorted(moments)[1:], strict=False)
        if (later - earlier).total_seconds() < job_seconds / 2
    ]
    return {
        "runs": runs,
        "failures": failures,
        "doubled": doubled,
        "stored": stored,
        "distinct": distinct,
    }


def print_report(args, results: Results, report: dict, received: list[str], load) -> int:
    failures = 0
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"soak on {database}: {args.clients} clients for {args.minutes:g} min")
    total = sum(results.statuses.values())
    server_errors = sum(n for status, n in results.statuses.items() if status >= 500)
    print(f"requests: {total}; by status: {dict(sorted(results.statuses.items()))}")
    print(f"responses >= 500: {server_errors}")
    failures += server_errors
    for error in results.errors:
        print(f"  {error}")
    for kind, values in sorted(results.latencies.items()):
        print(
            f"  {kind:<12} n={len(values):>6}  median {statistics.median(values) * 1000:7.1f} ms"
            f"  p95 {percentile(values, 0.95) * 1000:7.1f} ms"
        )
    print("job runs (job: status=count):")
    by_job: dict[str, dict[str, int]] = defaultdict(dict)
    for job, status, count in report["runs"]:
        by_job[job][status] = count
    for job, counts in sorted(by_job.items()):
        print(f"  {job:<26} {counts}")
    failed = list(report["failures"])
    print(f"job runs not succeeded: {len(failed)}")
    failures += len(failed)
    for job, status, error in failed:
        print(f"  {job} {status}: {(error or '')[:200]}")
    print(f"job ticks run more than once: {len(report['doubled'])}")
    failures += len(report["doubled"])
    acknowledged = len(results.event_ids)
    print(
        f"events: acknowledged {acknowledged} (in 200 answers), accepted "
        f"{results.events_accepted}, stored {report['stored']} ({report['distinct']} distinct ids)"
    )
    if not (acknowledged == results.events_accepted == report["stored"] == report["distinct"]):
        print("  events were lost or stored twice")
        failures += 1
    duplicates = sum(n - 1 for n in Counter(received).values() if n > 1)
    print(f"messages received: {len(received)}, sent twice: {duplicates}")
    failures += duplicates
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"failures: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
