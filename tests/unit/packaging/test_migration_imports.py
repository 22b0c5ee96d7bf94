"""Migrations stand alone: a revision that imported live app code (a constant, a model, a
service) would change whenever that code changes, so an old database and a new one would
differ after the same ``db upgrade``. Data migrations carry a literal copy of what they
install; only ``cs_app.db_types``, the column types the schema is written in, may be imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERSIONS = Path(__file__).resolve().parents[3] / "migrations" / "versions"
ALLOWED = "cs_app.db_types"


def cs_app_imports(source: str) -> list[str]:
    """Every module under ``cs_app`` that ``source`` imports, at any depth (a function's
    ``from cs_app… import`` counts as much as one at the top)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cs_app":  # from cs_app import db_types
                names = [f"cs_app.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        else:
            continue
        found += [name for name in names if name == "cs_app" or name.startswith("cs_app.")]
    return found


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda path: path.name)
def test_a_migration_imports_nothing_from_cs_app_but_its_column_types(path):
    assert [name for name in cs_app_imports(path.read_text()) if name != ALLOWED] == []


def test_the_check_finds_imports_at_any_depth_and_in_any_form():
    source = (
        "import cs_app.db_types\n"
        "from cs_app import db_types\n"
        "def upgrade():\n"
        "    from cs_app.plans.builtin_templates import BUILTIN_TEMPLATES\n"
        "    import cs_app.health.builtin_scorecards as cards\n"
        "    from cs_app import models\n"
        "import cs_apple\n"
    )
    assert cs_app_imports(source) == [
        "cs_app.db_types",
        "cs_app.db_types",
        "cs_app.plans.builtin_templates",
        "cs_app.health.builtin_scorecards",
        "cs_app.models",
    ]


def test_there_are_migrations_to_check():
    assert len(list(VERSIONS.glob("*.py"))) >= 9
