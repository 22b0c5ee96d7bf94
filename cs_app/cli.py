"""The ``cs-app`` command: Flask's CLI for the app, whose factory attaches the operators'
commands (``cs_app.commands``)."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from cs_app.app import build_app


@click.group(cls=FlaskGroup, create_app=build_app, add_version_option=False)
def main() -> None:
    """cs_app: customer-success plans, health scores and trigger rules."""


if __name__ == "__main__":
    main()
