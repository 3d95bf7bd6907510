"""definition migrations: open instances moved to another definition version, and back

Revision ID: 0016_definition_migrations
Revises: 0015_config_versions
Create Date: 2026-12-06 17:00:00.000000

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0016_definition_migrations"
down_revision = "0015_config_versions"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.create_table(
        "definition_migrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition", sa.String(length=64), nullable=False),
        sa.Column("from_versions", JSON, nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("to_hash", sa.String(length=64), nullable=False),
        sa.Column("state_map", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("migrated", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("reverted_by", sa.String(length=64), nullable=True),
        sa.Column("reverted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_migrations")),
    )
    op.create_index(
        "uq_definition_migrations_running",
        "definition_migrations",
        ["definition"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "definition_migration_items",
        sa.Column("migration_id", sa.Integer(), nullable=False),
        sa.Column(
            "instance_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after_version", sa.Integer(), nullable=False),
        sa.Column("from_hash", sa.String(length=64), nullable=False),
        sa.Column("reverted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["migration_id"],
            ["definition_migrations.id"],
            name=op.f("fk_definition_migration_items_migration_id_definition_migrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "migration_id", "instance_id", name=op.f("pk_definition_migration_items")
        ),
    )


def downgrade():
    op.drop_table("definition_migration_items")
    op.drop_index("uq_definition_migrations_running", table_name="definition_migrations")
    op.drop_table("definition_migrations")
