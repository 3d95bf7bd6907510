"""console session epochs on users; sign-in failures counted per username and source address

Revision ID: 0009_sessions_throttle
Revises: 0008_inbox_state_due
Create Date: 2026-12-01 09:00:00

The failure counts are short-lived (a lock lasts 15 minutes), so ``login_failures`` is
made anew rather than converted: a deploy forgets the counts of the moment.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009_sessions_throttle'
down_revision = '0008_inbox_state_due'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default=sa.text('0'),
                                      nullable=False))
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('locked_until')
    op.drop_table('login_failures')
    op.create_table('login_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('username', 'source', name=op.f('pk_login_failures'))
    )


def downgrade():
    op.drop_table('login_failures')
    op.create_table('login_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default=sa.text('0'),
                                      nullable=False))
        batch_op.drop_column('session_epoch')
