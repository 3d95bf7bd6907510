"""notifications: the code and params that word the title and body in the reader's language

Revision ID: 0010_notification_codes
Revises: 0009_sessions_throttle
Create Date: 2026-12-06 03:40:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0010_notification_codes'
down_revision = '0009_sessions_throttle'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: rows written before codes existed keep showing their stored text.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column(
            'params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True))


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('params')
        batch_op.drop_column('code')
