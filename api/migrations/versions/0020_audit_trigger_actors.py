"""who fired which trigger on a case, from an index alone

Revision ID: 0020_audit_trigger_actors
Revises: 0019_contract_files
Create Date: 2026-12-07 02:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020_audit_trigger_actors'
down_revision = "0019_contract_files"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.create_index(
            'ix_audit_records_stream_trigger',
            ['stream', 'trigger'],
            unique=False,
            postgresql_include=['actor'],
            postgresql_where=sa.text('trigger IS NOT NULL'),
            sqlite_where=sa.text('trigger IS NOT NULL'),
        )


def downgrade():
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_records_stream_trigger')
