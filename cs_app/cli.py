"""The ``cs-app`` command: the Flask CLI for the app plus the operators' commands."""

from __future__ import annotations

import getpass
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

from cs_app import create_app
from cs_app.db_types import utcnow
from cs_app.errors import ValidationError
from cs_app.extensions import db


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """cs_app: customer-success plans, health scores and trigger rules."""


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo/--no-demo", "demo", default=None,
              help="Load the demo portfolio (default: only into an empty database).")
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int, demo: bool | None, threads: int) -> None:
    """Migrate the database, load demo data if asked or empty, and serve with waitress."""
    from flask_migrate import upgrade
    from waitress import serve as waitress_serve

    from cs_app.accounts.models import Account
    from cs_app.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    click.echo(f"Database: {db.engine.url.render_as_string(hide_password=True)}")
    upgrade()
    empty = db.session.scalar(select(func.count(Account.id))) == 0
    if demo or (demo is None and empty):
        click.echo("Loading the demo portfolio…")
        load_demo(now=utcnow(), echo=click.echo)
        db.session.commit()
        click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for email, role, name in DEMO_USERS:
            click.echo(f"  {role:<7} {email:<28} {name}")
    click.echo(f"cs_app is running on http://{host}:{port}/  (Ctrl+C to stop)")
    sys.stdout.flush()
    waitress_serve(current_app._get_current_object(), host=host, port=port, threads=threads,
                   ident="cs_app")


@main.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the deterministic demo portfolio (idempotent: existing demo rows are kept)."""
    from cs_app.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    load_demo(now=utcnow(), echo=click.echo)
    db.session.commit()
    click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
    for email, role, name in DEMO_USERS:
        click.echo(f"  {role:<7} {email:<28} {name}")


@main.group("users")
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


if __name__ == "__main__":
    main()
