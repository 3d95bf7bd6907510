"""inbox index: open cases per (definition, version, state) in due-time order

Revision ID: 0008_inbox_state_due
Revises: 0007_login_failures
Create Date: 2026-11-30 12:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_inbox_state_due'
down_revision = '0007_login_failures'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_instances_open_state_due',
                              ['definition', 'definition_version', 'state', 'sla_due_at', 'id'],
                              unique=False, postgresql_where=sa.text('is_open'),
                              sqlite_where=sa.text('is_open'))


def downgrade():
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_instances_open_state_due',
                            postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'))
