"""alerts, alert owners and the nightly digest record

Revision ID: 0004_alerts
Revises: 0006_watchlist
Create Date: 2026-11-23 14:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004_alerts'
down_revision = '0006_watchlist'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('alerts',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('instance_id', BIG_ID, nullable=True),
    sa.Column('client_id', BIG_ID, nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('raised_by', sa.String(length=96), nullable=False),
    sa.Column('breaches', sa.Integer(), nullable=False),
    sa.Column('last_breached_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_alerts_instance_id')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_alerts_source_external_id'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_breached_at', ['last_breached_at'], unique=False)
        batch_op.create_index('ix_alerts_client', ['client_id', 'level'], unique=False)
        batch_op.create_index('ix_alerts_created', ['created_at'], unique=False)

    op.create_table('alert_owners',
    sa.Column('alert_id', BIG_ID, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_owners_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('alert_id', 'username', name=op.f('pk_alert_owners'))
    )
    with op.batch_alter_table('alert_owners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_owners_username'), ['username'], unique=False)

    op.create_table('alert_digests',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('covers_from', sa.DateTime(), nullable=False),
    sa.Column('covers_to', sa.DateTime(), nullable=False),
    sa.Column('new_count', sa.Integer(), nullable=False),
    sa.Column('breached_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_digests')),
    sa.UniqueConstraint('username', 'day', name=op.f('uq_alert_digests_username_day'))
    )


def downgrade():
    op.drop_table('alert_digests')
    with op.batch_alter_table('alert_owners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_owners_username'))
    op.drop_table('alert_owners')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_created')
        batch_op.drop_index('ix_alerts_client')
        batch_op.drop_index('ix_alerts_breached_at')
    op.drop_table('alerts')
