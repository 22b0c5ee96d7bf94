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

# A copy of cs_app.health.builtin_scorecards.BUILTIN_SCORECARDS as this revision installs it.
# A migration carries its own data so that it does the same on every database, whatever
# the live constant says later.
BUILTIN_SCORECARDS = [
    {
        "key": "health-indicators",
        "name": "Health Indicators",
        "segment": None,
        "note": "The scaled template's Health Indicators table.",
        "measures": [
            {
                "key": "login_frequency",
                "label": "Login frequency",
                "signal": "days_since_last_login",
                "weight": 25,
                "higher_is_better": False,
                "healthy": 7,
                "critical": 30,
                "freshness_days": None,
            },
            {
                "key": "feature_adoption",
                "label": "Feature adoption",
                "signal": "features_used_30d",
                "weight": 25,
                "higher_is_better": True,
                "healthy": 3,
                "critical": 0,
                "freshness_days": None,
            },
            {
                "key": "support_sentiment",
                "label": "Support sentiment",
                "signal": "support_sentiment",
                "weight": 25,
                "categories": {"positive": "healthy", "neutral": "at_risk", "negative": "critical"},
                "freshness_days": 90,
            },
            {
                "key": "nps",
                "label": "NPS response",
                "signal": "nps_category",
                "weight": 25,
                "categories": {
                    "promoter": "healthy",
                    "passive": "at_risk",
                    "detractor": "critical",
                },
                "freshness_days": 180,
            },
        ],
    },
    {
        "key": "mid-market-weighted",
        "name": "Mid-market weighted health",
        "segment": "Mid-Market",
        "note": "The GrowthStack Marketing example: 30/25/20/15/10.",
        "measures": [
            {
                "key": "login_frequency",
                "label": "Login frequency by service team leads",
                "signal": "logins_30d",
                "weight": 30,
                "higher_is_better": True,
                "healthy": 20,
                "critical": 2,
                "freshness_days": None,
            },
            {
                "key": "pipeline_freshness",
                "label": "Pipeline data freshness (days since update)",
                "signal": "metric.pipeline_freshness_days",
                "weight": 25,
                "higher_is_better": False,
                "healthy": 2,
                "critical": 14,
                "freshness_days": 7,
            },
            {
                "key": "support_sentiment",
                "label": "Support ticket sentiment",
                "signal": "support_sentiment",
                "weight": 20,
                "categories": {"positive": "healthy", "neutral": "at_risk", "negative": "critical"},
                "freshness_days": 90,
            },
            {
                "key": "feature_breadth",
                "label": "Feature breadth",
                "signal": "features_used_30d",
                "weight": 15,
                "higher_is_better": True,
                "healthy": 5,
                "critical": 1,
                "freshness_days": None,
            },
            {
                "key": "sponsor_engagement",
                "label": "Executive sponsor engagement",
                "signal": "days_since_sponsor_contact",
                "weight": 10,
                "higher_is_better": False,
                "healthy": 30,
                "critical": 90,
                "freshness_days": None,
            },
        ],
    },
]


def upgrade():
    from datetime import UTC, datetime

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
