"""session version on users; sign-in failures per client replace the per-address lockout

``users.session_version`` is part of every session's and remember-me cookie's identity
(``User.get_id``): raising it on sign-out, a new password, role or active state ends all of
that user's sessions. Sessions made before this revision name the user without a version and
no longer load anyone, so everyone signs in once more.

``login_failures`` keeps each failed sign-in for the throttle window, by client address and
hashed address typed, and replaces ``login_throttles``, whose per-address block also locked
the account's owner out (its rows are dropped: they only held blocks of at most 15 minutes).
See cs_app/auth/throttling.py.

Revision ID: 92c8f04e1dce
Revises: 5e1c7a3b9d24
Create Date: 2026-12-07 20:50:47.707819

"""
from alembic import op
import sqlalchemy as sa
import cs_app.db_types


# revision identifiers, used by Alembic.
revision = '92c8f04e1dce'
down_revision = '5e1c7a3b9d24'
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMN (SQLite takes it with a constant default): a batch rebuild of ``users``
    # would drop the table every other one points at
    op.add_column('users', sa.Column('session_version', sa.Integer(), server_default=sa.text('1'), nullable=False))

    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('account_key', sa.String(length=64), nullable=False),
    sa.Column('failed_at', cs_app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    op.create_index('ix_login_failures_client', 'login_failures', ['client', 'failed_at'], unique=False)
    op.create_index('ix_login_failures_client_account', 'login_failures', ['client', 'account_key', 'failed_at'], unique=False)
    op.create_index('ix_login_failures_failed_at', 'login_failures', ['failed_at'], unique=False)

    op.drop_table('login_throttles')


def downgrade():
    op.create_table('login_throttles',
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', cs_app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('blocked_until', cs_app.db_types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_login_throttles'))
    )

    op.drop_index('ix_login_failures_failed_at', table_name='login_failures')
    op.drop_index('ix_login_failures_client_account', table_name='login_failures')
    op.drop_index('ix_login_failures_client', table_name='login_failures')
    op.drop_table('login_failures')

    # plain DROP COLUMN (SQLite 3.35+), not a batch rebuild of ``users``: see upgrade
    op.drop_column('users', 'session_version')
