"""push channels: the language each user reads in, for mail and the digest

Revision ID: 0014_push_channels
Revises: 0013_event_monitoring
Create Date: 2026-12-06 06:33:56.064462

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_push_channels'
down_revision = '0013_event_monitoring'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
