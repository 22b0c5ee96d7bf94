"""development outbox: emails kept in the database when no SMTP host is configured

``outbox_messages`` holds each email the ``deliver-touchpoints`` job would have sent (headers
and the whole message text) while ``CS_APP_SMTP_HOST`` is unset; admins read them at
``/admin/outbox``. See cs_app/triggers/touchpoints/models.py.

Revision ID: 3c7e1f0a9b24
Revises: 98be91d202bc
Create Date: 2026-12-07 19:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
import cs_app.db_types


# revision identifiers, used by Alembic.
revision = '3c7e1f0a9b24'
down_revision = '98be91d202bc'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('touchpoint_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('mail_from', sa.Text(), nullable=False),
    sa.Column('to', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('created_at', cs_app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['touchpoint_id'], ['touchpoints.id'], name=op.f('fk_outbox_messages_touchpoint_id_touchpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_touchpoint', ['touchpoint_id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_touchpoint')
    op.drop_table('outbox_messages')
