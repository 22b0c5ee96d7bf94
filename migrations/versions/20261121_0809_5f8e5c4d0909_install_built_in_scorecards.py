"""install built-in scorecards

Revision ID: 5f8e5c4d0909
Revises: 49db4e1630af
Create Date: 2026-11-21 08:09:12.113920

"""
from alembic import op
import sqlalchemy as sa
import cs_app.db_types


# revision identifiers, used by Alembic.
revision = '5f8e5c4d0909'
down_revision = '49db4e1630af'
branch_labels = None
depends_on = None


def upgrade():
    from datetime import UTC, datetime

    from cs_app.health.builtin_scorecards import BUILTIN_SCORECARDS

    connection = op.get_bind()
    scorecards = sa.table(
        "scorecards", sa.column("id", sa.Integer), sa.column("key", sa.String),
        sa.column("name", sa.String), sa.column("segment", sa.String),
        sa.column("active", sa.Boolean), sa.column("priority", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    versions = sa.table(
        "scorecard_versions", sa.column("id", sa.Integer), sa.column("scorecard_id", sa.Integer),
        sa.column("number", sa.Integer), sa.column("healthy_min", sa.Float),
        sa.column("at_risk_min", sa.Float), sa.column("coverage_floor", sa.Float),
        sa.column("note", sa.Text), sa.column("created_at", sa.DateTime(timezone=True)),
    )
    measures = sa.table(
        "scorecard_measures", sa.column("version_id", sa.Integer),
        sa.column("position", sa.Integer), sa.column("key", sa.String),
        sa.column("label", sa.String), sa.column("signal", sa.String),
        sa.column("weight", sa.Float), sa.column("higher_is_better", sa.Boolean),
        sa.column("healthy", sa.Float), sa.column("critical", sa.Float),
        sa.column("categories", sa.JSON), sa.column("freshness_days", sa.Integer),
    )
    now = datetime.now(UTC)
    for card in BUILTIN_SCORECARDS:
        scorecard_id = connection.execute(
            scorecards.insert().values(key=card["key"], name=card["name"],
                                       segment=card["segment"], active=True, priority=100,
                                       created_at=now).returning(scorecards.c.id)
        ).scalar_one()
        version_id = connection.execute(
            versions.insert().values(scorecard_id=scorecard_id, number=1, healthy_min=70.0,
                                     at_risk_min=40.0, coverage_floor=0.5, note=card["note"],
                                     created_at=now).returning(versions.c.id)
        ).scalar_one()
        connection.execute(measures.insert(), [
            {"version_id": version_id, "position": position, "key": m["key"],
             "label": m["label"], "signal": m["signal"], "weight": m["weight"],
             "higher_is_better": m.get("higher_is_better", True), "healthy": m.get("healthy"),
             "critical": m.get("critical"), "categories": m.get("categories"),
             "freshness_days": m.get("freshness_days")}
            for position, m in enumerate(card["measures"])
        ])


def downgrade():
    op.execute("DELETE FROM scorecards WHERE key IN ('health-indicators', 'mid-market-weighted')")
