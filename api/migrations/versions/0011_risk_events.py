"""risk events, system risk tags and the rating history of the living risk picture

Revision ID: 0011_risk_events
Revises: 0010_notification_codes
Create Date: 2026-12-06 06:12:05.217532

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0011_risk_events'
down_revision = '0010_notification_codes'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table('client_ratings',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('client_id', BIG_ID, nullable=False),
    sa.Column('rating', sa.String(length=1), nullable=False),
    sa.Column('risk_score', sa.Numeric(precision=5, scale=1), nullable=False),
    sa.Column('risk_level', sa.String(length=8), nullable=False),
    sa.Column('credit_limit', sa.Numeric(precision=20, scale=2), nullable=True),
    sa.Column('previous', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rule_set_version', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('change_request_id', BIG_ID, nullable=True),
    sa.Column('rated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_ratings'))
    )
    with op.batch_alter_table('client_ratings', schema=None) as batch_op:
        batch_op.create_index('ix_client_ratings_client_time', ['client_id', 'rated_at'], unique=False)

    op.create_table('client_tags',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('client_id', BIG_ID, nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=96), nullable=False),
    sa.Column('event_id', BIG_ID, nullable=True),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_tags'))
    )
    with op.batch_alter_table('client_tags', schema=None) as batch_op:
        batch_op.create_index('ix_client_tags_client', ['client_id', 'tag'], unique=False)

    op.create_table('risk_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('client_id', BIG_ID, nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('keywords', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=96), nullable=False),
    sa.Column('outcome', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_events')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_risk_events_source_external_id'))
    )
    with op.batch_alter_table('risk_events', schema=None) as batch_op:
        batch_op.create_index('ix_risk_events_client_type_time', ['client_id', 'type', 'occurred_at'], unique=False)
        batch_op.create_index('ix_risk_events_received', ['received_at'], unique=False)



def downgrade():
    with op.batch_alter_table('risk_events', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_events_received')
        batch_op.drop_index('ix_risk_events_client_type_time')

    op.drop_table('risk_events')
    with op.batch_alter_table('client_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_client_tags_client')

    op.drop_table('client_tags')
    with op.batch_alter_table('client_ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_client_ratings_client_time')

    op.drop_table('client_ratings')
