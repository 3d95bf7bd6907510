"""name screening: watch-list aliases, ID numbers, content keys for the import delta,
imports with re-screening progress, and cleared false positives

Revision ID: 0012_name_screening
Revises: 0011_risk_events
Create Date: 2026-12-06 06:22:07.460934

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0012_name_screening'
down_revision = '0011_risk_events'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.create_table('watchlist_clearances',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('client_id', BIG_ID, nullable=False),
    sa.Column('list_name', sa.String(length=32), nullable=False),
    sa.Column('content_key', sa.String(length=64), nullable=False),
    sa.Column('entry_name', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('cleared_by', sa.String(length=96), nullable=False),
    sa.Column('cleared_at', sa.DateTime(), nullable=False),
    sa.Column('instance_id', BIG_ID, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchlist_clearances')),
    sa.UniqueConstraint('client_id', 'list_name', 'content_key', name=op.f('uq_watchlist_clearances_client_id_list_name_content_key'))
    )
    op.create_table('watchlist_imports',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('imported_by', sa.String(length=96), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('counts', JSON, nullable=False),
    sa.Column('rescreen_status', sa.String(length=16), nullable=False),
    sa.Column('rescreen_cursor', BIG_ID, nullable=False),
    sa.Column('clients_rescreened', sa.Integer(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchlist_imports'))
    )
    with op.batch_alter_table('watchlist_entries', schema=None) as batch_op:
        # Rows imported before this migration have no keys: the next import counts
        # them as changed, so clients are re-screened against them once.
        batch_op.add_column(sa.Column('id_number', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('aliases', JSON, nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('import_id', BIG_ID, nullable=True))
        batch_op.add_column(sa.Column('content_key', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('identity_key', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('changed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_watchlist_entries_content', ['list_name', 'content_key'], unique=False)
        batch_op.create_index('ix_watchlist_entries_id_number', ['id_number'], unique=False)
        batch_op.create_index('ix_watchlist_entries_identity', ['list_name', 'identity_key'], unique=False)
        batch_op.create_index('ix_watchlist_entries_import', ['import_id', 'changed'], unique=False)



def downgrade():
    with op.batch_alter_table('watchlist_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_watchlist_entries_import')
        batch_op.drop_index('ix_watchlist_entries_identity')
        batch_op.drop_index('ix_watchlist_entries_id_number')
        batch_op.drop_index('ix_watchlist_entries_content')
        batch_op.drop_column('changed')
        batch_op.drop_column('identity_key')
        batch_op.drop_column('content_key')
        batch_op.drop_column('import_id')
        batch_op.drop_column('aliases')
        batch_op.drop_column('id_number')

    op.drop_table('watchlist_imports')
    op.drop_table('watchlist_clearances')
