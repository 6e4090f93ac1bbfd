"""Analytics: questions, searches, clicks and votes; notes on knowledge gaps; changes to the bot's data.

Revision ID: 0002
Revises: 0001
Created: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# SQLite numbers rows itself only for INTEGER PRIMARY KEY; elsewhere events may outgrow 32 bits.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "events",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("session", sa.String(length=100), nullable=True),
        sa.Column("text", sa.String(length=2000), nullable=True),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=True),
        sa.Column("clarify", sa.Boolean(), nullable=True),
        sa.Column("choices", sa.String(length=300), nullable=True),
        sa.Column("results", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_kind_at", "events", ["kind", "at"])
    op.create_index("ix_events_session_at", "events", ["session", "at"])
    op.create_index("ix_events_ref", "events", ["ref"])
    op.create_table(
        "gap_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gap_notes")),
    )
    op.create_index("ix_gap_notes_group_id", "gap_notes", ["group_id"])
    op.create_table(
        "knowledge_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_changes")),
    )


def downgrade():
    op.drop_table("knowledge_changes")
    op.drop_table("gap_notes")
    op.drop_table("events")
