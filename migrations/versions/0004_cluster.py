"""Cluster-wide state: knowledge changes queued and checked in order, knowledge versions and their models,
leases (one gate at a time), and how far each node's event spool has been shipped.

Revision ID: 0004
Revises: 0003
Created: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("knowledge_changes") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("progress", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch.alter_column("accepted", existing_type=sa.Boolean(), nullable=True)
    # Changes made before this revision were decided inside their request.
    op.execute(
        "UPDATE knowledge_changes SET status = CASE WHEN accepted THEN 'accepted' ELSE 'refused' END, decided_at = at"
    )
    with op.batch_alter_table("knowledge_changes") as batch:
        batch.alter_column("status", existing_type=sa.String(length=16), nullable=False)
        batch.create_index("ix_knowledge_changes_status", ["status"])
    op.create_table(
        "knowledge_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("examples", sa.Text(), nullable=False),
        sa.Column("synonyms", sa.Text(), nullable=False),
        sa.Column("scores", sa.Text(), nullable=True),
        sa.Column("scores_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"], ["knowledge_changes.id"], name=op.f("fk_knowledge_versions_change_id_knowledge_changes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_versions")),
    )
    op.create_table(
        "knowledge_models",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_knowledge_models")),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "event_spool",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("shipped", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_spool")),
    )


def downgrade():
    op.drop_table("event_spool")
    op.drop_table("leases")
    op.drop_table("knowledge_models")
    op.drop_table("knowledge_versions")
    op.execute("DELETE FROM knowledge_changes WHERE status NOT IN ('accepted', 'refused')")
    op.execute("UPDATE knowledge_changes SET accepted = (status = 'accepted')")
    with op.batch_alter_table("knowledge_changes") as batch:
        batch.drop_index("ix_knowledge_changes_status")
        batch.alter_column("accepted", existing_type=sa.Boolean(), nullable=False)
        batch.drop_column("version")
        batch.drop_column("decided_at")
        batch.drop_column("progress")
        batch.drop_column("payload")
        batch.drop_column("status")
