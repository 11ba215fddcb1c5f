"""Entity resolution state: per-record prepared values, blocking keys, scored pairs, decisions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from sync.store.schema import Json, Timestamp

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_records",
        sa.Column("rid", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("source_object", sa.String(128), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("features", Json, nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.UniqueConstraint("source_system", "source_object", "source_id", name="uq_match_records_ref"),
    )
    op.create_index("ix_match_records_entity", "match_records", ["entity"])
    op.create_table(
        "match_keys",
        sa.Column("entity", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("rid", sa.Integer, primary_key=True),
    )
    op.create_index("ix_match_keys_rid", "match_keys", ["rid"])
    op.create_table(
        "match_pairs",
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("left_rid", sa.Integer, primary_key=True),
        sa.Column("right_rid", sa.Integer, primary_key=True),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("details", Json),
        sa.Column("run_id", sa.String(36)),
    )
    op.create_index("ix_match_pairs_right", "match_pairs", ["right_rid"])
    op.create_index("ix_match_pairs_entity_decision", "match_pairs", ["entity", "decision"])
    op.create_table(
        "match_constraints",
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("left_ref", sa.String(512), primary_key=True),
        sa.Column("right_ref", sa.String(512), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("run_id", sa.String(36)),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    for table in ("match_constraints", "match_pairs", "match_keys", "match_records"):
        op.drop_table(table)
