"""contract files and performance notes kept per contract number of a client

Revision ID: 0019_contract_files
Revises: 0018_erasure
Create Date: 2026-12-06 17:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_contract_files'
down_revision = "0018_erasure"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'contract_records',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('contract_number', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=True),
        sa.Column('content_type', sa.String(length=128), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('contract_records', schema=None) as batch_op:
        batch_op.create_index('ix_contract_records_client', ['client_id', 'contract_number'], unique=False)


def downgrade():
    with op.batch_alter_table('contract_records', schema=None) as batch_op:
        batch_op.drop_index('ix_contract_records_client')
    op.drop_table('contract_records')
