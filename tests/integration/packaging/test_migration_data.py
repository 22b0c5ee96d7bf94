"""The built-ins the data migrations install equal the live constants.

Each data migration holds its own literal copy of what it installs (see
``tests/unit/packaging/test_migration_imports.py``), so the copy and the constant the app and
the tests read (``BUILTIN_TEMPLATES``, ``BUILTIN_SCORECARDS``, ``BUILTIN_POOLS``,
``BUILTIN_TOUCHPOINT_TEMPLATES``, ``BUILTIN_RULES``) can drift apart. This test catches that:
a change to a constant needs a new data migration that brings the rows along.
"""

from __future__ import annotations

from sqlalchemy import select

from cs_app.extensions import db
from cs_app.health.builtin_scorecards import BUILTIN_SCORECARDS
from cs_app.health.models import Scorecard, ScorecardMeasure, ScorecardVersion
from cs_app.plans.builtin_templates import BUILTIN_TEMPLATES
from cs_app.plans.models import PlanTemplate
from cs_app.triggers.pools.models import CsmPool
from cs_app.triggers.rules.builtin import (
    BUILTIN_POOLS,
    BUILTIN_RULES,
    BUILTIN_TOUCHPOINT_TEMPLATES,
)
from cs_app.triggers.rules.models import Rule
from cs_app.triggers.touchpoints.models import TouchpointTemplate


def installed(model, constant, **where) -> list[dict]:
    """The rows of ``model`` whose key is one of ``constant``'s, with the columns the
    constant names, in the constant's order."""
    columns = list(constant[0])
    table = model.__table__
    keys = [row["key"] for row in constant]
    rows = db.session.execute(
        select(*(table.c[name] for name in columns)).where(
            table.c.key.in_(keys), *(table.c[name] == value for name, value in where.items())
        )
    ).mappings()
    by_key = {row["key"]: dict(row) for row in rows}
    return [by_key.get(key) for key in keys]


def test_the_plan_templates_are_the_built_in_ones(app):
    assert installed(PlanTemplate, BUILTIN_TEMPLATES, built_in=True) == list(BUILTIN_TEMPLATES)


def test_the_pools_touchpoint_templates_and_rules_are_the_built_in_ones(app):
    assert installed(CsmPool, BUILTIN_POOLS) == BUILTIN_POOLS
    assert installed(TouchpointTemplate, BUILTIN_TOUCHPOINT_TEMPLATES) == (
        BUILTIN_TOUCHPOINT_TEMPLATES
    )
    assert installed(Rule, BUILTIN_RULES) == BUILTIN_RULES


def test_the_scorecards_are_the_built_in_ones(app):
    for card in BUILTIN_SCORECARDS:
        scorecard = db.session.scalar(select(Scorecard).where(Scorecard.key == card["key"]))
        assert (scorecard.name, scorecard.segment) == (card["name"], card["segment"])
        first = db.session.scalar(
            select(ScorecardVersion).where(
                ScorecardVersion.scorecard_id == scorecard.id, ScorecardVersion.number == 1
            )
        )
        assert first.note == card["note"]
        measures = db.session.scalars(
            select(ScorecardMeasure)
            .where(ScorecardMeasure.version_id == first.id)
            .order_by(ScorecardMeasure.position)
        )
        assert [
            {
                "key": m.key,
                "label": m.label,
                "signal": m.signal,
                "weight": m.weight,
                "higher_is_better": m.higher_is_better,
                "healthy": m.healthy,
                "critical": m.critical,
                "categories": m.categories,
                "freshness_days": m.freshness_days,
            }
            for m in measures
        ] == [
            {
                "key": m["key"],
                "label": m["label"],
                "signal": m["signal"],
                "weight": m["weight"],
                "higher_is_better": m.get("higher_is_better", True),
                "healthy": m.get("healthy"),
                "critical": m.get("critical"),
                "categories": m.get("categories"),
                "freshness_days": m.get("freshness_days"),
            }
            for m in card["measures"]
        ], card["key"]
