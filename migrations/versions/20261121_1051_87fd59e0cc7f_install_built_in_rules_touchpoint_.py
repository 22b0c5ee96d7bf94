"""install built-in rules, touchpoint templates and pools

Revision ID: 87fd59e0cc7f
Revises: c6ffd127d16c
Create Date: 2026-11-21 10:51:58.022454

"""
from alembic import op
import sqlalchemy as sa
import cs_app.db_types


# revision identifiers, used by Alembic.
revision = '87fd59e0cc7f'
down_revision = 'c6ffd127d16c'
branch_labels = None
depends_on = None


def upgrade():
    from datetime import UTC, datetime

    from cs_app.triggers.rules.builtin import (
        BUILTIN_POOLS,
        BUILTIN_RULES,
        BUILTIN_TOUCHPOINT_TEMPLATES,
    )

    now = datetime.now(UTC)
    pools = sa.table(
        "csm_pools", sa.column("key", sa.String), sa.column("name", sa.String),
        sa.column("description", sa.Text), sa.column("strategy", sa.String),
        sa.column("default_sla_hours", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(pools, [dict(p, created_at=now) for p in BUILTIN_POOLS])
    templates = sa.table(
        "touchpoint_templates", sa.column("key", sa.String), sa.column("name", sa.String),
        sa.column("channel", sa.String), sa.column("subject", sa.String),
        sa.column("body", sa.Text), sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer),
    )
    op.bulk_insert(templates, [dict(t, updated_at=now, version=1)
                               for t in BUILTIN_TOUCHPOINT_TEMPLATES])
    rules = sa.table(
        "rules", sa.column("key", sa.String), sa.column("name", sa.String),
        sa.column("description", sa.Text), sa.column("kind", sa.String),
        sa.column("enabled", sa.Boolean), sa.column("mode", sa.String),
        sa.column("event_type", sa.String), sa.column("event_properties", sa.JSON),
        sa.column("first_event_only", sa.Boolean), sa.column("condition", sa.JSON),
        sa.column("actions", sa.JSON), sa.column("once_policy", sa.String),
        sa.column("cooldown_days", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)), sa.column("version", sa.Integer),
    )
    op.bulk_insert(rules, [dict(r, enabled=True, created_at=now, updated_at=now, version=1)
                           for r in BUILTIN_RULES])


def downgrade():
    from cs_app.triggers.rules.builtin import (
        BUILTIN_POOLS,
        BUILTIN_RULES,
        BUILTIN_TOUCHPOINT_TEMPLATES,
    )

    for table, rows in (("rules", BUILTIN_RULES),
                        ("touchpoint_templates", BUILTIN_TOUCHPOINT_TEMPLATES),
                        ("csm_pools", BUILTIN_POOLS)):
        keys = sa.bindparam("keys", [row["key"] for row in rows], expanding=True)
        op.get_bind().execute(sa.text(f"DELETE FROM {table} WHERE key IN :keys")
                              .bindparams(keys))
