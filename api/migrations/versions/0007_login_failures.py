"""failed sign-ins under usernames no user has (lockout that does not reveal accounts)

Revision ID: 0007_login_failures
Revises: 0004_alerts
Create Date: 2026-11-30 12:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0007_login_failures'
down_revision = '0004_alerts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_failures',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_login_failures'))
    )


def downgrade():
    op.drop_table('login_failures')
