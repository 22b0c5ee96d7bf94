"""install built-in plan templates

Revision ID: e0160a84bacf
Revises: f6950e8a8bab
Create Date: 2026-11-21 07:59:26.231525

"""
from alembic import op
import sqlalchemy as sa
import cs_app.db_types


# revision identifiers, used by Alembic.
revision = 'e0160a84bacf'
down_revision = 'f6950e8a8bab'
branch_labels = None
depends_on = None


def upgrade():
    from datetime import UTC, datetime

    from cs_app.plans.builtin_templates import BUILTIN_TEMPLATES

    templates = sa.table(
        "plan_templates",
        sa.column("key", sa.String), sa.column("name", sa.String),
        sa.column("plan_type", sa.String), sa.column("review_cadence", sa.String),
        sa.column("description", sa.Text), sa.column("content", sa.JSON),
        sa.column("built_in", sa.Boolean), sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(templates, [dict(t, built_in=True, updated_at=now) for t in BUILTIN_TEMPLATES])


def downgrade():
    op.execute("DELETE FROM plan_templates WHERE built_in")
