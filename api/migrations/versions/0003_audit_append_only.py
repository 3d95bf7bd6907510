"""audit checkpoints; append-only audit tables on PostgreSQL

Revision ID: 0003_audit
Revises: 0002_clients
Create Date: 2026-11-23 14:20:00

On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on the audit
records and the checkpoints. It is an ordinary (origin) trigger, so a session
with ``session_replication_role = replica`` (a superuser's restore or test
clean-up) is not refused; ``riskloop audit verify`` catches anything done that way.
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0003_audit'
down_revision = '0002_clients'
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("audit_records", "audit_checkpoints", "audit_checkpoint_heads")

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION riskloop_refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the % table is append-only: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit records are never changed or removed; append a correcting record instead.';
END
$$
"""


def upgrade():
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('streams', sa.Integer(), nullable=False),
    sa.Column('heads_digest', sa.String(length=64), nullable=False),
    sa.Column('prev_hmac', sa.String(length=64), nullable=False),
    sa.Column('hmac', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_checkpoints_seq'))
    )
    op.create_table('audit_checkpoint_heads',
    sa.Column('checkpoint_seq', sa.Integer(), nullable=False),
    sa.Column('stream', sa.String(length=96), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('hmac', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('checkpoint_seq', 'stream', name=op.f('pk_audit_checkpoint_heads'))
    )
    with op.batch_alter_table('audit_checkpoint_heads', schema=None) as batch_op:
        batch_op.create_index('ix_audit_checkpoint_heads_stream', ['stream', 'checkpoint_seq'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION riskloop_refuse_audit_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION riskloop_refuse_audit_change()")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS riskloop_refuse_audit_change()")
    with op.batch_alter_table('audit_checkpoint_heads', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_checkpoint_heads_stream')

    op.drop_table('audit_checkpoint_heads')
    op.drop_table('audit_checkpoints')
