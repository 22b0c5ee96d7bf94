"""Pure modules import no Flask, SQLAlchemy or app extensions (STYLE habit 3)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_MODULES = [
    "cs_app.plans.progress",
    "cs_app.health.scoring",
    "cs_app.accounts.signal_catalog",
    "cs_app.accounts.signal_format",
    "cs_app.money",
    "cs_app.header_text",
    "cs_app.dashboards.charts",
    "cs_app.triggers.rules.rules",
    "cs_app.triggers.pools.routing",
    "cs_app.triggers.touchpoints.retry",
    "cs_app.triggers.rules.actions",
    "cs_app.triggers.touchpoints.sandbox",
    "cs_app.paging",
    "cs_app.numbers",
    "cs_app.request_args",
    "cs_app.json_limits",
    "cs_app.self_check",
    "cs_app.imports.csv_reader",
    "cs_app.imports.mapping",
    "cs_app.auth.throttling",
    "cs_app.csv_cells",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_loads_no_framework(module):
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = [m for m in ('flask', 'sqlalchemy', 'cs_app.extensions') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
