"""The review queue: items, decisions (append-only audit) and skips.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("note_id", sa.String(200), nullable=False, unique=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("author_id", sa.String(200)),
        sa.Column("lang", sa.String(8)),
        sa.Column("category", sa.String(64)),
        sa.Column("exposure", sa.BigInteger),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("p_commercial", sa.Float, nullable=False),
        sa.Column("p_model", sa.Float),
        sa.Column("disclosure", sa.JSON, nullable=False),
        sa.Column("signal_effects", sa.JSON, nullable=False),
        sa.Column("signals", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON),
        sa.Column("explain_method", sa.String(32)),
        sa.Column("evidence_model", sa.String(200)),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("claimed_until", UTC),
        sa.Column("picked_by", sa.String(16)),
        sa.Column("created_at", UTC, nullable=False),
    )
    op.create_index("ix_review_items_open", "review_items", ["status", "priority"])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("note_id", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("moderator", sa.String(200), nullable=False),
        sa.Column("decided_at", UTC, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("model_verdict", sa.String(32), nullable=False),
        sa.Column("model_action", sa.String(16), nullable=False),
        sa.Column("model_p", sa.Float, nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("picked_by", sa.String(16)),
        sa.Column("undone_at", UTC),
        sa.Column("undone_by", sa.String(200)),
    )
    op.create_index("ix_review_decisions_item_id", "review_decisions", ["item_id"])
    op.create_index("ix_review_decisions_moderator", "review_decisions", ["moderator", "decided_at"])
    op.create_table(
        "review_skips",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("moderator", sa.String(200), nullable=False),
        sa.Column("skipped_at", UTC, nullable=False),
        sa.UniqueConstraint("item_id", "moderator"),
    )


def downgrade() -> None:
    op.drop_table("review_skips")
    op.drop_index("ix_review_decisions_moderator", "review_decisions")
    op.drop_index("ix_review_decisions_item_id", "review_decisions")
    op.drop_table("review_decisions")
    op.drop_index("ix_review_items_open", "review_items")
    op.drop_table("review_items")
