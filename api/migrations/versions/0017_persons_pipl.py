"""natural persons as clients, the PIPL consent on the record, the access log of client reads

Revision ID: 0017_persons_pipl
Revises: 0016_definition_migrations
Create Date: 2026-12-06 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0017_persons_pipl'
down_revision = "0016_definition_migrations"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_type', sa.String(length=24), server_default='enterprise', nullable=False))
        batch_op.add_column(sa.Column('consent_basis', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('consent_at', sa.Date(), nullable=True))
        batch_op.alter_column('credit_code', existing_type=sa.String(length=18), nullable=True)

    op.create_table('client_reads',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('view', sa.String(length=24), nullable=False),
    sa.Column('client_ids', JSON, nullable=False),
    sa.Column('client_keys', sa.Text(), nullable=False),
    sa.Column('fields', JSON, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_reads'))
    )
    with op.batch_alter_table('client_reads', schema=None) as batch_op:
        batch_op.create_index('ix_client_reads_at', ['at'], unique=False)
        batch_op.create_index('ix_client_reads_username', ['username', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('client_reads', schema=None) as batch_op:
        batch_op.drop_index('ix_client_reads_username')
        batch_op.drop_index('ix_client_reads_at')
    op.drop_table('client_reads')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.alter_column('credit_code', existing_type=sa.String(length=18), nullable=False)
        batch_op.drop_column('consent_at')
        batch_op.drop_column('consent_basis')
        batch_op.drop_column('client_type')
