"""evidence files of due-diligence cases (content-addressed by SHA-256)

Revision ID: 0005_evidence
Revises: 0003_audit
Create Date: 2026-11-23 14:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0005_evidence'
down_revision = '0003_audit'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('evidence_files',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('instance_id', BIG_ID, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_files')),
    sa.UniqueConstraint('instance_id', 'sha256', name=op.f('uq_evidence_files_instance_id_sha256'))
    )
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_files_sha256', ['sha256'], unique=False)


def downgrade():
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_files_sha256')

    op.drop_table('evidence_files')
