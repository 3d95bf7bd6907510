"""config versions: governed configuration (rule sets, monitoring, routing, checklist)

Revision ID: 0015_config_versions
Revises: 0014_push_channels
Create Date: 2026-12-06 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_config_versions'
down_revision = '0014_push_channels'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'config_versions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('approved_by', sa.String(length=64), nullable=True),
        sa.Column('change_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('activated_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_config_versions')),
        sa.UniqueConstraint('kind', 'version', name=op.f('uq_config_versions_kind_version')),
    )
    with op.batch_alter_table('config_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_versions_kind'), ['kind'], unique=False)


def downgrade():
    with op.batch_alter_table('config_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_versions_kind'))
    op.drop_table('config_versions')
