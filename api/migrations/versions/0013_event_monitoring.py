"""event monitoring: a partial index of the risk events the monitoring rules have not handled

Revision ID: 0013_event_monitoring
Revises: 0012_name_screening
Create Date: 2026-12-06 06:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_event_monitoring'
down_revision = '0012_name_screening'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('risk_events', schema=None) as batch_op:
        batch_op.create_index('ix_risk_events_unhandled', ['id'], unique=False,
                              postgresql_where=sa.text('outcome IS NULL'),
                              sqlite_where=sa.text('outcome IS NULL'))


def downgrade():
    with op.batch_alter_table('risk_events', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_events_unhandled',
                            postgresql_where=sa.text('outcome IS NULL'),
                            sqlite_where=sa.text('outcome IS NULL'))
