"""one open queue item per account and pool, its reasons listed, rules snooze and skip churned

``queue_item_reasons`` lists the rule firings behind a queue item: a second rule firing for an
account that already has an open item in the pool adds a reason to it instead of a second
item, and resolving the item snoozes each reason's rule for the account until its
``snoozed_until``. Existing items get their own firing as their first reason. Where an
account already held several open items in one pool, the oldest keeps them all as reasons
(priority raised to the highest) and the others are resolved "no action" with a note naming
it, so the partial unique index "one open item per pool and account" can be built.

Rules gain ``snooze_days`` (default 14) and ``include_churned`` (default false).

Revision ID: 5e1c7a3b9d24
Revises: 3c7e1f0a9b24
Create Date: 2026-12-07 19:15:00

"""
from alembic import op
import sqlalchemy as sa
import cs_app.db_types


revision = '5e1c7a3b9d24'
down_revision = '3c7e1f0a9b24'
branch_labels = None
depends_on = None

RANK = {"high": 0, "normal": 1, "low": 2}


def upgrade():
    # plain ADD COLUMN (SQLite takes it with a constant default): rebuilding ``rules`` in a
    # batch would drop the table, and the foreign keys would null or delete what points at it
    op.add_column('rules', sa.Column('snooze_days', sa.Integer(), server_default=sa.text('14'), nullable=False))
    op.add_column('rules', sa.Column('include_churned', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('queue_item_reasons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('queue_item_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('firing_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('matched', sa.JSON(), nullable=True),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('added_at', cs_app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('snoozed_until', cs_app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['firing_id'], ['rule_firings.id'], name=op.f('fk_queue_item_reasons_firing_id_rule_firings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['queue_item_id'], ['queue_items.id'], name=op.f('fk_queue_item_reasons_queue_item_id_queue_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['rules.id'], name=op.f('fk_queue_item_reasons_rule_id_rules'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_item_reasons'))
    )
    op.create_index('ix_queue_item_reasons_firing', 'queue_item_reasons', ['firing_id'], unique=False)
    op.create_index('ix_queue_item_reasons_item', 'queue_item_reasons', ['queue_item_id'], unique=False)
    op.create_index('ix_queue_item_reasons_rule_snooze', 'queue_item_reasons', ['rule_id', 'snoozed_until'], unique=False)

    op.execute(
        "INSERT INTO queue_item_reasons "
        "(queue_item_id, rule_id, firing_id, title, matched, priority, added_at) "
        "SELECT id, rule_id, firing_id, title, reason, priority, created_at FROM queue_items "
        "ORDER BY id"
    )

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, pool_id, account_id, priority FROM queue_items "
        "WHERE status IN ('open', 'claimed') ORDER BY pool_id, account_id, created_at, id"
    )).all()
    kept: dict = {}
    for row in rows:
        key = (row.pool_id, row.account_id)
        if key not in kept:
            kept[key] = [row.id, row.priority]
            continue
        keeper = kept[key]
        bind.execute(sa.text(
            "UPDATE queue_item_reasons SET queue_item_id = :keeper WHERE queue_item_id = :id"
        ), {"keeper": keeper[0], "id": row.id})
        bind.execute(sa.text(
            "UPDATE queue_items SET status = 'resolved', outcome = 'no_action', "
            "resolved_at = created_at, notes = :notes, version = version + 1 WHERE id = :id"
        ), {"id": row.id, "notes": f"Merged into queue item #{keeper[0]}: one open item per account and pool."})
        if RANK.get(row.priority, 3) < RANK.get(keeper[1], 3):
            keeper[1] = row.priority
            bind.execute(sa.text(
                "UPDATE queue_items SET priority = :priority, version = version + 1 WHERE id = :id"
            ), {"id": keeper[0], "priority": row.priority})

    op.create_index('uq_queue_items_open_account', 'queue_items', ['pool_id', 'account_id'], unique=True, sqlite_where=sa.text("status IN ('open', 'claimed')"), postgresql_where=sa.text("status IN ('open', 'claimed')"))


def downgrade():
    op.drop_index('uq_queue_items_open_account', table_name='queue_items')
    op.drop_index('ix_queue_item_reasons_rule_snooze', table_name='queue_item_reasons')
    op.drop_index('ix_queue_item_reasons_item', table_name='queue_item_reasons')
    op.drop_index('ix_queue_item_reasons_firing', table_name='queue_item_reasons')

    op.drop_table('queue_item_reasons')
    # plain DROP COLUMN (SQLite 3.35+), not a batch rebuild of ``rules``: see upgrade
    op.drop_column('rules', 'include_churned')
    op.drop_column('rules', 'snooze_days')
