"""The operators' commands (serve, scheduler, jobs, demo, users, import), attached to
``app.cli`` by the app factory so that ``cs-app`` and test CLI runners see the same ones."""

from __future__ import annotations

import getpass
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db
from cs_app.imports.cli import import_group
from cs_app.self_check import Deployment, should_load_demo, warnings
from cs_app.triggers.touchpoints.delivery import describe_mail_transport


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--demo/--no-demo",
    "demo",
    default=None,
    help="Load the demo portfolio (default: only into an empty database).",
)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Run the job scheduler in this process (single node); turn off when "
    "`cs-app scheduler` runs elsewhere.",
)
@with_appcontext
def serve(host: str, port: int, demo: bool | None, threads: int, scheduler: bool) -> None:
    """Migrate the database, load demo data if asked or empty, and serve with waitress."""
    from flask_migrate import upgrade
    from waitress import serve as waitress_serve

    from cs_app.accounts.models import Account
    from cs_app.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    click.echo(f"Instance folder: {current_app.instance_path}")
    click.echo(f"Database: {db.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"Email: {describe_mail_transport(current_app.config)}")
    upgrade()
    empty = db.session.scalar(select(func.count(Account.id))) == 0
    dialect = db.engine.dialect.name
    if should_load_demo(demo, database_empty=empty, database_dialect=dialect):
        click.echo("Loading the demo portfolio…")
        load_demo(now=utcnow(), echo=click.echo)
        db.session.commit()
        click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for email, role, name in DEMO_USERS:
            click.echo(f"  {role:<7} {email:<28} {name}")
    elif empty and demo is None:
        click.echo(
            f"The {dialect} database is empty; the demo (whose password is public) is loaded "
            "only into SQLite unless asked: pass --demo to load it, or create an admin with "
            "`cs-app users create EMAIL --role admin`."
        )
    for warning in _self_check():
        click.echo(f"Warning: {warning}")
    db.session.remove()  # SQLite: an open transaction would hold the write lock while serving
    app = current_app._get_current_object()
    leader = None
    if scheduler:
        from cs_app.jobs.leader import LeaderScheduler

        leader = LeaderScheduler(app, blocking=False)
        leader.start()
        click.echo("Scheduler started beside the web server (jobs run on the lease holder).")
    click.echo(f"cs_app is running on http://{host}:{port}/  (Ctrl+C to stop)")
    sys.stdout.flush()
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="cs_app")
    finally:
        if leader is not None:
            leader.shutdown()


def _self_check() -> list[str]:
    from cs_app.auth.models import User
    from cs_app.demo import DEMO_USERS

    demo_emails = [email for email, _, _ in DEMO_USERS]
    try:
        demo_users = db.session.scalar(
            select(func.count(User.id)).where(User.email.in_(demo_emails), User.active.is_(True))
        )
    except SQLAlchemyError:
        db.session.rollback()
        return ["The database could not be read (not migrated yet?): run `cs-app db upgrade`."]
    return warnings(
        Deployment(
            secret_key_generated=bool(current_app.config.get("SECRET_KEY_GENERATED")),
            secure_cookies=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            database_dialect=db.engine.dialect.name,
            demo_users_active=demo_users or 0,
            debug=current_app.debug,
        )
    )


@click.command("check")
@click.option("--strict", is_flag=True, help="Exit with status 1 when there is a warning.")
@with_appcontext
def check_command(strict: bool) -> None:
    """Warn about settings unsafe in production: a generated secret key, cookies without
    Secure, demo users on a shared database, debug mode. Run it after `cs-app db upgrade`."""
    found = _self_check()
    for warning in found:
        click.echo(f"Warning: {warning}")
    if not found:
        click.echo(
            "No warnings: the secret key is configured, cookies are Secure, no demo "
            "user can sign in to a shared database, debug is off."
        )
    if found and strict:
        sys.exit(1)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the job scheduler alone (for deployments with several web processes)."""
    from cs_app.jobs.leader import LeaderScheduler
    from cs_app.scheduler import JOBS

    click.echo("Scheduler starting; jobs: " + ", ".join(job.name for job in JOBS))
    sys.stdout.flush()
    leader = LeaderScheduler(current_app._get_current_object(), blocking=True)
    try:
        leader.start()
    except (KeyboardInterrupt, SystemExit):
        leader.shutdown()


@click.group("jobs")
def jobs() -> None:
    """List the scheduled jobs and run one now."""


@jobs.command("list")
@with_appcontext
def jobs_list() -> None:
    """Each job with its schedule and its last run."""
    from cs_app.jobs.models import JobRun
    from cs_app.scheduler import JOBS

    for job in JOBS:
        last = db.session.scalar(
            select(JobRun)
            .where(JobRun.job_name == job.name)
            .order_by(JobRun.started_at.desc())
            .limit(1)
        )
        schedule = ", ".join(f"{k}={v}" for k, v in job.trigger_args.items())
        status = (
            f"last run {last.started_at:%Y-%m-%d %H:%M} UTC {last.status}" if last else "never run"
        )
        click.echo(f"{job.name:<26} {job.trigger} {schedule:<22} {status}")
        click.echo(f"{'':<26} {job.description}")


@jobs.command("run")
@click.argument("name")
@with_appcontext
def jobs_run(name: str) -> None:
    """Run job NAME once now and print what it did."""
    from cs_app.jobs.runner import run_job
    from cs_app.scheduler import job_by_name

    try:
        job_by_name(name)
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from error
    click.echo(f"Running {name}…")
    try:
        run = run_job(name, trigger="cli")
    except Exception as error:
        raise click.ClickException(f"{name} failed: {error}") from error
    seconds = (run.finished_at - run.started_at).total_seconds()
    counts = ", ".join(f"{k}={v}" for k, v in (run.counts or {}).items())
    click.echo(f"{name} finished in {seconds:.1f} s: {counts or 'nothing to do'}")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the deterministic demo portfolio (idempotent: existing demo rows are kept)."""
    from cs_app.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    load_demo(now=utcnow(), echo=click.echo)
    db.session.commit()
    click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
    for email, role, name in DEMO_USERS:
        click.echo(f"  {role:<7} {email:<28} {name}")


@click.group("users")
def users() -> None:
    """Create users and API tokens."""


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "lead", "csm", "viewer"]))
@click.option("--name", default=None)
@click.option("--password", default=None, help="Prompted for (hidden) when not given.")
@with_appcontext
def users_create(email: str, role: str, name: str | None, password: str | None) -> None:
    """Create a user with ROLE."""
    from cs_app.auth.service import create_user

    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Repeat password: ") != password:
                raise click.ClickException("The passwords do not match.")
    try:
        user = create_user(email, role=role, name=name, password=password, now=utcnow())
    except ValidationError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} ({user.name}).")


@users.command("token")
@click.argument("email")
@click.option("--name", default="CLI token", show_default=True)
@with_appcontext
def users_token(email: str, name: str) -> None:
    """Print a new API bearer token for EMAIL (its last line of output)."""
    from cs_app.auth.service import create_token, find_user

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"No user has the email {email}.")
    record, token = create_token(user, name=name, now=utcnow())
    db.session.commit()
    click.echo(f"Token {record.prefix}… for {user.email}; it is shown only now:")
    click.echo(token)


COMMANDS = (serve, check_command, scheduler_command, demo_command, users, jobs, import_group)


def register_commands(app) -> None:
    """Attach every command group to ``app.cli`` (``cs-app`` and test runners both see them)."""
    for command in COMMANDS:
        app.cli.add_command(command)
